package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sparknet/sparknet/engine/local"
	"github.com/sparknet/sparknet/parallel"
)

// parallelFlags are the flags `sparknet train` gets for the SparkNet scheme.
var parallelFlags struct {
	workers, tau  int
	engine        string
	outer         string
	outerLR       float64
	outerMomentum float64
	momentumMode  string
	compress      string
	roundDeadline time.Duration
	quorum        int
	syncLatency   seconds
	syncBandwidth float64
	virtualClock  bool
	faultRate     float64
	faultSeed     uint64
}

// seconds is a duration flag that takes seconds ("0.1") or a Go duration
// ("100ms").
type seconds time.Duration

func (s *seconds) String() string { return time.Duration(*s).String() }

func (s *seconds) Set(v string) error {
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 {
			return errors.New("must not be negative")
		}
		*s = seconds(f * float64(time.Second))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("want seconds (0.5) or a duration (500ms): %q", v)
	}
	if d < 0 {
		return errors.New("must not be negative")
	}
	*s = seconds(d)
	return nil
}

// EngineFactory makes the engine of a parallel run from the command line
// (threads is -threads). Engines register themselves by name.
type EngineFactory func(threads int) (parallel.Engine, error)

var parallelEngines = map[string]EngineFactory{
	"local": func(threads int) (parallel.Engine, error) {
		return local.New(local.Options{Threads: threads}), nil
	},
}

// registerParallelEngine adds an engine for -engine NAME; call it from an
// init function (the NATS engine's file does).
func registerParallelEngine(name string, f EngineFactory) { parallelEngines[name] = f }

