package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeMetrics writes a synthetic metrics log the way `sparknet train`
// does: a train record every 10 iterations, a test every 100, accuracy
// rising to about 0.9; it returns the best accuracy and its iteration.
func writeMetrics(t *testing.T, path string, iters int, secPerIt float64, cutLast bool) (best float64, bestIter int) {
	t.Helper()
	var b strings.Builder
	for it := 0; it <= iters; it += 10 {
		wall := float64(it) * secPerIt
		loss := 2.3*math.Exp(-float64(it)/150) + 0.3
		fmt.Fprintf(&b, `{"iter":%d,"wall_s":%g,"lr":0.01,"loss":%g}`+"\n", it, wall, loss)
		if it%100 == 0 {
			acc := math.Round((0.9-0.8*math.Exp(-float64(it)/150))*1e4) / 1e4
			if acc > best {
				best, bestIter = acc, it
			}
			fmt.Fprintf(&b, `{"iter":%d,"wall_s":%g,"test_net":0,"accuracy":%g,"loss":%g}`+"\n", it, wall, acc, loss+0.05)
		}
	}
	if cutLast {
		b.WriteString(`{"iter":99999,"wall_s":1`)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return best, bestIter
}

func TestReportCommandOneRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lenet_run")
	best, bestIter := writeMetrics(t, filepath.Join(dir, "lenet_metrics.jsonl"), 1000, 0.02, true)
	var stdout, stderr bytes.Buffer
	err := runReport(context.Background(), &stdout, &stderr, reportOptions{target: 0.85, paths: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, name := range []string{"loss", "accuracy", "accuracy_time", "loss_time", "lr"} {
		want = append(want, filepath.Join(dir, name+".png"), filepath.Join(dir, name+".svg"))
	}
	want = append(want, filepath.Join(dir, "report.html"))
	if got := strings.Fields(stdout.String()); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("printed\n%s\nwant\n%s", stdout.String(), strings.Join(want, "\n"))
	}
	for _, p := range want {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasSuffix(p, ".png") {
			img, err := png.Decode(bytes.NewReader(data))
			if err != nil || img.Bounds().Dx() < 500 {
				t.Errorf("%s: %v", p, err)
			}
		}
	}
	if !strings.Contains(stderr.String(), "last line cut short") {
		t.Errorf("no warning about the cut last line: %q", stderr.String())
	}
	html, _ := os.ReadFile(filepath.Join(dir, "report.html"))
	for _, s := range []string{
		"lenet_run",
		fmt.Sprintf("<td>%.2f%%</td><td>%d</td>", 100*best, bestIter),
		"<th>time to 85.00%</th>",
		"(last line cut short; left out)",
	} {
		if !bytes.Contains(html, []byte(s)) {
			t.Errorf("report.html lacks %q", s)
		}
	}
	// No temporary files are left.
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(want)+1 {
		t.Errorf("%d files in the run directory, want %d", len(entries), len(want)+1)
	}
}

func TestReportCommandComparesRuns(t *testing.T) {
	root := t.TempDir()
	// Two runs in directories of the same name are told apart by path.
	a := filepath.Join(root, "a", "out")
	b := filepath.Join(root, "b", "out")
	writeMetrics(t, filepath.Join(a, "metrics.jsonl"), 500, 0.02, false)
	writeMetrics(t, filepath.Join(b, "metrics.jsonl"), 800, 0.01, false)
	err := runReport(context.Background(), &bytes.Buffer{}, &bytes.Buffer{}, reportOptions{paths: []string{a, b}})
	if err == nil || !strings.Contains(err.Error(), "-out") {
		t.Errorf("several runs without -out: %v", err)
	}
	out := filepath.Join(root, "cmp")
	var stdout bytes.Buffer
	if err := runReport(context.Background(), &stdout, &bytes.Buffer{}, reportOptions{out: out, paths: []string{a, filepath.Join(b, "metrics.jsonl")}}); err != nil {
		t.Fatal(err)
	}
	html, err := os.ReadFile(filepath.Join(out, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"a/out", "b/out"} {
		if !bytes.Contains(html, []byte("Run "+name)) {
			t.Errorf("report lacks run %s", name)
		}
	}
	svg, err := os.ReadFile(filepath.Join(out, "accuracy.svg"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(svg, []byte(">a/out</text>")) || !bytes.Contains(svg, []byte(">b/out</text>")) {
		t.Error("accuracy plot legend lacks the run names")
	}
}

func TestReportCommandErrors(t *testing.T) {
	ctx := context.Background()
	if err := runReport(ctx, &bytes.Buffer{}, &bytes.Buffer{}, reportOptions{}); !errors.Is(err, errUsage) {
		t.Errorf("no runs: %v, want errUsage", err)
	}
	dir := t.TempDir()
	writeMetrics(t, filepath.Join(dir, "metrics.jsonl"), 100, 0.01, false)
	if err := runReport(ctx, &bytes.Buffer{}, &bytes.Buffer{}, reportOptions{target: 89, paths: []string{dir}}); err == nil || !strings.Contains(err.Error(), "fraction") {
		t.Errorf("-target-accuracy 89: %v", err)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"iter\":1,\"loss\":1}\n{\"iter\":\n{}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := runReport(ctx, &bytes.Buffer{}, &bytes.Buffer{}, reportOptions{paths: []string{bad}})
	if err == nil || !strings.HasPrefix(err.Error(), bad+":2:") {
		t.Errorf("malformed log: %v, want an error at %s:2", err, bad)
	}
	if code := run([]string{"report"}); code != 2 {
		t.Errorf("sparknet report without arguments exits %d, want 2", code)
	}
	if code := run([]string{"report", filepath.Join(dir, "missing")}); code != 1 {
		t.Errorf("sparknet report on a missing path exits %d, want 1", code)
	}
}
