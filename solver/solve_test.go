package solver

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe"
)

// mlpNet has a hidden layer with dropout (which draws from the net's random
// generator) and a test net with accuracy, both fed by TestSeq.
const mlpNet = `
name: "mlp"
layer { name: "train" type: "TestSeq" top: "data" top: "label" include { phase: TRAIN } memory_data_param { batch_size: 5 } }
layer { name: "test" type: "TestSeq" top: "data" top: "label" include { phase: TEST } memory_data_param { batch_size: 7 } }
layer { name: "ip1" type: "InnerProduct" bottom: "data" top: "ip1"
  inner_product_param { num_output: 8 weight_filler { type: "xavier" } bias_filler { type: "constant" value: 0.01 } } }
layer { name: "relu" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "drop" type: "Dropout" bottom: "ip1" top: "ip1" dropout_param { dropout_ratio: 0.3 } }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2" param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 3 weight_filler { type: "xavier" } } }
layer { name: "acc" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
`

func mlpSources(t *testing.T) {
	setSeqSource(t, "train", randomSource(23, []int{4}, 3, 11))
	setSeqSource(t, "test", randomSource(10, []int{4}, 3, 12))
}

func mlpSolverText(prefix string, maxIter int, extra string) string {
	return fmt.Sprintf(`net_param {%s}
test_iter: 3 test_interval: 4 test_compute_loss: true
base_lr: 0.05 momentum: 0.9 weight_decay: 0.001 lr_policy: "inv" gamma: 0.01 power: 0.75
display: 2 average_loss: 3 max_iter: %d snapshot: 6 snapshot_prefix: %q random_seed: 42
%s`, mlpNet, maxIter, prefix, extra)
}

// TestResumeIsExact stops a run at a snapshot and resumes it in a fresh
// solver; the losses, test results and final weights must equal those of an
// uninterrupted run bit for bit. It covers both ways a run stops: reaching
// max_iter at a snapshot, and a stop request between snapshots.
func TestResumeIsExact(t *testing.T) {
	for _, typ := range []string{"SGD", "Adam"} {
		t.Run(typ, func(t *testing.T) {
			mlpSources(t)
			extra := `type: "` + typ + `"`
			if typ == "Adam" {
				extra += " momentum2: 0.99"
			}
			dir := t.TempDir()
			full := &lossRecorder{}
			a := newSolver(t, mlpSolverText(filepath.Join(dir, "full"), 14, extra), Options{Observers: []Observer{full}})
			solve(t, a)
			if len(full.train) != 14 {
				t.Fatalf("%d train records, want 14", len(full.train))
			}

			// Stopped by max_iter at snapshot 6, then by a stop request at 9.
			part := &lossRecorder{}
			b := newSolver(t, mlpSolverText(filepath.Join(dir, "part"), 6, extra), Options{Observers: []Observer{part}})
			solve(t, b)
			resumed := func(state string, stopAt int) *Solver {
				var self *Solver
				self = newSolver(t, mlpSolverText(filepath.Join(dir, "part"), 14, extra), Options{
					Observers: []Observer{part},
					Action: func() Action {
						if stopAt > 0 && self.Iter() == stopAt {
							return ActionStop
						}
						return ActionNone
					},
				})
				if err := self.Restore(state); err != nil {
					t.Fatal(err)
				}
				return self
			}
			c := resumed(filepath.Join(dir, "part_iter_6.solverstate"), 9)
			solve(t, c)
			if c.Iter() != 9 {
				t.Fatalf("stop request: solver stopped at %d, want 9", c.Iter())
			}
			if _, err := os.Stat(filepath.Join(dir, "part_iter_9.solverstate")); err != nil {
				t.Fatalf("a stop request must snapshot: %v", err)
			}
			d := resumed(filepath.Join(dir, "part_iter_9.solverstate"), 0)
			solve(t, d)

			if len(part.train) != 14 {
				t.Fatalf("%d train records over the three runs, want 14", len(part.train))
			}
			for i := range full.train {
				x, y := full.train[i], part.train[i]
				if x.Iter != y.Iter || math.Float32bits(x.Loss) != math.Float32bits(y.Loss) ||
					math.Float32bits(x.Smoothed) != math.Float32bits(y.Smoothed) || x.LR != y.LR {
					t.Fatalf("iteration %d: uninterrupted %+v, resumed %+v", i, x, y)
				}
			}
			if !equalBits(paramsBits(a), paramsBits(d)) {
				t.Fatal("final weights differ between the uninterrupted and the resumed run")
			}
			for i := range a.History() {
				for j, v := range a.History()[i].Data {
					if math.Float32bits(v) != math.Float32bits(d.History()[i].Data[j]) {
						t.Fatalf("history %d[%d] differs", i, j)
					}
				}
			}
			// Tests at 0, 4, 8, 12 (uninterrupted) and at 0, 4 | 8 | 12
			// (resumed; 6 and 9 are not test iterations).
			if len(full.test) != 4 || len(part.test) != 4 {
				t.Fatalf("%d and %d test results, want 4 each", len(full.test), len(part.test))
			}
			for i := range full.test {
				x, y := full.test[i], part.test[i]
				if x.Iter != y.Iter || len(x.Outputs) != len(y.Outputs) || x.Loss != y.Loss {
					t.Fatalf("test %d: %+v vs %+v", i, x, y)
				}
				for j := range x.Outputs {
					if x.Outputs[j] != y.Outputs[j] {
						t.Fatalf("test %d output %d: %+v vs %+v", i, j, x.Outputs[j], y.Outputs[j])
					}
				}
			}
		})
	}
}

