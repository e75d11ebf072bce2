package report

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sparknet/sparknet/solver"
)

// synthRun describes a synthetic training run for tests.
type synthRun struct {
	iters    int     // last iteration
	display  int     // train record every display iterations
	test     int     // test record every test iterations
	secPerIt float64 // wall seconds per iteration
	speed    float64 // larger learns faster
}

// accuracyAt is the synthetic run's test accuracy at iteration it: it rises
// to 0.9 and then dips slightly, so best and final differ.
func (s synthRun) accuracyAt(it int) float64 {
	x := float64(it) * s.speed
	acc := 0.9 - 0.8*math.Exp(-x/150)
	if it == s.iters {
		acc -= 0.01
	}
	return math.Round(acc*1e4) / 1e4
}

func (s synthRun) lossAt(it int) float64 {
	return 2.3*math.Exp(-float64(it)*s.speed/200) + 0.3 + 0.05*math.Sin(float64(it))
}

// write writes the run's metrics log as the metrics writer does.
func (s synthRun) write(t testing.TB, path string) {
	t.Helper()
	var b strings.Builder
	for it := 0; it <= s.iters; it += s.display {
		wall := float64(it) * s.secPerIt
		fmt.Fprintf(&b, `{"iter":%d,"wall_s":%g,"lr":%g,"loss":%g}`+"\n", it, wall, 0.01*math.Pow(1+1e-4*float64(it), -0.75), s.lossAt(it))
		if it%s.test == 0 {
			fmt.Fprintf(&b, `{"iter":%d,"wall_s":%g,"test_net":0,"accuracy":%g,"loss":%g}`+"\n", it, wall, s.accuracyAt(it), s.lossAt(it)+0.02)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

var lenetLike = synthRun{iters: 1000, display: 10, test: 100, secPerIt: 0.02, speed: 1}

func TestParseHistory(t *testing.T) {
	const log = `{"run":"header without iter"}

{"iter":0,"wall_s":0.01,"lr":0.01,"loss":2.31,"round":0,"worker":3,"note":"text"}
{"iter":10,"wall_s":0.5,"lr":0.01,"loss":null,"smoothed_loss":1.5}
{"iter":10,"wall_s":0.6,"test_net":0,"accuracy":0.5,"loss":1.2,"round":1}
{"iter":10,"wall_s":0.7,"test_net":1,"accuracy":0.25,"acc[1]":0.75}
{"iter":20,"wall_s":1.0,"test_net":0,"accuracy":0.75,"loss":0.9}
`
	h, err := ParseHistory(strings.NewReader(log), "m.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if h.Truncated {
		t.Error("Truncated set on a complete log")
	}
	if len(h.Train) != 2 {
		t.Fatalf("got %d train records, want 2", len(h.Train))
	}
	p0, p1 := h.Train[0], h.Train[1]
	if p0.Iter != 0 || p0.WallS != 0.01 || p0.LR != 0.01 || p0.Loss != 2.31 {
		t.Errorf("record 0 = %+v", p0)
	}
	if p0.Extra["round"] != 0 || p0.Extra["worker"] != 3 || len(p0.Extra) != 2 {
		t.Errorf("record 0 extra = %v, want round 0, worker 3 (strings dropped)", p0.Extra)
	}
	if p1.Iter != 10 || !math.IsNaN(p1.Loss) || p1.Extra["smoothed_loss"] != 1.5 {
		t.Errorf("record 1 = %+v, want null loss as NaN and smoothed_loss kept", p1)
	}
	var got []string
	for _, s := range h.Tests {
		got = append(got, fmt.Sprintf("%d/%s:%d", s.Net, s.Output, len(s.Points)))
	}
	if want := "0/accuracy:2 0/loss:2 1/acc[1]:1 1/accuracy:1"; strings.Join(got, " ") != want {
		t.Errorf("test series = %q, want %q (round is bookkeeping, not an output)", strings.Join(got, " "), want)
	}
	acc := h.Test(0, "accuracy")
	if acc.Points[1] != (TestPoint{Iter: 20, WallS: 1.0, Value: 0.75}) {
		t.Errorf("accuracy point 1 = %+v", acc.Points[1])
	}
	if h.Accuracy() != acc {
		t.Error("Accuracy() is not test net 0's accuracy")
	}
	if h.LastIter() != 20 || h.Duration() != 1.0 {
		t.Errorf("LastIter, Duration = %d, %g; want 20, 1", h.LastIter(), h.Duration())
	}
}

func TestParseHistoryTruncatedLastLine(t *testing.T) {
	full := "{\"iter\":0,\"wall_s\":0,\"lr\":0.1,\"loss\":2}\n{\"iter\":10,\"wall_s\":1,\"lr\":0.1,\"loss\":1}\n"
	for _, cut := range []string{`{"iter":20,"wall_s":2,"lr":0.1,"lo`, `{"iter":2`, `{`} {
		h, err := ParseHistory(strings.NewReader(full+cut), "m.jsonl")
		if err != nil {
			t.Fatalf("cut %q: %v", cut, err)
		}
		if !h.Truncated || len(h.Train) != 2 || h.Train[1].Loss != 1 {
			t.Errorf("cut %q: Truncated=%v, %d records; want true, 2", cut, h.Truncated, len(h.Train))
		}
	}
	// A complete last record without its newline is kept.
	h, err := ParseHistory(strings.NewReader(full+`{"iter":20,"wall_s":2,"lr":0.1,"loss":0.5}`), "m.jsonl")
	if err != nil || h.Truncated || len(h.Train) != 3 {
		t.Errorf("complete last line without newline: err=%v Truncated=%v records=%d; want nil, false, 3", err, h.Truncated, len(h.Train))
	}
}

func TestParseHistoryErrors(t *testing.T) {
	head := "{\"iter\":0,\"wall_s\":0,\"loss\":2}\n\n"
	for _, tc := range []struct {
		line string
		want string
	}{
		{`{"iter":10,"loss":1,}`, "m.jsonl:3:21: invalid character '}'"},
		{`{"iter":"ten","loss":1}`, `m.jsonl:3: field "iter": want a non-negative integer, got "ten"`},
		{`{"iter":-5,"loss":1}`, `m.jsonl:3: field "iter": want a non-negative integer, got -5`},
		{`{"iter":2.5,"loss":1}`, `m.jsonl:3: field "iter": want a non-negative integer, got 2.5`},
		{`{"iter":10,"loss":"high"}`, `m.jsonl:3: field "loss": want a number, got "high"`},
		{`{"iter":10,"test_net":"a","accuracy":1}`, `m.jsonl:3: field "test_net": want a non-negative integer`},
		{`[1,2]`, `m.jsonl:3: want a JSON object, got array`},
		{`null`, `m.jsonl:3: want a JSON object, got null`},
		// A malformed line followed by a newline is an error even when last.
		{`{"iter":10,"lo`, `m.jsonl:3:`},
	} {
		_, err := ParseHistory(strings.NewReader(head+tc.line+"\n"), "m.jsonl")
		if err == nil {
			t.Errorf("%s: no error", tc.line)
			continue
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, tc.want) || strings.Contains(msg, "\n") {
			t.Errorf("%s: error %q, want one line starting %q", tc.line, msg, tc.want)
		}
		var le *LineError
		if !errors.As(err, &le) || le.Line != 3 || le.File != "m.jsonl" {
			t.Errorf("%s: error %#v is not a *LineError at m.jsonl:3", tc.line, err)
		}
	}
}

func TestNumbersAsStrings(t *testing.T) {
	h, err := ParseHistory(strings.NewReader(`{"iter":1e2,"loss":"NaN","lr":"inf"}`+"\n"), "m")
	if err != nil {
		t.Fatal(err)
	}
	p := h.Train[0]
	if p.Iter != 100 || !math.IsNaN(p.Loss) || !math.IsInf(p.LR, 1) {
		t.Errorf("got %+v, want iter 100, loss NaN, lr +Inf", p)
	}
}

func TestSeriesStatistics(t *testing.T) {
	s := &TestSeries{Points: []TestPoint{
		{Iter: 0, WallS: 0, Value: 0.1}, {Iter: 100, WallS: 2, Value: 0.86},
		{Iter: 200, WallS: 4, Value: math.NaN()}, {Iter: 300, WallS: 6, Value: 0.91},
		{Iter: 400, WallS: 8, Value: 0.91}, {Iter: 500, WallS: 10, Value: 0.9},
		{Iter: 600, WallS: 12, Value: math.NaN()},
	}}
	if best, ok := s.Best(); !ok || best.Iter != 300 {
		t.Errorf("Best = %+v, %v; want the first 0.91, at 300", best, ok)
	}
	if last, ok := s.Last(); !ok || last.Iter != 500 {
		t.Errorf("Last = %+v, %v; want the last finite value, at 500", last, ok)
	}
	if p, ok := s.FirstReaching(0.85); !ok || p.Iter != 100 || p.WallS != 2 {
		t.Errorf("FirstReaching(0.85) = %+v, %v; want iteration 100 at 2 s", p, ok)
	}
	if _, ok := s.FirstReaching(0.95); ok {
		t.Error("FirstReaching(0.95) reached")
	}
	empty := &TestSeries{Points: []TestPoint{{Value: math.NaN()}}}
	if _, ok := empty.Best(); ok {
		t.Error("Best of an all-NaN series is ok")
	}
}

func TestLoadRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lenet-k2")
	lenetLike.write(t, filepath.Join(dir, "lenet_metrics.jsonl"))
	for _, name := range []string{"lenet_iter_500.caffemodel", "lenet_iter_500.solverstate", "lenet_iter_1000.caffemodel", "lenet_solver.prototxt"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "run.json"), []byte(`{"workers":2,"tau":10,"engine":"local","batch_size":64}`), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := LoadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "lenet-k2" || r.MetricsPath != filepath.Join(dir, "lenet_metrics.jsonl") || r.Solver != filepath.Join(dir, "lenet_solver.prototxt") {
		t.Errorf("run = %q %q %q", r.Name, r.MetricsPath, r.Solver)
	}
	if len(r.Snapshots) != 2 || r.Snapshots[0].Iter != 500 || r.Snapshots[0].State == "" || r.Snapshots[1].Iter != 1000 || r.Snapshots[1].State != "" {
		t.Errorf("snapshots = %+v", r.Snapshots)
	}
	if r.Options["engine"] != "local" || r.Options["tau"] != 10.0 {
		t.Errorf("options = %v", r.Options)
	}

	// The metrics file itself names the same run.
	r2, err := LoadRun(r.MetricsPath)
	if err != nil || r2.Name != "lenet-k2" || len(r2.History.Train) != len(r.History.Train) {
		t.Errorf("LoadRun(file): %v, %+v", err, r2)
	}

	s := Summarize(r, 0.85)
	wantBest := lenetLike.accuracyAt(900)
	if s.AccuracyOutput != "accuracy" || s.Best.Value != wantBest || s.Best.Iter != 900 || s.Best.WallS != 900*lenetLike.secPerIt {
		t.Errorf("best = %+v (%q), want %g at 900", s.Best, s.AccuracyOutput, wantBest)
	}
	if s.Final.Iter != 1000 || s.Final.Value != lenetLike.accuracyAt(1000) {
		t.Errorf("final = %+v", s.Final)
	}
	first := 0
	for it := 0; it <= 1000; it += 100 {
		if lenetLike.accuracyAt(it) >= 0.85 {
			first = it
			break
		}
	}
	if !s.Reached || s.TargetAt.Iter != first {
		t.Errorf("target: reached %v at %d, want %d", s.Reached, s.TargetAt.Iter, first)
	}
	if s.Iterations != 1000 || s.TotalS != 20 {
		t.Errorf("iterations, total = %d, %g; want 1000, 20", s.Iterations, s.TotalS)
	}
	if want := 1000.0 * 64 * 2 / 20; math.Abs(s.ImagesPerS-want) > 1e-9 {
		t.Errorf("images/s = %g, want %g", s.ImagesPerS, want)
	}
	if s.FinalLoss != r.History.Train[len(r.History.Train)-1].Loss {
		t.Errorf("final loss = %g", s.FinalLoss)
	}
}

func TestLoadRunErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "no metrics log") {
		t.Errorf("empty dir: %v", err)
	}
	lenetLike.write(t, filepath.Join(dir, "a_metrics.jsonl"))
	lenetLike.write(t, filepath.Join(dir, "b_metrics.jsonl"))
	if _, err := LoadRun(dir); err == nil || !strings.Contains(err.Error(), "a_metrics.jsonl, b_metrics.jsonl") {
		t.Errorf("two logs: %v", err)
	}
	if _, err := LoadRun(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing path: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "run")
	lenetLike.write(t, filepath.Join(bad, "metrics.jsonl"))
	if err := os.WriteFile(filepath.Join(bad, "run.json"), []byte("{oops"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadRun(bad); err == nil || !strings.Contains(err.Error(), "run.json") {
		t.Errorf("bad run.json: %v", err)
	}
}

func TestSmooth(t *testing.T) {
	eq := func(a, b []float64) bool {
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if math.Abs(a[i]-b[i]) > 1e-12 && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
				return false
			}
		}
		return true
	}
	nan := math.NaN()
	for _, tc := range []struct {
		y    []float64
		half int
		want []float64
	}{
		// A straight line stays straight, ends included.
		{[]float64{1, 2, 3, 4, 5, 6}, 2, []float64{1, 2, 3, 4, 5, 6}},
		{[]float64{5, 3, 1, -1}, 3, []float64{5, 3, 1, -1}},
		// Whole windows average; cut windows fit a line: at 0 the line
		// through (0,0),(1,3) gives 0, at 4 the line through (3,3),(4,0).
		{[]float64{0, 3, 0, 3, 0}, 1, []float64{0, 1, 2, 1, 0}},
		// half 2: at 0 the points 0,3,0 have a flat fit, mean 1; at 1 the
		// points 0,3,0,3 fit y = 0.6 + 0.6j, which is 1.2 at 1.
		{[]float64{0, 3, 0, 3, 0}, 2, []float64{1, 1.2, 1.2, 1.2, 1}},
		// NaN is skipped: 3 = mean(2, 4), 5 = mean(4, 6); at 0 only one
		// finite point is left; at 4 the line through 6, 8.
		{[]float64{2, nan, 4, 6, 8}, 1, []float64{2, 3, 5, 6, 8}},
		{[]float64{nan, nan, nan}, 1, []float64{nan, nan, nan}},
		{[]float64{5, 7}, 0, []float64{5, 7}},
	} {
		if got := Smooth(tc.y, tc.half); !eq(got, tc.want) {
			t.Errorf("Smooth(%v, %d) = %v, want %v", tc.y, tc.half, got, tc.want)
		}
	}
}