func engineNames() string {
	var names []string
	for n := range parallelEngines {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func init() {
	registerTrainExtension(trainExtension{setFlags: setParallelFlags, run: runParallel})
}

func setParallelFlags(fs *flag.FlagSet) {
	f := &parallelFlags
	fs.IntVar(&f.workers, "workers", 0, "SparkNet scheme: K workers, each training on partition i of K of the data (0: one plain solver)")
	fs.IntVar(&f.tau, "tau", 1, "local iterations per round of the SparkNet scheme")
	fs.StringVar(&f.engine, "engine", "local", "engine running the workers: "+engineNames()+" (local: goroutines in this process)")
	fs.StringVar(&f.outer, "outer", "avg", "outer step: avg (SparkNet: mean of the workers' weights) or nesterov (DiLoCo)")
	fs.Float64Var(&f.outerLR, "outer-lr", parallel.DefaultOuterLR, "outer learning rate of -outer nesterov")
	fs.Float64Var(&f.outerMomentum, "outer-momentum", parallel.DefaultOuterMomentum, "outer momentum of -outer nesterov")
	fs.StringVar(&f.momentumMode, "momentum-mode", "local", "workers' solver history across rounds: local (kept, as SparkNet), reset or average")
	fs.StringVar(&f.compress, "compress", "none", "what workers send: none (float32 weights), or an update in fp16, bf16 or int8 with error feedback")
	fs.DurationVar(&f.roundDeadline, "round-deadline", 0, "leave out workers that have not finished a round after this long (0: wait for all)")
	fs.IntVar(&f.quorum, "quorum", 0, "least number of workers a round must combine (0: half of them, rounded up)")
	fs.Var(&f.syncLatency, "sync-latency", "modelled communication latency per round, seconds (slept, so wall times show it)")
	fs.Float64Var(&f.syncBandwidth, "sync-bandwidth", 0, "modelled bandwidth in bytes/s: each round adds bytes moved / bandwidth (0: unlimited)")
	fs.BoolVar(&f.virtualClock, "virtual-clock", false, "add the modelled communication to the reported wall time instead of sleeping")
	fs.Float64Var(&f.faultRate, "fault-rate", 0, "testing: probability per round that one worker fails on purpose mid-round")
	fs.Uint64Var(&f.faultSeed, "fault-seed", 1, "testing: seed of -fault-rate's draws")
}

// parallelConfig builds the run's configuration from the flags.
func parallelConfig(r *TrainRun) (parallel.Config, error) {
	f := &parallelFlags
	cfg := parallel.Config{
		Solver: r.Param, SolverDir: r.Options.SolverDir,
		Workers: f.workers, Tau: f.tau,
		Outer:         parallel.OuterConfig{Kind: f.outer, LR: float32(f.outerLR), Momentum: float32(f.outerMomentum)},
		RoundDeadline: f.roundDeadline, Quorum: f.quorum,
		SyncLatency: time.Duration(f.syncLatency), SyncBandwidth: f.syncBandwidth, VirtualClock: f.virtualClock,
		FaultRate: f.faultRate, FaultSeed: f.faultSeed,
		Resume: r.Snapshot,
		Log:    r.Options.Log, Observers: r.Options.Observers, Action: r.Options.Action,
	}
	var err error
	if cfg.Momentum, err = parallel.ParseMomentumMode(f.momentumMode); err != nil {
		return cfg, fmt.Errorf("-momentum-mode: %w", err)
	}
	if cfg.Codec, err = parallel.ParseCodec(f.compress); err != nil {
		return cfg, fmt.Errorf("-compress: %w", err)
	}
	if _, err := cfg.Outer.New(0); err != nil {
		return cfg, fmt.Errorf("-outer: %w", err)
	}
	if f.tau < 1 {
		return cfg, fmt.Errorf("-tau must be at least 1: %w", errUsage)
	}
	if f.quorum < 0 || f.quorum > f.workers {
		return cfg, fmt.Errorf("-quorum must lie in 0..%d (the number of workers): %w", f.workers, errUsage)
	}
	if f.faultRate < 0 || f.faultRate > 1 {
		return cfg, fmt.Errorf("-fault-rate must lie in [0, 1]: %w", errUsage)
	}
	if f.syncBandwidth < 0 {
		return cfg, fmt.Errorf("-sync-bandwidth must not be negative: %w", errUsage)
	}
	return cfg, nil
}

// runParallel trains with the SparkNet scheme when -workers is given.
func runParallel(ctx context.Context, r *TrainRun) (bool, error) {
	f := &parallelFlags
	if f.workers == 0 {
		set := map[string]bool{}
		commands["train"].Flags.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		for _, name := range []string{"tau", "engine", "outer", "momentum-mode", "compress", "round-deadline", "quorum", "sync-latency", "sync-bandwidth", "fault-rate"} {
			if set[name] {
				return true, fmt.Errorf("-%s needs -workers: %w", name, errUsage)
			}
		}
		return false, nil
	}
	if f.workers < 0 {
		return true, fmt.Errorf("-workers must not be negative: %w", errUsage)
	}
	cfg, err := parallelConfig(r)
	if err != nil {
		return true, err
	}
	newEngine, ok := parallelEngines[f.engine]
	if !ok {
		return true, fmt.Errorf("unknown -engine %q (have %s): %w", f.engine, engineNames(), errUsage)
	}
	eng, err := newEngine(trainFlags.threads)
	if err != nil {
		return true, err
	}
	log := r.Options.Log
	fmt.Fprintf(log, "Starting Optimization\n")
	res, err := parallel.Train(ctx, cfg, eng)
	if err != nil {
		return true, fmt.Errorf("%s: %w", r.SolverFile, err)
	}
	summarizeParallel(log, res)
	return true, nil
}

// summarizeParallel logs the run's totals.
func summarizeParallel(w io.Writer, res *parallel.Result) {
	if res.Rounds == 0 {
		return
	}
	fmt.Fprintf(w, "Parallel run: %d rounds to iteration %d, %d worker failures, %.3g MB up and %.3g MB down per round, wall %.1f s\n",
		res.Rounds, res.Iter, res.Failures,
		float64(res.BytesUp)/float64(res.Rounds)/1e6, float64(res.BytesDown)/float64(res.Rounds)/1e6, res.Wall.Seconds())
}