// TestSnapshotFiles checks the snapshot names and contents: a Caffe
// SolverState naming the caffemodel, with the iteration and the history.
func TestSnapshotFiles(t *testing.T) {
	mlpSources(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "mlp")
	log := &logBuffer{}
	s := newSolver(t, mlpSolverText(prefix, 8, `snapshot_diff: true`), Options{Log: log})
	solve(t, s)
	for _, it := range []int{6, 8} {
		base := fmt.Sprintf("%s_iter_%d", prefix, it)
		st, err := caffe.LoadSolverState(base + ".solverstate")
		if err != nil {
			t.Fatal(err)
		}
		if st.GetIter() != int32(it) || st.GetLearnedNet() != base+".caffemodel" || len(st.History) != 4 {
			t.Errorf("%s.solverstate: iter %d, learned_net %q, %d history blobs", base, st.GetIter(), st.GetLearnedNet(), len(st.History))
		}
		w, err := caffe.LoadWeights(base + ".caffemodel")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, l := range w.GetLayer() {
			for _, b := range l.GetBlobs() {
				if len(b.GetDiff()) != len(b.GetData()) {
					t.Errorf("snapshot_diff: layer %s has %d diffs for %d values", l.GetName(), len(b.GetDiff()), len(b.GetData()))
				}
				n++
			}
		}
		if n != 4 {
			t.Errorf("%s.caffemodel has %d blobs, want 4", base, n)
		}
		if _, err := os.Stat(base + ".sparknet"); err != nil {
			t.Error(err)
		}
	}
	// The final snapshot holds the final weights and history.
	st, _ := caffe.LoadSolverState(prefix + "_iter_8.solverstate")
	for i, h := range s.History() {
		for j, v := range h.Data {
			if st.History[i].GetData()[j] != v {
				t.Fatalf("history %d[%d] in the snapshot %g, in the solver %g", i, j, st.History[i].GetData()[j], v)
			}
		}
	}
	for _, want := range []string{
		"Snapshotting to binary proto file " + prefix + "_iter_6.caffemodel",
		"Snapshotting solver state to binary proto file " + prefix + "_iter_6.solverstate",
		"Iteration 4, Testing net (#0)",
		"    Test net output #0: accuracy = ",
		"    Test net output #1: loss = ",
		"    Train net output #0: loss = ",
		"Iteration 2, lr = 0.0492629",
		"Test loss: ",
		"Optimization Done.",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q; log:\n%s", want, log)
		}
	}
}

