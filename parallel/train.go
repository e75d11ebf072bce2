package parallel

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/solver"
)

// Config configures a parallel run.
type Config struct {
	// Solver is the upgraded solver definition (caffe.LoadSolver), its
	// batch_size per worker; SolverDir is where relative net file names are
	// looked up (usually the solver file's directory).
	Solver    *pb.SolverParameter
	SolverDir string
	// OverrideSeed makes the run use Seed instead of the solver's
	// random_seed (a negative seed: time-based, as Caffe's -1).
	OverrideSeed bool
	Seed         int64

	// Workers is K, the number of workers and data partitions; Tau the
	// number of local iterations per round.
	Workers, Tau int
	// Outer is the outer optimizer (avg by default).
	Outer OuterConfig
	// Momentum is what happens to the workers' solver history across
	// rounds (MomentumLocal by default).
	Momentum MomentumMode
	// Codec is how workers send their results (CodecNone by default).
	Codec Codec

	// RoundDeadline, when positive, bounds a round's wall time: workers
	// that have not finished by then are left out of the round.
	RoundDeadline time.Duration
	// Quorum is the least number of workers a round must combine; fewer
	// stops the run with an error. Zero means ceil(K/2).
	Quorum int

	// SyncLatency and SyncBandwidth (bytes per second; 0: unlimited) model
	// the communication of a round: latency + bytes/bandwidth, where bytes
	// is the broadcast to K workers plus their deltas. The time is slept
	// (so wall-clock figures show it), or with VirtualClock added to the
	// reported wall time without sleeping.
	SyncLatency   time.Duration
	SyncBandwidth float64
	VirtualClock  bool

	// FaultRate is the probability that, in a round, one worker (chosen at
	// random) fails on purpose in the middle of it; FaultSeed seeds the
	// draws. For testing the failure handling.
	FaultRate float64
	FaultSeed uint64

	// Resume is a solver state to resume from: a parallel checkpoint
	// continues exactly; a single solver's (or Caffe's) starts the workers
	// from its weights and history.
	Resume string
	// RunID names the run (default: random, or the resumed run's).
	RunID string

	// Log receives Caffe-style log lines (nil: none).
	Log io.Writer
	// Observers receive one TrainRecord per round and every test result.
	Observers []solver.Observer
	// Action is polled once per round (signals: snapshot, stop).
	Action func() solver.Action
	// OnRound, when set, receives every round's report.
	OnRound func(RoundReport)
}

// RoundReport describes a completed round.
type RoundReport struct {
	// Round is the round's index, Iter the global iteration at its start,
	// Steps its local iterations.
	Round, Iter, Steps int
	// Combined is the number of workers averaged; Failed the outcomes of
	// those left out.
	Combined int
	Failed   []Outcome
	// Loss and Smoothed are the means over the combined workers of their
	// mean loss in the round and of their smoothed loss; LR the rate of the
	// round's last iteration.
	Loss, Smoothed, LR float32
	// MaxCompute is the slowest combined worker's compute time;
	// MaxWorker its whole round on the worker; MaxCPU the largest CPU time
	// of a combined worker's iterations (see WorkerStats.CPU).
	MaxCompute, MaxWorker, MaxCPU time.Duration
	// Elapsed is the round's wall time on the driver (broadcast, workers,
	// combine, outer step), without modelled communication; Comm the
	// modelled communication time.
	Elapsed, Comm time.Duration
	// BytesDown is the broadcast, times K: the global weights (codec none,
	// and the first round of a lossy codec) or the update of the workers'
	// replica (see Broadcast), plus the history in momentum mode average.
	// BytesUp is the deltas combined.
	BytesDown, BytesUp int64
	// Wall is the run's wall time at the end of the round (including
	// modelled communication, slept or virtual).
	Wall time.Duration
}

// Result is the outcome of a parallel run.
type Result struct {
	// Iter is the final global iteration, Rounds the number of rounds run
	// (in this process).
	Iter, Rounds int
	// Weights are the final global weights (flat, Layout).
	Weights []float32
	Layout  Layout
	// Tests are the test results, in order.
	Tests []solver.TestResult
	// Failures counts workers left out of rounds.
	Failures int
	// BytesUp and BytesDown total the rounds' traffic.
	BytesUp, BytesDown int64
	// Wall is the run's wall time (continued across a resume).
	Wall time.Duration
	// Stopped is set when a stop was requested (Action).
	Stopped bool
	// Snapshot is the solver state of the last snapshot ("" if none).
	Snapshot string
}

