package study

import (
	"bytes"
	"context"
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/parallel/internal/fixture"
)

func TestStudy(t *testing.T) {
	data := fixture.Data(t)
	defer os.RemoveAll(data)
	f := fixture.New(t, data, "")
	var log bytes.Buffer
	res, err := Do(context.Background(), Config{
		Solver:    f.Solver(t, 60, ""),
		Workers:   []int{1, 2, 4},
		Taus:      []int{1, 5},
		Latencies: []float64{0, 10},
		// Latency in baseline iterations.
		LatencyUnit:  "iter",
		Outers:       []string{"avg", "nesterov"},
		OuterMinTau:  5,
		Target:       0.7,
		TestInterval: 5,
		Threads:      1,
		Log:          &log,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The baseline, 6 avg runs (one of which is the baseline) and 3
	// nesterov runs at tau 5.
	if len(res.Runs) != 9 {
		t.Fatalf("%d runs, want 9:\n%s", len(res.Runs), log.String())
	}
	base := res.Baseline()
	if base.Workers != 1 || base.Tau != 1 || !base.Reached {
		t.Fatalf("baseline %+v did not reach the target", base)
	}
	if res.IterTime <= 0 && runtime.GOOS == "linux" {
		t.Fatalf("iteration CPU time %v", res.IterTime)
	}
	if s := res.Speedup(base, 0); s != 1 {
		t.Errorf("baseline speedup %v", s)
	}
	// K=1 does not communicate: its time does not depend on the latency.
	k1 := res.Find(1, 5, "avg")
	t0, _, _, ok0 := res.TimeToTarget(k1, 0)
	t1, _, _, ok1 := res.TimeToTarget(k1, res.LatencySeconds(1))
	if !ok0 || !ok1 || t0 != t1 {
		t.Errorf("K=1 tau=5: time %v at S=0, %v at S=10 iterations", t0, t1)
	}
	// With K=2, tau=1 each round pays the latency: the virtual time is the
	// compute plus rounds x S.
	k2 := res.Find(2, 1, "avg")
	if !k2.Reached {
		t.Fatal("K=2 tau=1 did not reach the target")
	}
	s := res.LatencySeconds(1)
	ta, _, rounds, _ := res.TimeToTarget(k2, 0)
	tb, _, _, _ := res.TimeToTarget(k2, s)
	if math.Abs(tb-ta-float64(rounds)*s) > 1e-9*tb {
		t.Errorf("K=2 tau=1: %v at S=0, %v at S=%v after %d rounds", ta, tb, s, rounds)
	}
	// Rounds and tests line up: the test that reached the target ran after
	// a round that ended on its iteration.
	for _, run := range res.Runs {
		for _, x := range run.Tests {
			if x.Rounds > 0 && run.Rounds[x.Rounds-1].Iter != x.Iter {
				t.Fatalf("K=%d tau=%d: test at %d after round %d ending at %d", run.Workers, run.Tau, x.Iter, x.Rounds, run.Rounds[x.Rounds-1].Iter)
			}
		}
	}

	out := t.TempDir()
	if err := res.Save(out); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"speedup.csv", "curves.csv", "index.html", "speedup_avg_S=0iter.png", "speedup_avg_S=10iter.svg",
		"speedup_nesterov_S=10iter.png", "accuracy_time_S=10iter.png", "rounds_to_target.png"} {
		if st, err := os.Stat(filepath.Join(out, name)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Loaded back, the results give the same times and speedups on both
	// clocks.
	back, err := Load(out, Config{Target: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Runs) != len(res.Runs) || math.Abs(back.IterTime-res.IterTime) > 1e-9*res.IterTime {
		t.Fatalf("loaded %d runs, iteration time %v; saved %d, %v", len(back.Runs), back.IterTime, len(res.Runs), res.IterTime)
	}
	for _, model := range []bool{false, true} {
		res.Model, back.Model = model, model
		for i, run := range res.Runs {
			for li := range res.Config.Latencies {
				s := res.LatencySeconds(li)
				a, ia, ra, oka := res.TimeToTarget(run, s)
				b, ib, rb, okb := back.TimeToTarget(back.Runs[i], back.LatencySeconds(li))
				if oka != okb || ia != ib || ra != rb || oka && math.Abs(a-b) > 1e-6*a {
					t.Fatalf("model=%v run %d latency %d: loaded %v %d %d %v, saved %v %d %d %v", model, i, li, b, ib, rb, okb, a, ia, ra, oka)
				}
			}
		}
	}
	res.Model = false
	if err := back.Save(filepath.Join(out, "again")); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(out, "speedup.csv"))
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+9*2 {
		t.Errorf("speedup.csv has %d rows, want a header and 18", len(rows))
	}
	if rows[1][0] != "avg" || rows[1][1] != "1" || rows[1][2] != "1" || rows[1][10] != "1" {
		t.Errorf("first row %v is not the baseline with speedup 1", rows[1])
	}
	var compute float64
	for _, rd := range base.Rounds {
		compute += rd.Compute
	}
	if v, err := strconv.ParseFloat(rows[1][13], 64); err != nil || math.Abs(v-compute/float64(base.lastIter())) > 1e-5*v {
		t.Errorf("baseline compute per iteration %q, want %v", rows[1][13], compute/float64(base.lastIter()))
	}
	// On the modelled clock every worker iteration costs IterTime: K=2,
	// tau=1 at S=0 is faster than the baseline by the ratio of iterations.
	_, baseIters, _, _ := res.TimeToTarget(base, 0)
	_, k2Iters, _, _ := res.TimeToTarget(k2, 0)
	for _, row := range rows[1:] {
		if row[0] == "avg" && row[1] == "2" && row[2] == "1" && row[3] == "0" {
			v, err := strconv.ParseFloat(row[12], 64)
			if want := float64(baseIters) / float64(k2Iters); err != nil || math.Abs(v-want) > 1e-5*want {
				t.Errorf("K=2 tau=1 modelled speedup %q, want %v", row[12], want)
			}
		}
	}
}

// data0 is a solver that is never run.
func data0(t *testing.T) *pb.SolverParameter {
	p, err := caffe.ParseSolver("s", []byte(`net: "none" base_lr: 0.1 lr_policy: "fixed"`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Workers: []int{1}, Taus: []int{1}, Target: 0.5},
		{Solver: nil},
		{Solver: data0(t), Workers: []int{1}, Taus: []int{1}, Target: 0.5, Compute: "cpu", Threads: 2},
	} {
		if _, err := Do(context.Background(), c); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
}
