package parallel_test

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/engine/local"
	"github.com/sparknet/sparknet/parallel"
	"github.com/sparknet/sparknet/solver"
)

// TestOneWorkerIsPlainTraining: -workers 1 -tau 1 is plain training bit
// for bit: the same weights, the same losses and learning rates at every
// iteration, the same test results, the same snapshots.
func TestOneWorkerIsPlainTraining(t *testing.T) {
	f := newFixture(t, "")
	param := f.solver(t, 30, "snapshot: 20")
	plainRec := &recorder{}
	s, err := solver.New(param, solver.Options{Observers: []solver.Observer{plainRec}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Solve(context.Background()); err != nil {
		t.Fatal(err)
	}
	plainModel, err := os.ReadFile(filepath.Join(f.dir, "snap_iter_20.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	layout := parallel.LayoutOf(s.Net())
	plain := make([]float32, layout.Len())
	layout.Gather(plain, s.Net().Params())

	g := newFixture(t, "")
	res, rec := train(t, parallel.Config{Solver: g.solver(t, 30, "snapshot: 20"), Workers: 1, Tau: 1}, local.Options{Threads: 2})
	if j := sameBits(plain, res.Weights); j >= 0 {
		t.Fatalf("weights differ from plain training at %d", j)
	}
	if len(rec.train) != len(plainRec.train) {
		t.Fatalf("%d train records, plain training has %d", len(rec.train), len(plainRec.train))
	}
	for i, p := range plainRec.train {
		r := rec.train[i]
		if r.Iter != p.Iter || r.Loss != p.Loss || r.Smoothed != p.Smoothed || r.LR != p.LR || r.Images != p.Images {
			t.Fatalf("iteration %d: parallel %+v, plain %+v", i, r, p)
		}
	}
	if len(rec.test) != len(plainRec.test) || len(rec.test) != 4 {
		t.Fatalf("%d tests, plain training has %d (want 4: at 0, 10, 20, 30)", len(rec.test), len(plainRec.test))
	}
	for i, p := range plainRec.test {
		r := rec.test[i]
		if r.Iter != p.Iter || len(r.Outputs) != len(p.Outputs) {
			t.Fatalf("test %d: parallel %+v, plain %+v", i, r, p)
		}
		for k := range p.Outputs {
			if r.Outputs[k] != p.Outputs[k] {
				t.Fatalf("test %d output %d: parallel %+v, plain %+v", i, k, r.Outputs[k], p.Outputs[k])
			}
		}
	}
	model, err := os.ReadFile(filepath.Join(g.dir, "snap_iter_20.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(model, plainModel) {
		t.Error("the snapshot at iteration 20 differs from plain training's")
	}
}

// TestReproducible: a seeded K=4 run gives the same bits again, with
// concurrent or sequential workers and with any thread count.
func TestReproducible(t *testing.T) {
	f := newFixture(t, "")
	cfg := parallel.Config{Solver: f.solver(t, 24, ""), Workers: 4, Tau: 3}
	ref, refRec := train(t, cfg, local.Options{Threads: 2})
	for _, opt := range []local.Options{{Threads: 2}, {Threads: 1}, {Threads: 3}, {Threads: 2, Sequential: true}} {
		res, rec := train(t, cfg, opt)
		if j := sameBits(ref.Weights, res.Weights); j >= 0 {
			t.Fatalf("%+v: weights differ at %d", opt, j)
		}
		for i := range refRec.train {
			if rec.train[i].Loss != refRec.train[i].Loss {
				t.Fatalf("%+v: round %d loss %v, first run %v", opt, i, rec.train[i].Loss, refRec.train[i].Loss)
			}
		}
	}
	if a := accuracy(t, ref); a < 0.5 {
		t.Errorf("K=4 accuracy %v after 24 iterations; the fixture is learnable to > 0.5", a)
	}
	// A different seed gives different weights (the seed is used).
	other := cfg
	other.OverrideSeed, other.Seed = true, 8
	res, _ := train(t, other, local.Options{Threads: 2})
	if sameBits(ref.Weights, res.Weights) < 0 {
		t.Error("seed 8 gave the same weights as seed 7")
	}
}

// wireEngine is an engine that does what a remote engine does: its workers
// keep their own copy of the previous round's weights and apply the round's
// update to it (or take the weights whole), and every worker's delta is
// encoded, decoded and added to the combiner, in a different random order
// every round. Its results must equal the local engine's bit for bit.
type wireEngine struct {
	*local.Engine
	r       *rand.Rand
	bytes   int64
	layout  parallel.Layout
	replica []float32
	updates int // rounds that sent an update
}

func (e *wireEngine) Start(ctx context.Context, job parallel.Job) error {
	e.layout = job.Layout
	return e.Engine.Start(ctx, job)
}

func (e *wireEngine) Round(ctx context.Context, spec parallel.RoundSpec, g parallel.Global, comb *parallel.Combiner) ([]parallel.Outcome, error) {
	if g.Update != nil {
		if e.replica == nil {
			return nil, errors.New("an update before any weights")
		}
		if err := g.Update.Check(e.layout); err != nil {
			return nil, err
		}
		g.Update.Apply(e.layout, e.replica)
		e.updates++
	} else {
		e.replica = append(e.replica[:0], g.Weights...)
	}
	if j := sameBits(e.replica, g.Weights); j >= 0 {
		return nil, fmt.Errorf("round %d: the workers' weights differ from the driver's at %d", spec.Round, j)
	}
	g.Weights = e.replica
	ws := e.Workers()
	outs := make([]parallel.Outcome, len(ws))
	msgs := make([][]byte, len(ws))
	for i, w := range ws {
		outs[i].Partition = i
		d, err := w.RunRound(ctx, g, spec)
		if err != nil {
			outs[i].Err = err
			continue
		}
		if msgs[i], err = d.MarshalBinary(); err != nil {
			return nil, err
		}
	}
	for _, i := range e.r.Perm(len(ws)) {
		if msgs[i] == nil {
			continue
		}
		e.bytes += int64(len(msgs[i]))
		d, err := parallel.Decode(msgs[i], comb.Expect())
		if err == nil {
			err = comb.Add(d)
		}
		outs[i].Err = err
	}
	return outs, nil
}

func TestWireEngineMatchesLocal(t *testing.T) {
	for _, c := range []struct {
		codec    parallel.Codec
		momentum parallel.MomentumMode
		outer    string
	}{
		{parallel.CodecNone, parallel.MomentumLocal, "avg"},
		{parallel.CodecInt8, parallel.MomentumLocal, "avg"},
		{parallel.CodecInt8, parallel.MomentumAverage, "nesterov"},
		{parallel.CodecBF16, parallel.MomentumReset, "avg"},
		{parallel.CodecFP16, parallel.MomentumLocal, "nesterov"},
	} {
		f := newFixture(t, "")
		cfg := parallel.Config{Solver: f.solver(t, 12, ""), Workers: 3, Tau: 2, Codec: c.codec, Momentum: c.momentum,
			Outer: parallel.OuterConfig{Kind: c.outer}}
		ref, refRec := train(t, cfg, local.Options{Threads: 2})
		w := &wireEngine{Engine: local.New(local.Options{Threads: 2}), r: rand.New(rand.NewPCG(1, 2))}
		res, err := parallel.Train(context.Background(), cfg, w)
		if err != nil {
			t.Fatal(err)
		}
		if j := sameBits(ref.Weights, res.Weights); j >= 0 {
			t.Fatalf("%s/%s/%s: weights through the wire differ from the local engine's at %d", c.codec, c.momentum, c.outer, j)
		}
		if w.bytes != res.BytesUp || res.BytesUp != ref.BytesUp {
			t.Errorf("%s: %d bytes on the wire, reported %d (local %d)", c.codec, w.bytes, res.BytesUp, ref.BytesUp)
		}
		// Lossy codecs send updates after the first round; none never.
		if want := map[bool]int{true: res.Rounds - 1, false: 0}[c.codec.Lossy()]; w.updates != want {
			t.Errorf("%s: %d of %d rounds sent an update, want %d", c.codec, w.updates, res.Rounds, want)
		}
		if len(refRec.test) == 0 {
			t.Fatal("no tests")
		}
	}
}

// TestCompression: the lossy codecs train about as well and send a
// fraction of the bytes both ways: the deltas up, and down, after the first
// round's weights, the update of the workers' replica.
func TestCompression(t *testing.T) {
	f := newFixture(t, "")
	var reps []parallel.RoundReport
	base := parallel.Config{Solver: f.solver(t, 40, ""), Workers: 2, Tau: 4,
		OnRound: func(r parallel.RoundReport) { reps = append(reps, r) }}
	none, _ := train(t, base, local.Options{Threads: 2})
	noneReps := reps
	n, blobs := none.Layout.Len(), none.Layout.Blobs()
	for _, c := range []parallel.Codec{parallel.CodecFP16, parallel.CodecBF16, parallel.CodecInt8} {
		cfg := base
		cfg.Codec = c
		reps = nil
		res, _ := train(t, cfg, local.Options{Threads: 2})
		ratio := float64(res.BytesUp) / float64(none.BytesUp)
		want := map[parallel.Codec]float64{parallel.CodecFP16: 0.5, parallel.CodecBF16: 0.5, parallel.CodecInt8: 0.25}[c]
		if ratio > want+0.15 || ratio < want-0.05 {
			t.Errorf("%s: %.3f of the uncompressed bytes up, want about %.2f", c, ratio, want)
		}
		if len(reps) != len(noneReps) || len(reps) < 2 {
			t.Fatalf("%s: %d rounds, uncompressed %d", c, len(reps), len(noneReps))
		}
		// The first round sends the weights whole, the others the update.
		if got, want := reps[0].BytesDown, int64(2*4*n); got != want {
			t.Errorf("%s: first round %d bytes down, want %d (the weights, twice)", c, got, want)
		}
		for _, r := range reps[1:] {
			if got, want := r.BytesDown, int64(2*c.PayloadBytes(n, blobs)); got != want {
				t.Fatalf("%s: round %d: %d bytes down, want %d (the update, twice)", c, r.Round, got, want)
			}
		}
		// After the first round: what a round moves, down and up.
		var all, allNone int64
		for i := 1; i < len(reps); i++ {
			all += reps[i].BytesDown + reps[i].BytesUp
			allNone += noneReps[i].BytesDown + noneReps[i].BytesUp
		}
		if lim := map[parallel.Codec]float64{parallel.CodecFP16: 0.55, parallel.CodecBF16: 0.55, parallel.CodecInt8: 0.3}[c]; float64(all)/float64(allNone) > lim {
			t.Errorf("%s: a round moves %.3f of the uncompressed bytes, want at most %.2f", c, float64(all)/float64(allNone), lim)
		}
		if a, b := accuracy(t, res), accuracy(t, none); a < b-0.1 {
			t.Errorf("%s: accuracy %v, uncompressed %v", c, a, b)
		}
	}
}

// TestFaultsLeftOutAndRejoin: workers that panic mid-round are left out of
// that round, logged, and combined again in the next; the run finishes, and
// a fault-injected run is itself reproducible.
func TestFaultsLeftOutAndRejoin(t *testing.T) {
	f := newFixture(t, "")
	var log bytes.Buffer
	var reps []parallel.RoundReport
	cfg := parallel.Config{Solver: f.solver(t, 40, ""), Workers: 3, Tau: 2, FaultRate: 0.5, FaultSeed: 3,
		Log: &log, OnRound: func(r parallel.RoundReport) { reps = append(reps, r) }}
	res, _ := train(t, cfg, local.Options{Threads: 2})
	faulty := 0
	for i, r := range reps {
		if len(r.Failed) == 0 {
			if r.Combined != 3 {
				t.Errorf("round %d: %d combined, no failures", i, r.Combined)
			}
			continue
		}
		faulty++
		o := r.Failed[0]
		var pe *parallel.PanicError
		if !errors.As(o.Err, &pe) || !strings.Contains(pe.Error(), "injected fault") {
			t.Errorf("round %d: failure %v, want an injected panic", i, o.Err)
		}
		if r.Combined != 2 {
			t.Errorf("round %d: %d combined with one failure", i, r.Combined)
		}
		// The next round has the failed worker back (unless it fails again).
		if i+1 < len(reps) {
			back := true
			for _, o2 := range reps[i+1].Failed {
				if o2.Partition == o.Partition {
					back = false
				}
			}
			if back && reps[i+1].Combined < 2 {
				t.Errorf("round %d: worker %d did not rejoin", i+1, o.Partition)
			}
		}
	}
	if faulty < 4 || faulty > 16 || res.Failures != faulty {
		t.Errorf("%d faulty rounds of %d (failures %d) at rate 0.5", faulty, len(reps), res.Failures)
	}
	if !strings.Contains(log.String(), "left out") || !strings.Contains(log.String(), "injected fault") {
		t.Errorf("failures not logged:\n%s", log.String())
	}
	again, _ := train(t, cfg, local.Options{Threads: 1})
	if j := sameBits(res.Weights, again.Weights); j >= 0 {
		t.Errorf("a fault-injected run is not reproducible (differs at %d)", j)
	}
	if a := accuracy(t, res); a < 0.5 {
		t.Errorf("accuracy %v with faults", a)
	}
}

func TestQuorum(t *testing.T) {
	f := newFixture(t, "")
	cfg := parallel.Config{Solver: f.solver(t, 10, ""), Workers: 2, Tau: 2, Quorum: 2, FaultRate: 1}
	_, err := parallel.Train(context.Background(), cfg, local.New(local.Options{Threads: 2}))
	if err == nil || !strings.Contains(err.Error(), "quorum of 2") || !strings.Contains(err.Error(), "injected fault") {
		t.Fatalf("error %v, want one naming the quorum and the fault", err)
	}
}

// TestRoundDeadline: a straggler that misses the deadline is left out of
// every round; the others carry on.
func TestRoundDeadline(t *testing.T) {
	f := newFixture(t, sleepLayer)
	straggler.Store(1)
	stragglerD.Store(int64(100 * time.Millisecond))
	defer straggler.Store(-1)
	var reps []parallel.RoundReport
	cfg := parallel.Config{Solver: f.solver(t, 8, ""), Workers: 3, Tau: 4, Quorum: 2, RoundDeadline: 200 * time.Millisecond,
		OnRound: func(r parallel.RoundReport) { reps = append(reps, r) }}
	start := time.Now()
	train(t, cfg, local.Options{Threads: 2})
	if len(reps) != 2 {
		t.Fatalf("%d rounds, want 2", len(reps))
	}
	for i, r := range reps {
		if r.Combined != 2 || len(r.Failed) != 1 || r.Failed[0].Partition != 1 {
			t.Fatalf("round %d: %d combined, failed %+v; want partition 1 left out", i, r.Combined, r.Failed)
		}
		var to *parallel.RoundTimeout
		if !errors.As(r.Failed[0].Err, &to) || !errors.Is(r.Failed[0].Err, context.DeadlineExceeded) {
			t.Errorf("round %d: failure %v, want a RoundTimeout", i, r.Failed[0].Err)
		}
	}
	// The straggler stops at its next iteration once the deadline passes.
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("two rounds with a 200ms deadline took %v", el)
	}
}

// TestResumeExact: a run resumed from its checkpoint ends with the same
// weights as the uninterrupted run, with every kind of per-worker and
// outer state in play.
func TestResumeExact(t *testing.T) {
	for _, c := range []struct {
		codec    parallel.Codec
		momentum parallel.MomentumMode
		outer    string
	}{
		{parallel.CodecNone, parallel.MomentumLocal, "avg"},
		{parallel.CodecInt8, parallel.MomentumLocal, "avg"},
		{parallel.CodecInt8, parallel.MomentumAverage, "nesterov"},
	} {
		f := newFixture(t, "")
		// test_iter 3 x 16 images does not cover the 64 test images: the
		// test nets' positions matter.
		cfg := parallel.Config{Solver: partialTests(f.solver(t, 24, "snapshot: 10")), Workers: 3, Tau: 2, Codec: c.codec, Momentum: c.momentum,
			Outer: parallel.OuterConfig{Kind: c.outer}, FaultRate: 0.3, FaultSeed: 5}
		full, fullRec := train(t, cfg, local.Options{Threads: 2})

		g := newFixture(t, "")
		resumed := cfg
		resumed.Solver = partialTests(g.solver(t, 24, "snapshot: 10"))
		resumed.Resume = filepath.Join(f.dir, "snap_iter_10.solverstate")
		res, rec := train(t, resumed, local.Options{Threads: 1})
		if j := sameBits(full.Weights, res.Weights); j >= 0 {
			t.Fatalf("%s/%s/%s: resumed weights differ at %d", c.codec, c.momentum, c.outer, j)
		}
		if res.Iter != 24 || res.Rounds != 7 {
			t.Errorf("resumed run: iteration %d after %d rounds, want 24 after 7", res.Iter, res.Rounds)
		}
		// The resumed run's records are the uninterrupted run's from
		// iteration 10 on.
		tail := fullRec.train[len(fullRec.train)-len(rec.train):]
		for i := range tail {
			if tail[i].Loss != rec.train[i].Loss || tail[i].Iter != rec.train[i].Iter {
				t.Fatalf("record %d: resumed %+v, uninterrupted %+v", i, rec.train[i], tail[i])
			}
		}
		// And so are its tests (the test after the checkpoint included).
		if len(rec.test) == 0 {
			t.Fatal("the resumed run did not test")
		}
		testTail := fullRec.test[len(fullRec.test)-len(rec.test):]
		for i := range testTail {
			a, b := testTail[i], rec.test[i]
			if a.Iter != b.Iter || a.Outputs[0] != b.Outputs[0] || a.Outputs[1] != b.Outputs[1] {
				t.Fatalf("test %d: resumed %+v, uninterrupted %+v", i, b, a)
			}
		}
		info, err := parallel.ReadRunStateInfo(filepath.Join(g.dir, "snap_iter_24.solverstate"))
		if err != nil || info.Iter != 24 || info.Workers != 3 || info.Round != 12 {
			t.Errorf("final run state: %+v, %v", info, err)
		}
		// A lossy run's checkpoint holds the workers' replica of the
		// weights, which the next update applies to; without it the
		// resumed run sends the weights whole first, and goes elsewhere.
		archive := filepath.Join(f.dir, "snap_iter_10.parallel")
		if has := zipHas(t, archive, "replica.f32"); has != c.codec.Lossy() {
			t.Fatalf("%s: replica.f32 in the checkpoint: %v", c.codec, has)
		}
		if !c.codec.Lossy() {
			continue
		}
		zipDrop(t, archive, "replica.f32")
		h := newFixture(t, "")
		var log bytes.Buffer
		again := resumed
		again.Solver = partialTests(h.solver(t, 24, "snapshot: 10"))
		again.Log = &log
		res2, _ := train(t, again, local.Options{Threads: 2})
		if !strings.Contains(log.String(), "No broadcast replica") {
			t.Errorf("%s: resuming without the replica is not logged:\n%s", c.codec, log.String())
		}
		if res2.Iter != 24 || sameBits(full.Weights, res2.Weights) < 0 {
			t.Errorf("%s: resumed without the replica: iteration %d, weights the same as with it", c.codec, res2.Iter)
		}
	}
}

// zipHas reports whether the archive has a file name.
func zipHas(t *testing.T, archive, name string) bool {
	t.Helper()
	z, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	for _, f := range z.File {
		if f.Name == name {
			return true
		}
	}
	return false
}

// zipDrop rewrites the archive without the file name.
func zipDrop(t *testing.T, archive, name string) {
	t.Helper()
	z, err := zip.OpenReader(archive)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range z.File {
		if f.Name == name {
			continue
		}
		if err := w.Copy(f); err != nil {
			t.Fatal(err)
		}
	}
	z.Close()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(archive, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// partialTests makes the solver test 3 batches of 16 of the 64 test
// images every 5 iterations.
func partialTests(p *pb.SolverParameter) *pb.SolverParameter {
	p.TestIter = []int32{3}
	p.TestInterval = proto.Int32(5)
	return p
}

// TestResumeFromPlainSnapshot: a parallel run can start from a plain
// solver's snapshot (weights, iteration and history).
func TestResumeFromPlainSnapshot(t *testing.T) {
	f := newFixture(t, "")
	s, err := solver.New(f.solver(t, 10, ""), solver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Solve(context.Background()); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cfg := parallel.Config{Solver: f.solver(t, 20, ""), Workers: 2, Tau: 5, Log: &log,
		Resume: filepath.Join(f.dir, "snap_iter_10.solverstate")}
	res, _ := train(t, cfg, local.Options{Threads: 2})
	if res.Iter != 20 || res.Rounds != 2 {
		t.Errorf("iteration %d after %d rounds, want 20 after 2", res.Iter, res.Rounds)
	}
	if !strings.Contains(log.String(), "No parallel run state") {
		t.Errorf("log does not say where the workers started:\n%s", log.String())
	}
	// Resuming with another number of workers than the checkpoint's is an
	// error.
	cfg.Resume = filepath.Join(f.dir, "snap_iter_20.solverstate")
	cfg.Workers = 3
	if _, err := parallel.Train(context.Background(), cfg, local.New(local.Options{})); err == nil || !strings.Contains(err.Error(), "-workers 2") {
		t.Errorf("resuming 2 workers as 3: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	f := newFixture(t, "")
	p := f.solver(t, 10, "")
	badPrefix := f.solver(t, 10, "")
	badPrefix.SnapshotPrefix = proto.String(filepath.Join(f.dir, "missing", "snap"))
	for _, c := range []struct {
		cfg  parallel.Config
		want string
	}{
		{parallel.Config{Solver: p, Workers: 0, Tau: 1}, "at least one worker"},
		{parallel.Config{Solver: p, Workers: 2, Tau: 0}, "tau"},
		{parallel.Config{Solver: p, Workers: 2, Tau: 1, Quorum: 3}, "quorum"},
		{parallel.Config{Solver: p, Workers: 2, Tau: 1, FaultRate: 2}, "probability"},
		{parallel.Config{Solver: p, Workers: 2, Tau: 1, Outer: parallel.OuterConfig{Kind: "sgd"}}, "outer"},
		{parallel.Config{Solver: badPrefix, Workers: 2, Tau: 1}, "snapshot prefix"},
	} {
		_, err := parallel.Train(context.Background(), c.cfg, local.New(local.Options{}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.cfg, err, c.want)
		}
	}
}

// TestWorkerResetAndState: the driver's Reset list zeroes a worker's
// history; a worker's state restores into a fresh worker of the same
// partition only.
func TestWorkerResetAndState(t *testing.T) {
	f := newFixture(t, "")
	p := f.solver(t, 10, "")
	cfg := parallel.WorkerConfig{Solver: p, Seed: 7, Partition: 1, Partitions: 2}
	w, err := parallel.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l := w.Layout()
	g := make([]float32, l.Len())
	l.Gather(g, w.Solver().Net().Params())
	spec := parallel.RoundSpec{Run: "r", Steps: 3, Partitions: 2, FaultPartition: -1}
	if _, err := w.RunRound(context.Background(), parallel.Global{Weights: g}, spec); err != nil {
		t.Fatal(err)
	}
	historyNorm := func(w *parallel.Worker) float64 {
		var s float64
		for _, h := range w.Solver().History() {
			for _, v := range h.Data {
				s += float64(v) * float64(v)
			}
		}
		return s
	}
	if historyNorm(w) == 0 {
		t.Fatal("no momentum after 3 iterations")
	}
	state, err := w.MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	zero := spec
	zero.Steps, zero.Round, zero.Iter = 0, 1, 3
	if _, err := w.RunRound(context.Background(), parallel.Global{Weights: g}, zero); err != nil || historyNorm(w) == 0 {
		t.Fatalf("a round without reset lost the momentum (%v)", err)
	}
	zero.Reset = []int{0, 1}
	if _, err := w.RunRound(context.Background(), parallel.Global{Weights: g}, zero); err != nil || historyNorm(w) != 0 {
		t.Fatalf("Reset did not zero the momentum (%v)", err)
	}
	// Restore into a fresh worker: the same momentum and data position, so
	// the same next round.
	w2, err := parallel.NewWorker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w2.UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	w3, _ := parallel.NewWorker(cfg)
	w3.UnmarshalState(state)
	next := spec
	next.Round, next.Iter = 1, 3
	d2, err := w2.RunRound(context.Background(), parallel.Global{Weights: g}, next)
	if err != nil {
		t.Fatal(err)
	}
	d3, _ := w3.RunRound(context.Background(), parallel.Global{Weights: g}, next)
	for i := range d2.Weights {
		if j := sameBits(d2.Weights[i], d3.Weights[i]); j >= 0 {
			t.Fatalf("two workers restored from one state differ in blob %d at %d", i, j)
		}
	}
	other, _ := parallel.NewWorker(parallel.WorkerConfig{Solver: p, Seed: 7, Partition: 0, Partitions: 2})
	if err := other.UnmarshalState(state); err == nil || !strings.Contains(err.Error(), "partition 1 of 2") {
		t.Errorf("partition 0 accepted partition 1's state: %v", err)
	}
	corrupt := append([]byte(nil), state...)
	corrupt[len(corrupt)/2] ^= 4
	if err := w2.UnmarshalState(corrupt); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("corrupt state: %v", err)
	}
}

// TestModelledCommunication: each round adds latency + bytes/bandwidth,
// slept or on the virtual clock.
func TestModelledCommunication(t *testing.T) {
	f := newFixture(t, "")
	for _, virtual := range []bool{false, true} {
		var reps []parallel.RoundReport
		cfg := parallel.Config{Solver: f.solver(t, 8, ""), Workers: 2, Tau: 2,
			SyncLatency: 30 * time.Millisecond, SyncBandwidth: 1e9, VirtualClock: virtual,
			OnRound: func(r parallel.RoundReport) { reps = append(reps, r) }}
		start := time.Now()
		res, _ := train(t, cfg, local.Options{Threads: 2})
		elapsed := time.Since(start)
		if len(reps) != 4 {
			t.Fatalf("%d rounds", len(reps))
		}
		for _, r := range reps {
			// K broadcasts of the weights down, K deltas up.
			want := 30*time.Millisecond + time.Duration(float64(r.BytesUp+r.BytesDown)/1e9*float64(time.Second))
			if r.Comm != want || r.BytesDown != 2*int64(4*res.Layout.Len()) || r.BytesUp <= r.BytesDown {
				t.Fatalf("virtual=%v: comm %v for %d up %d down bytes, want %v", virtual, r.Comm, r.BytesUp, r.BytesDown, want)
			}
		}
		if res.Wall < 120*time.Millisecond {
			t.Errorf("virtual=%v: wall %v after 4 rounds of 30ms latency", virtual, res.Wall)
		}
		if !virtual && elapsed < 120*time.Millisecond {
			t.Errorf("slept communication: the run took only %v", elapsed)
		}
	}
}
