package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCmd runs a sparknet command in-process with fresh flags.
func runCmd(args ...string) int {
	if c, ok := commands[args[0]]; ok {
		c.Flags = nil
	}
	return run(args)
}

// cliNet is a linear classifier on constant (zero) Input data: the bias
// learns the label, so the loss falls; no data files are needed.
const cliNet = `name: "cli"
layer { name: "in" type: "Input" top: "data" top: "label"
  input_param { shape { dim: 4 dim: 3 } shape { dim: 4 } } }
layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
  inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
`

func writeCLIFiles(t *testing.T, maxIter int) (dir, solverPath string) {
	t.Helper()
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "net.prototxt"), []byte(cliNet), 0o644); err != nil {
		t.Fatal(err)
	}
	// The net is named relative to the solver's directory, not the working
	// directory: sparknet finds it there.
	solverPath = filepath.Join(dir, "solver.prototxt")
	text := fmt.Sprintf(`net: "net.prototxt"
test_iter: 2 test_interval: 5
base_lr: 0.5 momentum: 0.9 lr_policy: "fixed" display: 5 max_iter: %d
snapshot: 10 snapshot_prefix: %q random_seed: 5
`, maxIter, filepath.Join(dir, "cli"))
	if err := os.WriteFile(solverPath, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, solverPath
}

func metricsLines(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "wall_s")
		out = append(out, m)
	}
	return out
}

// TestTrainAndTestCommands trains through the CLI, resumes a stopped run,
// and scores the result with `sparknet test`.
func TestTrainAndTestCommands(t *testing.T) {
	dir, solverPath := writeCLIFiles(t, 20)
	if code := runCmd("train", "-solver", solverPath, "-threads", "1"); code != 0 {
		t.Fatalf("train exited %d", code)
	}
	full := metricsLines(t, filepath.Join(dir, "cli_metrics.jsonl"))
	// 20 train records, tests at 0, 5, 10, 15 and 20.
	if len(full) != 25 {
		t.Fatalf("%d metrics records, want 25", len(full))
	}
	for _, f := range []string{"cli_iter_10.caffemodel", "cli_iter_10.solverstate", "cli_iter_10.sparknet", "cli_iter_20.caffemodel", "cli_iter_20.solverstate"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	first, last := full[0], full[len(full)-1]
	if first["test_net"] != 0.0 || last["iter"] != 20.0 || last["accuracy"] == nil {
		t.Errorf("first record %v, last %v", first, last)
	}

	// Resume from iteration 10 into a separate metrics file seeded with the
	// first run's records: the result must be the same records.
	resumed := filepath.Join(dir, "resumed.jsonl")
	raw, _ := os.ReadFile(filepath.Join(dir, "cli_metrics.jsonl"))
	if err := os.WriteFile(resumed, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := runCmd("train", "-solver", solverPath, "-snapshot", filepath.Join(dir, "cli_iter_10.solverstate"), "-metrics", resumed); code != 0 {
		t.Fatalf("resume exited %d", code)
	}
	again := metricsLines(t, resumed)
	if fmt.Sprint(again) != fmt.Sprint(full) {
		t.Errorf("resumed metrics differ:\n%v\nvs\n%v", again, full)
	}

	var out bytes.Buffer
	testStdout = &out
	defer func() { testStdout = os.Stdout }()
	if code := runCmd("test", "-model", filepath.Join(dir, "net.prototxt"), "-weights", filepath.Join(dir, "cli_iter_20.caffemodel"), "-iterations", "3"); code != 0 {
		t.Fatalf("test exited %d", code)
	}
	re := regexp.MustCompile(`^Loss: (\S+)\naccuracy = 1\nloss = (\S+) \(\* 1 = (\S+) loss\)\n$`)
	m := re.FindStringSubmatch(out.String())
	if m == nil || m[1] != m[2] || m[2] != m[3] {
		t.Fatalf("test printed %q; want Caffe's summary lines with accuracy 1", out.String())
	}
}

func TestTrainUsageErrors(t *testing.T) {
	_, solverPath := writeCLIFiles(t, 1)
	cases := [][]string{
		{"train"},
		{"train", "-solver", solverPath, "-weights", "a.caffemodel", "-snapshot", "b.solverstate"},
		{"test", "-model", "m.prototxt"},
	}
	for _, args := range cases {
		if code := runCmd(args...); code != 2 {
			t.Errorf("%s: exit %d, want 2 (usage)", strings.Join(args, " "), code)
		}
	}
	if code := runCmd("train", "-solver", solverPath, "-sigint_effect", "explode"); code != 1 {
		t.Errorf("bad -sigint_effect: exit %d, want 1", code)
	}
	if code := runCmd("train", "-solver", filepath.Join(t.TempDir(), "missing.prototxt")); code != 1 {
		t.Errorf("missing solver: exit %d, want 1", code)
	}
}