// TestSnapshotFailureLeavesNoPartialFile makes the solver state impossible
// to write (a directory is in its place) and checks that the snapshot fails
// with an error and leaves no temporary or truncated file behind.
func TestSnapshotFailureLeavesNoPartialFile(t *testing.T) {
	mlpSources(t)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "mlp")
	if err := os.Mkdir(prefix+"_iter_6.solverstate", 0o755); err != nil {
		t.Fatal(err)
	}
	s := newSolver(t, mlpSolverText(prefix, 8, ""), Options{})
	err := s.Solve(context.Background())
	if err == nil || !strings.Contains(err.Error(), "snapshot") {
		t.Fatalf("Solve: %v, want a snapshot error", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "tmp") || strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind %s", e.Name())
		}
	}
	if _, err := caffe.LoadWeights(prefix + "_iter_6.caffemodel"); err != nil {
		t.Errorf("the weights written before the failure must be complete: %v", err)
	}

	// A prefix in a directory that does not exist fails before training.
	s = newSolver(t, mlpSolverText(filepath.Join(dir, "missing", "mlp"), 8, ""), Options{})
	if err := s.Solve(context.Background()); err == nil || !strings.Contains(err.Error(), "snapshot prefix") {
		t.Fatalf("Solve with a bad prefix: %v", err)
	}
	if s.Iter() != 0 {
		t.Errorf("trained %d iterations before failing", s.Iter())
	}
}

// TestNonFiniteLossStops feeds a NaN into the data at iteration 3: the run
// must stop with an error naming the iteration, keep the snapshot of
// iteration 2 and write none after it.
func TestNonFiniteLossStops(t *testing.T) {
	src := randomSource(40, []int{3}, 2, 5)
	// Iteration 3 reads examples 12..15 (batch 4).
	src.data[13*3+1] = float32(math.NaN())
	setSeqSource(t, "seq", src)
	dir := t.TempDir()
	prefix := filepath.Join(dir, "nan")
	s := newSolver(t, fmt.Sprintf(`net_param {%s} base_lr: 0.1 lr_policy: "fixed" max_iter: 10 snapshot: 2 snapshot_prefix: %q random_seed: 1`, tinyNet, prefix), Options{})
	err := s.Solve(context.Background())
	var nf *NonFiniteLossError
	if !errors.As(err, &nf) || nf.Iter != 3 || !strings.Contains(err.Error(), "iteration 3") {
		t.Fatalf("Solve: %v, want a non-finite loss error at iteration 3", err)
	}
	if _, err := os.Stat(prefix + "_iter_2.solverstate"); err != nil {
		t.Errorf("the last good snapshot is gone: %v", err)
	}
	for _, it := range []int{3, 4} {
		if _, err := os.Stat(fmt.Sprintf("%s_iter_%d.caffemodel", prefix, it)); err == nil {
			t.Errorf("a snapshot was written at iteration %d after the NaN", it)
		}
	}
	for _, p := range s.Net().Params() {
		for _, v := range p.Data {
			if math.IsNaN(float64(v)) {
				t.Fatal("the NaN reached the weights")
			}
		}
	}
}

