// Package study runs the SparkNet paper's scaling study on one machine: for
// every number of workers K and every tau it trains for real (the SparkNet
// scheme with the local engine, the workers executed one after another, each
// with all the machine's threads, as if each had a machine of its own) and
// records, per round, the slowest worker's measured compute time (wall time,
// or on a busy machine the CPU time of a one-thread worker) and the bytes
// moved. Time then runs on a virtual clock: a round takes the slowest
// worker's compute plus the modelled communication, latency + bytes /
// bandwidth, for each latency S of the study. The training does not depend
// on S, so one run per (K, tau, outer optimizer) serves every latency.
//
// Semantics:
//   - Time to accuracy is the virtual time at the end of the round after
//     which the first test reaching the target ran. Tests run on the global
//     model at the solver's test_interval counted in global iterations (at
//     the end of a round that crosses a multiple) and take no virtual time.
//   - K = 1 does not communicate (a single machine needs no
//     synchronization), whatever its tau; the baseline is K = 1, tau = 1, and
//     speedup(K, tau, S) = time(1, 1) / time(K, tau, S).
//   - With LatencyUnit "iter", latencies are multiples of the baseline's
//     mean compute time per iteration, measured in the same study.
//   - Each run stops at the target or at the iteration cap.
package study

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/engine/local"
	"github.com/sparknet/sparknet/parallel"
	"github.com/sparknet/sparknet/solver"
)

// Config is a study's grid and target.
type Config struct {
	// Solver is the solver definition (batch_size per worker); SolverDir
	// where its relative net files are looked up.
	Solver    *pb.SolverParameter
	SolverDir string
	// Workers, Taus and Latencies are the grid. The baseline (K=1, tau=1,
	// avg) is always run.
	Workers, Taus []int
	Latencies     []float64
	// LatencyUnit is "s" (seconds, the default) or "iter" (multiples of one
	// baseline iteration's compute time).
	LatencyUnit string
	// Bandwidth is the modelled bandwidth in bytes per second (0:
	// unlimited): a round moves K broadcasts and K deltas.
	Bandwidth float64
	// Outers are the outer optimizers to compare ("avg", "nesterov");
	// default avg. Those other than avg run only for tau >= OuterMinTau.
	Outers        []string
	OuterLR       float32
	OuterMomentum float32
	OuterMinTau   int
	// Target is the test accuracy to reach; Output names the test output
	// (default "accuracy").
	Target float64
	Output string
	// MaxIter caps every run's global iterations (0: the solver's
	// max_iter); TestInterval and TestIter override the solver's (0: keep).
	MaxIter, TestInterval, TestIter int
	// Threads is the compute threads each worker runs with (0: all).
	Threads int
	// Compute is how a worker's compute time is measured: "wall" (the
	// default: wall time of its iterations) or "cpu" (the CPU time of its
	// thread, see parallel.WorkerStats.CPU; it needs Threads 1 and Linux,
	// and is robust to other processes sharing the machine).
	Compute string
	// Log receives one line per run (nil: none); TrainLog the runs'
	// training logs (nil: none).
	Log, TrainLog io.Writer
}

// Run is one training of the study.
type Run struct {
	Workers, Tau int
	Outer        string
	// Rounds are the rounds in order; Tests the tests.
	Rounds []Round
	Tests  []Test
	// Reached reports whether the target was reached.
	Reached bool
	// Wall is the real time the run took (tests included).
	Wall time.Duration
}

// Round is one round of a run.
type Round struct {
	// Iter is the global iteration at its end; Compute the slowest
	// worker's compute time in seconds; Bytes the bytes moved (K
	// broadcasts and the deltas).
	Iter    int
	Compute float64
	Bytes   int64
}

// Test is one test of a run's global model.
type Test struct {
	// Iter is the global iteration; Rounds the rounds done before it.
	Iter, Rounds int
	Value        float64
}

// Results are a study's runs.
type Results struct {
	Config Config
	// IterTime is the baseline's median compute time per iteration, in
	// seconds.
	IterTime float64
	// Runs are the runs, the baseline first.
	Runs []*Run
	// Model makes the clock use IterTime per worker iteration instead of
	// the measured compute times (a noise-free clock: every worker
	// iteration costs the same, as on identical idle machines).
	Model bool
}

