package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparknet/sparknet/solver"
)

func readRecords(t *testing.T, path string) []map[string]any {
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
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestMetricsRecords(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run_metrics.jsonl")
	m, err := OpenMetrics(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	m.OnTrain(solver.TrainRecord{Iter: 0, Wall: 1500 * time.Millisecond, LR: 0.01, Loss: 2.302585, Smoothed: 2.302585})
	m.OnTrain(solver.TrainRecord{Iter: 1, Wall: 2 * time.Second, LR: 0.00999925, Loss: 2.1, Smoothed: 2.2})
	m.OnTest(solver.TestResult{Iter: 2, Net: 1, Wall: 3 * time.Second, Outputs: []solver.Output{
		{Name: "accuracy", Value: 0.8951}, {Name: "loss", Value: 0.325343, LossWeight: 1}, {Name: "prob[1]", Value: 0.5}}})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	rs := readRecords(t, path)
	if len(rs) != 3 {
		t.Fatalf("%d records, want 3", len(rs))
	}
	want := []map[string]any{
		{"iter": 0.0, "wall_s": 1.5, "lr": 0.01, "loss": 2.302585},
		{"iter": 1.0, "wall_s": 2.0, "lr": 0.00999925, "loss": 2.1, "smoothed_loss": 2.2},
		{"iter": 2.0, "wall_s": 3.0, "test_net": 1.0, "accuracy": 0.8951, "loss": 0.325343, "prob[1]": 0.5},
	}
	for i, w := range want {
		if len(rs[i]) != len(w) {
			t.Errorf("record %d: %v, want %v", i, rs[i], w)
		}
		for k, v := range w {
			if rs[i][k] != v {
				t.Errorf("record %d: %s = %v, want %v", i, k, rs[i][k], v)
			}
		}
	}
	// Float32 values are written in their shortest form.
	raw, _ := os.ReadFile(path)
	if !strings.Contains(string(raw), `"accuracy":0.8951,`) {
		t.Errorf("accuracy not written as 0.8951:\n%s", raw)
	}
}

// TestMetricsResume checks that reopening for a resume at iteration N drops
// the records from N on and keeps the earlier ones.
func TestMetricsResume(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.jsonl")
	m, err := OpenMetrics(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		m.OnTrain(solver.TrainRecord{Iter: i, LR: 0.1, Loss: float32(i)})
		if i%4 == 0 {
			m.OnTest(solver.TestResult{Iter: i, Outputs: []solver.Output{{Name: "accuracy", Value: 0.5}}})
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	m, err = OpenMetrics(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	m.OnTrain(solver.TrainRecord{Iter: 5, LR: 0.1, Loss: 50})
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	var iters []float64
	for _, r := range readRecords(t, path) {
		iters = append(iters, r["iter"].(float64))
	}
	want := []float64{0, 0, 1, 2, 3, 4, 4, 5}
	if len(iters) != len(want) {
		t.Fatalf("iterations %v, want %v", iters, want)
	}
	for i := range want {
		if iters[i] != want[i] {
			t.Fatalf("iterations %v, want %v", iters, want)
		}
	}
}

func TestMetricsPath(t *testing.T) {
	if got := MetricsPath("examples/lenet/lenet"); got != "examples/lenet/lenet_metrics.jsonl" {
		t.Errorf("MetricsPath = %q", got)
	}
	if got := MetricsPath(""); got != "metrics.jsonl" {
		t.Errorf("MetricsPath(\"\") = %q", got)
	}
}