// TestIterSizeEquivalence checks that iter_size 2 with batch b gives the
// same updates as iter_size 1 with batch 2b (up to float rounding).
func TestIterSizeEquivalence(t *testing.T) {
	setSeqSource(t, "seq", randomSource(48, []int{3}, 2, 9))
	run := func(batch, iterSize int) *Solver {
		net := strings.Replace(tinyNet, "batch_size: 4", fmt.Sprintf("batch_size: %d", batch), 1)
		s := newSolver(t, fmt.Sprintf(`net_param {%s} base_lr: 0.1 momentum: 0.9 weight_decay: 0.01 lr_policy: "fixed"
			iter_size: %d max_iter: 6 random_seed: 3`, net, iterSize), Options{})
		if err := s.Step(context.Background(), 6); err != nil {
			t.Fatal(err)
		}
		return s
	}
	a, b := run(8, 1), run(4, 2)
	if a.BatchSize() != 8 || b.BatchSize() != 8 {
		t.Fatalf("batch sizes %d and %d, want 8 and 8", a.BatchSize(), b.BatchSize())
	}
	pa, pb := a.Net().Params(), b.Net().Params()
	for i := range pa {
		for j, v := range pa[i].Data {
			w := pb[i].Data[j]
			if math.Abs(float64(v-w)) > 1e-6*math.Max(1, math.Abs(float64(v))) {
				t.Fatalf("param %d[%d]: batch 8 gives %.8g, iter_size 2 x batch 4 gives %.8g", i, j, v, w)
			}
		}
	}
	// The runs must actually have trained (the same initial weights moved).
	fresh := newSolver(t, fmt.Sprintf(`net_param {%s} base_lr: 0.1 lr_policy: "fixed" max_iter: 1 random_seed: 3`, strings.Replace(tinyNet, "batch_size: 4", "batch_size: 8", 1)), Options{})
	moved := false
	for i, p := range fresh.Net().Params() {
		for j, v := range p.Data {
			if v != pa[i].Data[j] {
				moved = true
			}
		}
	}
	if !moved {
		t.Fatal("training did not change the weights")
	}
	if math.Abs(float64(a.SmoothedLoss()-b.SmoothedLoss())) > 1e-6 {
		t.Errorf("losses differ: %g vs %g", a.SmoothedLoss(), b.SmoothedLoss())
	}
}

// TestSeedReproducible checks that the same random_seed gives the same run
// and a different one a different initialization.
func TestSeedReproducible(t *testing.T) {
	mlpSources(t)
	run := func(seed int64) *Solver {
		s := newSolver(t, mlpSolverText(filepath.Join(t.TempDir(), "s"), 5, "snapshot_after_train: false"), Options{OverrideSeed: true, Seed: seed})
		solve(t, s)
		return s
	}
	if !equalBits(paramsBits(run(1)), paramsBits(run(1))) {
		t.Error("two runs with seed 1 differ")
	}
	if equalBits(paramsBits(run(1)), paramsBits(run(2))) {
		t.Error("seeds 1 and 2 give the same weights")
	}
	// The thread count does not change the bits.
	defer blas.SetThreads(0)
	blas.SetThreads(1)
	one := paramsBits(run(1))
	blas.SetThreads(2)
	if !equalBits(one, paramsBits(run(1))) {
		t.Error("1 and 2 threads give different weights")
	}
}

// TestSeveralTestNets builds two test nets from the generic net, told apart
// by test_state stages, each with its own test_iter, and checks
// test_initialization false.
func TestSeveralTestNets(t *testing.T) {
	setSeqSource(t, "train", randomSource(23, []int{4}, 3, 11))
	setSeqSource(t, "testA", randomSource(10, []int{4}, 3, 12))
	setSeqSource(t, "testB", randomSource(10, []int{4}, 3, 13))
	net := strings.Replace(mlpNet,
		`layer { name: "test" type: "TestSeq" top: "data" top: "label" include { phase: TEST } memory_data_param { batch_size: 7 } }`,
		`layer { name: "testA" type: "TestSeq" top: "data" top: "label" include { phase: TEST stage: "a" } memory_data_param { batch_size: 7 } }
layer { name: "testB" type: "TestSeq" top: "data" top: "label" include { phase: TEST stage: "b" } memory_data_param { batch_size: 7 } }`, 1)
	rec := &lossRecorder{}
	s := newSolver(t, fmt.Sprintf(`net_param {%s}
test_iter: 2 test_iter: 3 test_state { stage: "a" } test_state { stage: "b" }
test_interval: 3 test_initialization: false
base_lr: 0.05 lr_policy: "fixed" max_iter: 6 snapshot_after_train: false random_seed: 1`, net), Options{Observers: []Observer{rec}})
	if len(s.TestNets()) != 2 {
		t.Fatalf("%d test nets, want 2", len(s.TestNets()))
	}
	solve(t, s)
	// Tests at 3 and 6 (not 0), each of both nets.
	var got []string
	for _, r := range rec.test {
		got = append(got, fmt.Sprintf("%d/%d", r.Iter, r.Net))
	}
	if strings.Join(got, " ") != "3/0 3/1 6/0 6/1" {
		t.Fatalf("tests %v, want 3/0 3/1 6/0 6/1", got)
	}
	// Net 0 read 2 batches of 7 twice (28 examples of 10), net 1 3 twice (42).
	for i, want := range []int{28 % 10, 42 % 10} {
		tn := s.TestNets()[i]
		l := tn.Layers()[0].(*seqData)
		if tn.LayerNames()[0] != []string{"testA", "testB"}[i] || l.cursor != want {
			t.Errorf("test net %d: first layer %s at %d, want %s at %d", i, tn.LayerNames()[0], l.cursor, []string{"testA", "testB"}[i], want)
		}
	}
}