func (c *Config) defaults() error {
	if c.Solver == nil {
		return errors.New("study: no solver")
	}
	if c.Output == "" {
		c.Output = "accuracy"
	}
	if c.LatencyUnit == "" {
		c.LatencyUnit = "s"
	}
	switch c.Compute {
	case "", "wall":
		c.Compute = "wall"
	case "cpu":
		if c.Threads != 1 {
			return errors.New("study: compute time as CPU time needs one thread per worker (-threads 1): the pool's other threads are not counted")
		}
	default:
		return fmt.Errorf("study: compute %q (want wall or cpu)", c.Compute)
	}
	if c.LatencyUnit != "s" && c.LatencyUnit != "iter" {
		return fmt.Errorf("study: latency unit %q (want s or iter)", c.LatencyUnit)
	}
	if len(c.Outers) == 0 {
		c.Outers = []string{"avg"}
	}
	if len(c.Workers) == 0 || len(c.Taus) == 0 {
		return errors.New("study: need workers and taus")
	}
	if len(c.Latencies) == 0 {
		c.Latencies = []float64{0}
	}
	for _, k := range c.Workers {
		if k < 1 {
			return fmt.Errorf("study: %d workers", k)
		}
	}
	for _, t := range c.Taus {
		if t < 1 {
			return fmt.Errorf("study: tau %d", t)
		}
	}
	for _, l := range c.Latencies {
		if l < 0 || math.IsNaN(l) || math.IsInf(l, 0) {
			return fmt.Errorf("study: latency %v", l)
		}
	}
	if !(c.Target > 0 && c.Target <= 1) {
		return fmt.Errorf("study: target accuracy %v is not in (0, 1]", c.Target)
	}
	for _, o := range c.Outers {
		if _, err := (parallel.OuterConfig{Kind: o}).New(0); err != nil {
			return err
		}
	}
	return nil
}

// Do runs the study.
func Do(ctx context.Context, cfg Config) (*Results, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	res := &Results{Config: cfg}
	type job struct {
		k, tau int
		outer  string
	}
	jobs := []job{{1, 1, "avg"}}
	seen := map[job]bool{jobs[0]: true}
	for _, outer := range cfg.Outers {
		for _, k := range cfg.Workers {
			for _, tau := range cfg.Taus {
				if outer != "avg" && tau < cfg.OuterMinTau {
					continue
				}
				j := job{k, tau, outer}
				if !seen[j] {
					seen[j] = true
					jobs = append(jobs, j)
				}
			}
		}
	}
	for i, j := range jobs {
		r, err := runOne(ctx, cfg, j.k, j.tau, j.outer)
		if err != nil {
			return res, fmt.Errorf("K=%d tau=%d %s: %w", j.k, j.tau, j.outer, err)
		}
		res.Runs = append(res.Runs, r)
		if i == 0 {
			// The median, so that the first iterations (cold caches, page
			// faults) and a busy moment do not skew it.
			var per []float64
			prev := 0
			for _, rd := range r.Rounds {
				per = append(per, rd.Compute/float64(rd.Iter-prev))
				prev = rd.Iter
			}
			if len(per) > 0 {
				sort.Float64s(per)
				res.IterTime = per[len(per)/2]
			}
		}
		if cfg.Log != nil {
			line := fmt.Sprintf("[%d/%d] K=%d tau=%d %s: ", i+1, len(jobs), j.k, j.tau, j.outer)
			if t, iter, rounds, ok := res.TimeToTarget(r, 0); ok {
				line += fmt.Sprintf("%v >= %g at iteration %d (%d rounds), compute %.1f s", cfg.Output, cfg.Target, iter, rounds, t)
			} else {
				line += fmt.Sprintf("target %g not reached in %d iterations", cfg.Target, r.lastIter())
			}
			fmt.Fprintf(cfg.Log, "%s; wall %.1f s\n", line, r.Wall.Seconds())
		}
	}
	return res, nil
}

func (r *Run) lastIter() int {
	if len(r.Rounds) == 0 {
		return 0
	}
	return r.Rounds[len(r.Rounds)-1].Iter
}

// testRecorder stops the run at the target.
type testRecorder struct {
	run    *Run
	output string
	target float64
	rounds *int
}

func (t *testRecorder) OnTrain(solver.TrainRecord) {}

func (t *testRecorder) OnTest(r solver.TestResult) {
	v, ok := r.Value(t.output)
	if !ok {
		return
	}
	t.run.Tests = append(t.run.Tests, Test{Iter: r.Iter, Rounds: *t.rounds, Value: float64(v)})
	if float64(v) >= t.target {
		t.run.Reached = true
	}
}