// trainer is one run of Train.
type trainer struct {
	cfg    Config
	eng    Engine
	log    io.Writer
	drv    *solver.Solver
	layout Layout
	sets   int // history sets per parameter blob
	k      int
	quorum int
	seed   int64
	runID  string
	outer  OuterOptimizer

	global []float32
	mean   []float32
	ghist  []float32 // the global history (momentum mode average)
	hmean  []float32
	// replica is R, the weights the workers hold (lossy codecs; valid
	// when replicaOK), bcast the round's update of it, scratch a buffer.
	replica   []float32
	replicaOK bool
	bcast     Broadcast
	scratch   []float32

	iter, round  int
	prevIter     int // the global iteration at the start of the last round (-1: unknown)
	loadHistory  bool
	reset        []int // partitions whose last delta was rejected
	lastSnapshot int

	start     time.Time
	wallBase  time.Duration
	virtual   time.Duration
	res       Result
	displayAt time.Time
	displayIt int
}

// Train runs the SparkNet scheme on eng: every round it broadcasts the
// global weights, has the K workers each run tau iterations on their own
// data partition, averages their results, and applies the outer step; it
// tests and snapshots the global model at the solver's intervals. See the
// package documentation for the exact semantics.
func Train(ctx context.Context, cfg Config, eng Engine) (*Result, error) {
	t, err := newTrainer(cfg, eng)
	if err != nil {
		return nil, err
	}
	return t.run(ctx)
}

func newTrainer(cfg Config, eng Engine) (*trainer, error) {
	if cfg.Solver == nil {
		return nil, errors.New("parallel: no solver")
	}
	if eng == nil {
		return nil, errors.New("parallel: no engine")
	}
	k := cfg.Workers
	if k < 1 {
		return nil, fmt.Errorf("parallel: need at least one worker, got %d", k)
	}
	if cfg.Tau < 1 {
		return nil, fmt.Errorf("parallel: tau must be at least 1, got %d", cfg.Tau)
	}
	q := cfg.Quorum
	if q == 0 {
		q = (k + 1) / 2
	}
	if q < 1 || q > k {
		return nil, fmt.Errorf("parallel: quorum %d is out of range for %d workers (1..%d)", cfg.Quorum, k, k)
	}
	if cfg.RoundDeadline < 0 || cfg.SyncLatency < 0 || cfg.SyncBandwidth < 0 || math.IsNaN(cfg.SyncBandwidth) {
		return nil, errors.New("parallel: round deadline, sync latency and bandwidth must not be negative")
	}
	if !(cfg.FaultRate >= 0 && cfg.FaultRate <= 1) {
		return nil, fmt.Errorf("parallel: fault rate %g is not a probability", cfg.FaultRate)
	}
	if cfg.Codec >= numCodecs {
		return nil, fmt.Errorf("parallel: unknown codec %d", cfg.Codec)
	}
	if int(cfg.Momentum) >= len(momentumNames) {
		return nil, fmt.Errorf("parallel: unknown momentum mode %d", cfg.Momentum)
	}
	t := &trainer{cfg: cfg, eng: eng, log: cfg.Log, k: k, quorum: q, runID: cfg.RunID, lastSnapshot: -1, prevIter: -1}
	t.seed = cfg.Solver.GetRandomSeed()
	if cfg.OverrideSeed {
		t.seed = cfg.Seed
	}
	if t.seed < 0 {
		t.seed = time.Now().UnixNano() & (1<<62 - 1)
		t.logf("random_seed not set; using seed %d for every worker", t.seed)
	}
	return t, nil
}

func (t *trainer) logf(format string, args ...any) {
	if t.log != nil {
		fmt.Fprintf(t.log, format+"\n", args...)
	}
}

// wall returns the run's wall time: before this process, plus since the
// start, plus the virtual communication time.
func (t *trainer) wall() time.Duration {
	return t.wallBase + time.Since(t.start) + t.virtual
}