// TestSmoothedLoss checks Caffe's displayed loss: the mean of the last
// average_loss iteration losses.
func TestSmoothedLoss(t *testing.T) {
	mlpSources(t)
	rec := &lossRecorder{}
	s := newSolver(t, mlpSolverText(filepath.Join(t.TempDir(), "s"), 9, "snapshot_after_train: false"), Options{Observers: []Observer{rec}})
	solve(t, s)
	for i, r := range rec.train {
		lo := max(0, i-2)
		var sum float64
		for _, x := range rec.train[lo : i+1] {
			sum += float64(x.Loss)
		}
		want := sum / float64(i+1-lo)
		if math.Abs(float64(r.Smoothed)-want) > 1e-6 {
			t.Errorf("iteration %d: smoothed loss %g, mean of the last 3 losses %g", i, r.Smoothed, want)
		}
	}
}

// TestCopyWeights fine-tunes from a snapshot: the weights must be the
// snapshot's, whatever the seed.
func TestCopyWeights(t *testing.T) {
	mlpSources(t)
	dir := t.TempDir()
	a := newSolver(t, mlpSolverText(filepath.Join(dir, "a"), 6, ""), Options{})
	solve(t, a)
	model := filepath.Join(dir, "a_iter_6.caffemodel")
	b := newSolver(t, mlpSolverText(filepath.Join(dir, "b"), 6, ""), Options{OverrideSeed: true, Seed: 99})
	if equalBits(paramsBits(a), paramsBits(b)) {
		t.Fatal("different seeds gave the same initial weights")
	}
	if err := b.CopyWeights(model + "," + model); err != nil {
		t.Fatal(err)
	}
	if !equalBits(paramsBits(a), paramsBits(b)) {
		t.Fatal("CopyWeights did not load the snapshot's weights")
	}
	if err := b.CopyWeights(filepath.Join(dir, "missing.caffemodel")); err == nil {
		t.Fatal("a missing weights file is not an error")
	}
}

// TestSnapshotRequest checks that a snapshot request (SIGHUP's default
// effect) snapshots at the current iteration and training goes on.
func TestSnapshotRequest(t *testing.T) {
	mlpSources(t)
	dir := t.TempDir()
	var s *Solver
	s = newSolver(t, mlpSolverText(filepath.Join(dir, "r"), 5, "snapshot_after_train: false"), Options{
		Action: func() Action {
			if s.Iter() == 3 {
				return ActionSnapshot
			}
			return ActionNone
		},
	})
	solve(t, s)
	if s.Iter() != 5 {
		t.Fatalf("stopped at %d, want 5", s.Iter())
	}
	st, err := caffe.LoadSolverState(filepath.Join(dir, "r_iter_3.solverstate"))
	if err != nil {
		t.Fatal(err)
	}
	if st.GetIter() != 3 {
		t.Errorf("requested snapshot is for iteration %d, want 3", st.GetIter())
	}
}