// The reader reads what the metrics writer writes.
func TestReadsMetricsWriterOutput(t *testing.T) {
	var buf bytes.Buffer
	m := NewMetrics(&buf)
	for it := 0; it < 5; it++ {
		m.OnTrain(solver.TrainRecord{Iter: it, Wall: time.Duration(it) * 100 * time.Millisecond, LR: 0.01, Loss: float32(2 - 0.25*float64(it)), Smoothed: 1.5})
	}
	m.OnTest(solver.TestResult{Iter: 4, Net: 0, Wall: 450 * time.Millisecond, Outputs: []solver.Output{
		{Name: "accuracy", Value: 0.75}, {Name: "loss", Value: 0.5, LossWeight: 1}}, Loss: 0.5, HasLoss: true})
	m.OnTest(solver.TestResult{Iter: 4, Net: 1, Wall: 460 * time.Millisecond, Outputs: []solver.Output{
		{Name: "prob[0]", Value: float32(math.NaN())}}})
	if err := m.Flush(); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHistory(&buf, "metrics.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Train) != 5 {
		t.Fatalf("%d train records, want 5", len(h.Train))
	}
	for it, p := range h.Train {
		if p.Iter != it || math.Abs(p.WallS-float64(it)/10) > 1e-12 || p.LR != 0.01 || p.Loss != 2-0.25*float64(it) {
			t.Errorf("train record %d read as %+v", it, p)
		}
	}
	acc := h.Accuracy()
	if acc == nil || len(acc.Points) != 1 || acc.Points[0] != (TestPoint{Iter: 4, WallS: 0.45, Value: 0.75}) {
		t.Errorf("accuracy read as %+v", acc)
	}
	if l := h.Test(0, "loss"); l == nil || l.Points[0].Value != 0.5 {
		t.Errorf("test loss read as %+v", l)
	}
	if p := h.Test(1, "prob[0]"); p == nil || !math.IsNaN(p.Points[0].Value) {
		t.Errorf("NaN output read as %+v", p)
	}
}