func runOne(ctx context.Context, cfg Config, k, tau int, outer string) (*Run, error) {
	p := proto.Clone(cfg.Solver).(*pb.SolverParameter)
	if cfg.MaxIter > 0 {
		p.MaxIter = proto.Int32(int32(cfg.MaxIter))
	}
	if cfg.TestInterval > 0 {
		p.TestInterval = proto.Int32(int32(cfg.TestInterval))
	}
	if cfg.TestIter > 0 {
		for i := range p.TestIter {
			p.TestIter[i] = int32(cfg.TestIter)
		}
	}
	if p.GetTestInterval() <= 0 || len(p.TestIter) == 0 {
		return nil, errors.New("the solver does not test (test_interval, test_iter); the study needs tests")
	}
	p.Snapshot = proto.Int32(0)
	p.SnapshotAfterTrain = proto.Bool(false)
	p.TestInitialization = proto.Bool(false)

	run := &Run{Workers: k, Tau: tau, Outer: outer}
	rounds := 0
	rec := &testRecorder{run: run, output: cfg.Output, target: cfg.Target, rounds: &rounds}
	start := time.Now()
	_, err := parallel.Train(ctx, parallel.Config{
		Solver: p, SolverDir: cfg.SolverDir,
		Workers: k, Tau: tau,
		Outer: parallel.OuterConfig{Kind: outer, LR: cfg.OuterLR, Momentum: cfg.OuterMomentum},
		Log:   cfg.TrainLog, Observers: []solver.Observer{rec},
		OnRound: func(r parallel.RoundReport) {
			rounds++
			compute := r.MaxCompute
			if cfg.Compute == "cpu" {
				compute = r.MaxCPU
			}
			run.Rounds = append(run.Rounds, Round{Iter: r.Iter + r.Steps, Compute: compute.Seconds(), Bytes: r.BytesUp + r.BytesDown})
		},
		Action: func() solver.Action {
			if run.Reached {
				return solver.ActionStop
			}
			return solver.ActionNone
		},
	}, local.New(local.Options{Threads: cfg.Threads, Sequential: true}))
	run.Wall = time.Since(start)
	return run, err
}

// LatencySeconds returns latency i of the study in seconds.
func (r *Results) LatencySeconds(i int) float64 {
	l := r.Config.Latencies[i]
	if r.Config.LatencyUnit == "iter" {
		return l * r.IterTime
	}
	return l
}

// commTime is the modelled communication of one round of run at latency
// s seconds.
func (r *Results) commTime(run *Run, s float64, bytes int64) float64 {
	if run.Workers == 1 {
		return 0
	}
	c := s
	if r.Config.Bandwidth > 0 {
		c += float64(bytes) / r.Config.Bandwidth
	}
	return c
}

// Clock returns the virtual time at the end of each of run's rounds, at
// latency s seconds: the slowest worker's measured compute (or, with Model,
// the round's iterations times IterTime) plus the modelled communication.
func (r *Results) Clock(run *Run, s float64) []float64 {
	t := make([]float64, len(run.Rounds))
	var now float64
	prev := 0
	for i, rd := range run.Rounds {
		compute := rd.Compute
		if r.Model {
			compute = float64(rd.Iter-prev) * r.IterTime
		}
		prev = rd.Iter
		now += compute + r.commTime(run, s, rd.Bytes)
		t[i] = now
	}
	return t
}

// TimeToTarget returns the virtual time, iteration and rounds at which run
// first reached the target at latency s seconds.
func (r *Results) TimeToTarget(run *Run, s float64) (t float64, iter, rounds int, ok bool) {
	clock := r.Clock(run, s)
	for _, x := range run.Tests {
		if x.Value >= r.Config.Target {
			if x.Rounds == 0 {
				return 0, x.Iter, 0, true
			}
			return clock[x.Rounds-1], x.Iter, x.Rounds, true
		}
	}
	return math.NaN(), 0, 0, false
}

// Baseline returns the K=1, tau=1 run.
func (r *Results) Baseline() *Run { return r.Runs[0] }

// Speedup returns time(1, 1) / time(run) at latency s seconds (NaN when
// either does not reach the target).
func (r *Results) Speedup(run *Run, s float64) float64 {
	base, _, _, ok := r.TimeToTarget(r.Baseline(), 0)
	t, _, _, ok2 := r.TimeToTarget(run, s)
	if !ok || !ok2 || t == 0 {
		return math.NaN()
	}
	return base / t
}

// Find returns the run with the given settings, or nil.
func (r *Results) Find(k, tau int, outer string) *Run {
	for _, run := range r.Runs {
		if run.Workers == k && run.Tau == tau && run.Outer == outer {
			return run
		}
	}
	return nil
}

// outers returns the outer optimizers that have runs, avg first.
func (r *Results) outers() []string {
	var out []string
	for _, o := range r.Config.Outers {
		for _, run := range r.Runs {
			if run.Outer == o {
				out = append(out, o)
				break
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i] == "avg" && out[j] != "avg" })
	return out
}

// latencyName names latency i for files and titles ("S=10iter", "S=0.1s").
func (r *Results) latencyName(i int) string {
	unit := r.Config.LatencyUnit
	return "S=" + strings.TrimSuffix(fmt.Sprintf("%g", r.Config.Latencies[i]), ".0") + unit
}