func (t *trainer) run(ctx context.Context) (res *Result, err error) {
	cfg := t.cfg
	p := cfg.Solver
	// The driver's solver holds the global model: its test nets test it,
	// its Snapshot writes it. Its train net is never run; it reads all the
	// data, as a plain solver's, so the driver resumes from a plain
	// solver's snapshot too.
	t.drv, err = solver.New(p, solver.Options{
		OverrideSeed: true, Seed: t.seed,
		Log: t.log, SolverDir: cfg.SolverDir,
	})
	if err != nil {
		return nil, err
	}
	defer t.drv.Close()
	t.layout = LayoutOf(t.drv.Net())
	n := t.layout.Len()
	if t.layout.Blobs() == 0 {
		return nil, fmt.Errorf("net %q has no learnable parameters to train", t.drv.Net().Name())
	}
	t.sets = len(t.drv.History()) / t.layout.Blobs()
	t.global = make([]float32, n)
	t.mean = make([]float32, n)
	if t.outer, err = cfg.Outer.New(n); err != nil {
		return nil, err
	}
	var states [][]byte
	if cfg.Resume != "" {
		if states, err = t.resume(cfg.Resume); err != nil {
			return nil, err
		}
	} else {
		t.layout.Gather(t.global, t.drv.Net().Params())
		if cfg.Momentum == MomentumAverage {
			t.ghist = make([]float32, n*t.sets)
		}
	}
	if t.runID == "" {
		var b [6]byte
		rand.Read(b[:])
		t.runID = "run-" + hex.EncodeToString(b[:])
	}
	if err := t.checkSnapshotWritable(); err != nil {
		return nil, err
	}
	defer func() {
		if cerr := t.eng.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing the engine: %w", cerr)
		}
	}()
	if err := t.eng.Start(ctx, Job{
		RunID: t.runID, Solver: p, SolverDir: cfg.SolverDir, Seed: t.seed,
		Partitions: t.k, Layout: t.layout, Log: t.log,
	}); err != nil {
		return nil, fmt.Errorf("starting the engine: %w", err)
	}
	if states != nil {
		if err := t.eng.Restore(ctx, states); err != nil {
			return nil, fmt.Errorf("restoring the workers: %w", err)
		}
	}
	return t.loop(ctx)
}

// checkSnapshotWritable probes the snapshot prefix, as Caffe does before
// training, so that a bad prefix fails now rather than at the first
// snapshot.
func (t *trainer) checkSnapshotWritable() error {
	p := t.cfg.Solver
	if p.GetSnapshot() == 0 && !p.GetSnapshotAfterTrain() {
		return nil
	}
	probe := t.drv.SnapshotFilename(".tempfile")
	f, err := os.Create(probe)
	if err != nil {
		return fmt.Errorf("cannot write to snapshot prefix %q; make sure its directory exists and is writable: %w", p.GetSnapshotPrefix(), err)
	}
	f.Close()
	os.Remove(probe)
	return nil
}

// resume loads a solver state and, when present, the parallel run state
// beside it; it returns the workers' states.
func (t *trainer) resume(path string) ([][]byte, error) {
	t.logf("Resuming from %s", path)
	if err := t.drv.Restore(path); err != nil {
		return nil, err
	}
	t.iter = t.drv.Iter()
	t.layout.Gather(t.global, t.drv.Net().Params())
	rs, err := readRunState(RunStatePath(path))
	if errors.Is(err, os.ErrNotExist) {
		// A single solver's (or Caffe's) snapshot: every worker starts from
		// its weights and history.
		t.logf("No parallel run state %s; starting %d workers from the solver state's weights and history", RunStatePath(path), t.k)
		t.ghist = t.driverHistory()
		t.loadHistory = true
		t.round = 0
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	i := rs.info
	switch {
	case i.Workers != t.k:
		return nil, fmt.Errorf("%s: the run has %d workers (data partitions); resume it with -workers %d", path, i.Workers, i.Workers)
	case i.Params != t.layout.Len():
		return nil, fmt.Errorf("%s: the run state is for %d parameters, the model has %d", path, i.Params, t.layout.Len())
	case i.Iter != t.iter:
		return nil, fmt.Errorf("%s: the run state is for iteration %d, the solver state for %d", path, i.Iter, t.iter)
	}
	if i.Tau != t.cfg.Tau {
		t.logf("Resuming a run made with tau %d with tau %d", i.Tau, t.cfg.Tau)
	}
	if i.Codec != t.cfg.Codec.String() || i.Momentum != t.cfg.Momentum.String() {
		t.logf("Resuming a run made with -compress %s -momentum-mode %s with -compress %s -momentum-mode %s",
			i.Codec, i.Momentum, t.cfg.Codec, t.cfg.Momentum)
	}
	if i.Outer == t.outer.Name() {
		if lr, mu, ok := savedHyper(rs.outer); ok && t.outer.Name() == "nesterov" {
			if o := t.outer.(*Nesterov); lr != o.LR || mu != o.Momentum {
				t.logf("Resuming outer nesterov (lr %g, momentum %g) with lr %g, momentum %g", lr, mu, o.LR, o.Momentum)
			}
		}
		if err := t.outer.UnmarshalState(rs.outer); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	} else {
		t.logf("Resuming a run made with outer %s with outer %s (fresh outer state)", i.Outer, t.outer.Name())
	}
	if t.cfg.Momentum == MomentumAverage {
		switch {
		case rs.history != nil && len(rs.history) == t.layout.Len()*t.sets:
			t.ghist = rs.history
		default:
			t.ghist = t.driverHistory()
		}
	}
	if t.cfg.Codec.Lossy() && len(rs.replica) == t.layout.Len() {
		t.replica, t.replicaOK = rs.replica, true
	} else if t.cfg.Codec.Lossy() {
		t.logf("No broadcast replica in %s; the first round sends the weights whole", RunStatePath(path))
	}
	if t.cfg.RunID == "" {
		t.runID = i.RunID
	}
	t.round = i.Round
	t.wallBase = time.Duration(i.WallS * float64(time.Second))
	t.virtual = 0
	t.lastSnapshot = i.LastSnapshot
	t.prevIter = i.PrevIter
	return rs.workers, nil
}

// driverHistory returns the driver solver's history, flat.
func (t *trainer) driverHistory() []float32 {
	h := make([]float32, t.layout.Len()*t.sets)
	for i, b := range t.drv.History() {
		n := t.layout.Blobs()
		off := (i/n)*t.layout.Len() + t.layout.Offset(i%n)
		copy(h[off:], b.Data)
	}
	return h
}

// crossed reports whether a multiple of interval lies in (from, to]
// (from may be -1).
func crossed(from, to, interval int) bool {
	return interval > 0 && floorDiv(to, interval) > floorDiv(from, interval)
}

func floorDiv(a, b int) int {
	if a >= 0 {
		return a / b
	}
	return -((-a + b - 1) / b)
}

func (t *trainer) loop(ctx context.Context) (*Result, error) {
	p := t.cfg.Solver
	maxIter := int(p.GetMaxIter())
	testInterval := int(p.GetTestInterval())
	snapshot := int(p.GetSnapshot())
	t.start = time.Now()
	t.displayAt, t.displayIt = t.start, t.iter
	t.logf("Solving %s with %d workers, tau %d, outer %s, momentum %s, compress %s (run %s)",
		t.drv.Net().Name(), t.k, t.cfg.Tau, t.outer.Name(), t.cfg.Momentum, t.cfg.Codec, t.runID)
	t.logf("Learning Rate Policy: %s", p.GetLrPolicy())

	// The first test. Caffe tests at the top of its loop when the
	// iteration is a multiple of test_interval (at 0 only with
	// test_initialization; a run resumed at max_iter tests once, as Caffe's
	// final test). A resumed parallel run repeats the test that followed
	// its checkpoint (tests come after snapshots, as in Caffe, so the test
	// nets' state in the checkpoint is the one before that test).
	first := testInterval > 0 && t.iter%testInterval == 0 && (t.iter > 0 || p.GetTestInitialization() || t.iter >= maxIter)
	if t.prevIter >= 0 {
		first = crossed(t.prevIter, t.iter, testInterval)
	}
	if first {
		if err := t.test(); err != nil {
			return nil, err
		}
	}
	for t.iter < maxIter {
		rep, err := t.runRound(ctx)
		if err != nil {
			return nil, err
		}
		from := rep.Iter
		t.report(rep)
		req := solver.ActionNone
		if t.cfg.Action != nil {
			req = t.cfg.Action()
		}
		// Snapshot at the solver's interval, on request, and at the end
		// (snapshot_after_train, also when stopped), then test: Caffe's
		// order.
		final := (t.iter >= maxIter || req == solver.ActionStop) && p.GetSnapshotAfterTrain()
		if crossed(from, t.iter, snapshot) || req == solver.ActionSnapshot || final {
			if err := t.snapshot(ctx, from); err != nil {
				return nil, err
			}
		}
		if req == solver.ActionStop {
			t.res.Stopped = true
			break
		}
		if crossed(from, t.iter, testInterval) {
			if err := t.test(); err != nil {
				return nil, err
			}
		}
	}
	if p.GetSnapshotAfterTrain() && t.lastSnapshot != t.iter {
		if err := t.snapshot(ctx, t.prevIter); err != nil {
			return nil, err
		}
	}
	if t.res.Stopped {
		t.logf("Optimization stopped early.")
	} else {
		t.logf("Optimization Done.")
	}
	t.res.Iter = t.iter
	t.res.Weights = t.global
	t.res.Layout = t.layout
	t.res.Wall = t.wall()
	return &t.res, nil
}

// faultPartition returns the partition that fails on purpose in a round,
// or -1.
func (t *trainer) faultPartition(round int) int {
	if t.cfg.FaultRate <= 0 {
		return -1
	}
	z := mix64(t.cfg.FaultSeed ^ mix64(uint64(round)+0x632be59bd9b4e019))
	if float64(z>>11)/(1<<53) >= t.cfg.FaultRate {
		return -1
	}
	return int(mix64(z) % uint64(t.k))
}

// mix64 is SplitMix64's finalizer.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// runRound runs one round and applies its outer step.
func (t *trainer) runRound(ctx context.Context) (RoundReport, error) {
	maxIter := int(t.cfg.Solver.GetMaxIter())
	spec := RoundSpec{
		Run: t.runID, Round: t.round, Iter: t.iter, Steps: min(t.cfg.Tau, maxIter-t.iter),
		Partitions: t.k, Codec: t.cfg.Codec, Momentum: t.cfg.Momentum,
		LoadHistory:    t.loadHistory || t.cfg.Momentum == MomentumAverage,
		Reset:          t.reset,
		FaultPartition: t.faultPartition(t.round),
	}
	g := t.broadcast()
	if spec.LoadHistory {
		g.History = t.ghist
	}
	historySets := t.sets
	comb := NewCombiner(spec.Expect(t.layout, historySets), t.global)
	rctx, cancel := ctx, context.CancelFunc(func() {})
	if t.cfg.RoundDeadline > 0 {
		rctx, cancel = context.WithTimeout(ctx, t.cfg.RoundDeadline)
	}
	began := time.Now()
	outs, err := t.eng.Round(rctx, spec, g, comb)
	cancel()
	if err != nil {
		return RoundReport{}, fmt.Errorf("round %d: %w", t.round, err)
	}
	if err := ctx.Err(); err != nil {
		// Cancelled by the caller: the round is incomplete and its workers
		// have moved on, so nothing after the last snapshot is kept.
		return RoundReport{}, fmt.Errorf("round %d (iteration %d) interrupted: %w", t.round, t.iter, context.Cause(ctx))
	}
	rep := RoundReport{Round: t.round, Iter: t.iter, Steps: spec.Steps}
	for _, o := range outs {
		if o.Err != nil {
			rep.Failed = append(rep.Failed, o)
			t.logf("Round %d: worker %s (partition %d) left out: %v", t.round, o.Worker, o.Partition, o.Err)
		}
	}
	if t.cfg.Momentum == MomentumAverage && t.hmean == nil {
		t.hmean = make([]float32, t.layout.Len()*historySets)
	}
	n, err := comb.Finish(t.mean, t.hmean)
	if err != nil {
		return RoundReport{}, fmt.Errorf("round %d: %w", t.round, err)
	}
	t.reset = t.reset[:0]
	for part, err := range comb.Rejected() {
		o := Outcome{Partition: part, Err: err}
		if part < len(outs) {
			o.Worker = outs[part].Worker
		}
		rep.Failed = append(rep.Failed, o)
		t.reset = append(t.reset, part)
		t.logf("Round %d: worker %s (partition %d) left out: %v", t.round, o.Worker, part, err)
	}
	slices.Sort(t.reset)
	if n < t.quorum {
		var why []string
		for _, o := range rep.Failed {
			why = append(why, fmt.Sprintf("partition %d: %v", o.Partition, o.Err))
		}
		return RoundReport{}, fmt.Errorf("round %d (iteration %d): only %d of %d workers reported, fewer than the quorum of %d (%s)",
			t.round, t.iter, n, t.k, t.quorum, strings.Join(why, "; "))
	}
	if _, avg := t.outer.(Average); avg {
		t.global, t.mean = t.mean, t.global // the same as copying
	} else {
		t.outer.Step(t.global, t.mean)
	}
	if t.cfg.Momentum == MomentumAverage {
		copy(t.ghist, t.hmean)
	}
	t.loadHistory = false
	rep.Elapsed = time.Since(began)
	rep.Combined = n

	// Statistics, in partition order.
	stats := comb.Stats()
	var loss, smoothed float64
	first := true
	for part := 0; part < t.k; part++ {
		s, ok := stats[part]
		if !ok {
			continue
		}
		loss += float64(s.Loss)
		smoothed += float64(s.Smoothed)
		if first {
			rep.LR, first = s.LR, false
		}
		rep.MaxCompute = max(rep.MaxCompute, s.Compute)
		rep.MaxWorker = max(rep.MaxWorker, s.Total)
		rep.MaxCPU = max(rep.MaxCPU, s.CPU)
	}
	rep.Loss = float32(loss / float64(n))
	rep.Smoothed = float32(smoothed / float64(n))
	rep.BytesUp = comb.Bytes()
	down := int64(4 * len(g.Weights))
	if g.Update != nil {
		down = int64(g.Update.PayloadBytes())
	}
	if g.History != nil {
		down += int64(4 * len(g.History))
	}
	rep.BytesDown = down * int64(t.k)
	rep.Comm = t.commTime(rep.BytesUp + rep.BytesDown)
	if rep.Comm > 0 {
		if t.cfg.VirtualClock {
			t.virtual += rep.Comm
		} else if err := sleepCtx(ctx, rep.Comm); err != nil {
			return RoundReport{}, fmt.Errorf("round %d interrupted: %w", t.round, err)
		}
	}
	t.iter += spec.Steps
	t.round++
	rep.Wall = t.wall()
	t.res.Rounds++
	t.res.Failures += len(rep.Failed)
	t.res.BytesUp += rep.BytesUp
	t.res.BytesDown += rep.BytesDown
	return rep, nil
}

// broadcast returns what the round sends the workers: the global weights
// with codec none; with a lossy codec the update of their replica (see
// Broadcast), or, when they have none (the first round, a resume without
// one) or the update would overflow, the replica set to the global weights,
// whole.
func (t *trainer) broadcast() Global {
	c := t.cfg.Codec
	if !c.Lossy() {
		t.replicaOK = false
		return Global{Weights: t.global}
	}
	n := t.layout.Len()
	if len(t.replica) != n {
		t.replica, t.replicaOK = make([]float32, n), false
	}
	if t.replicaOK {
		if len(t.scratch) != n {
			t.scratch = make([]float32, n)
		}
		if t.bcast.encode(c, t.layout, t.global, t.replica, t.scratch) {
			return Global{Weights: t.replica, Update: &t.bcast}
		}
		t.logf("Round %d: the broadcast update overflows; sending the weights whole", t.round)
	}
	copy(t.replica, t.global)
	t.replicaOK = true
	return Global{Weights: t.replica}
}

// commTime is the modelled communication time of a round moving bytes.
func (t *trainer) commTime(bytes int64) time.Duration {
	d := t.cfg.SyncLatency
	if bw := t.cfg.SyncBandwidth; bw > 0 {
		d += time.Duration(float64(bytes) / bw * float64(time.Second))
	}
	return d
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// report hands a round to the observers and logs it at display intervals.
func (t *trainer) report(rep RoundReport) {
	last := t.iter - 1
	images := rep.Combined * rep.Steps * t.drv.BatchSize()
	rec := solver.TrainRecord{Iter: last, Wall: rep.Wall, LR: rep.LR, Loss: rep.Loss, Smoothed: rep.Smoothed, Images: images}
	for _, o := range t.cfg.Observers {
		o.OnTrain(rec)
	}
	if t.cfg.OnRound != nil {
		t.cfg.OnRound(rep)
	}
	display := int(t.cfg.Solver.GetDisplay())
	// A display multiple among the round's iterations [rep.Iter, t.iter).
	if display <= 0 || !crossed(rep.Iter-1, last, display) {
		return
	}
	now := time.Now()
	lapse := now.Sub(t.displayAt).Seconds()
	if lapse == 0 {
		lapse = 1
	}
	t.logf("Iteration %d (%s iter/s, %ss/%d iters), loss = %s", last,
		solver.FormatValue(float32(float64(t.iter-t.displayIt)/lapse)), solver.FormatValue(float32(lapse)), display, solver.FormatValue(rep.Smoothed))
	t.logf("Iteration %d, lr = %s", last, solver.FormatValue(rep.LR))
	if t.k > 1 || rep.Comm > 0 {
		t.logf("Round %d: %d/%d workers, slowest worker %s (compute %s), round %s, comm %s, %s up %s down",
			rep.Round, rep.Combined, t.k, fmtDur(rep.MaxWorker), fmtDur(rep.MaxCompute), fmtDur(rep.Elapsed), fmtDur(rep.Comm),
			fmtBytes(rep.BytesUp), fmtBytes(rep.BytesDown))
	}
	t.displayAt, t.displayIt = now, t.iter
}

func fmtDur(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds()*1000, 'f', 1, 64) + " ms"
}

func fmtBytes(b int64) string {
	switch {
	case b >= 1<<20:
		return strconv.FormatFloat(float64(b)/(1<<20), 'f', 2, 64) + " MiB"
	case b >= 1<<10:
		return strconv.FormatFloat(float64(b)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(b, 10) + " B"
}

// test tests the global model with the driver's test nets.
func (t *trainer) test() error {
	t.layout.Scatter(t.global, t.drv.Net().Params())
	t.drv.SetIter(t.iter)
	rs, err := t.drv.TestAll()
	for _, r := range rs {
		r.Wall = t.wall()
		t.res.Tests = append(t.res.Tests, r)
		for _, o := range t.cfg.Observers {
			o.OnTest(r)
		}
	}
	return err
}

// snapshot writes a checkpoint of the run (see checkpoint.go); prevIter is
// the global iteration at the start of the round that just ended.
func (t *trainer) snapshot(ctx context.Context, prevIter int) error {
	states, err := t.eng.States(ctx)
	if err != nil {
		return fmt.Errorf("snapshot: worker states: %w", err)
	}
	if len(states) != t.k {
		return fmt.Errorf("snapshot: the engine returned %d worker states for %d workers", len(states), t.k)
	}
	t.layout.Scatter(t.global, t.drv.Net().Params())
	t.drv.SetIter(t.iter)
	// The solver state's history is the global history (momentum mode
	// average) or the mean of the workers' histories, so Caffe or a single
	// solver can continue from it.
	hist := t.ghist
	if t.cfg.Momentum != MomentumAverage {
		hs := make([][]float32, len(states))
		for i, s := range states {
			if hs[i], err = stateHistory(s); err != nil {
				return fmt.Errorf("snapshot: worker %d: %w", i, err)
			}
			if len(hs[i]) != t.layout.Len()*t.sets {
				return fmt.Errorf("snapshot: worker %d has %d history values, want %d", i, len(hs[i]), t.layout.Len()*t.sets)
			}
		}
		hist = make([]float32, t.layout.Len()*t.sets)
		MeanOf(hist, hs)
	}
	if hist != nil {
		for i, b := range t.drv.History() {
			n := t.layout.Blobs()
			off := (i/n)*t.layout.Len() + t.layout.Offset(i%n)
			copy(b.Data, hist[off:off+b.Count()])
		}
	}
	outer, err := t.outer.MarshalState()
	if err != nil {
		return fmt.Errorf("snapshot: outer state: %w", err)
	}
	rs := &runState{
		info: runInfo{
			Version: runStateVersion, RunID: t.runID, Seed: t.seed, Iter: t.iter, Round: t.round,
			Workers: t.k, Tau: t.cfg.Tau, Outer: t.outer.Name(), Momentum: t.cfg.Momentum.String(),
			Codec: t.cfg.Codec.String(), Params: t.layout.Len(), HistorySets: t.sets,
			WallS: t.wall().Seconds(), LastSnapshot: t.iter, PrevIter: prevIter,
		},
		outer:   outer,
		workers: states,
	}
	if t.cfg.Momentum == MomentumAverage {
		rs.history = t.ghist
	}
	if t.replicaOK {
		rs.replica = t.replica
	}
	statePath := t.drv.SnapshotFilename(".solverstate")
	t.logf("Snapshotting parallel run state to %s", RunStatePath(statePath))
	if err := writeRunState(RunStatePath(statePath), rs); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	if err := t.drv.Snapshot(); err != nil {
		return err
	}
	t.lastSnapshot = t.iter
	t.res.Snapshot = statePath
	return nil
}
