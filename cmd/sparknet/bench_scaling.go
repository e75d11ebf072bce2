package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/parallel/study"
)

var scalingFlags struct {
	solver        string
	workers, taus string
	latencies     string
	latencyUnit   string
	bandwidth     float64
	target        float64
	output        string
	maxIter       int
	testInterval  int
	testIter      int
	outers        string
	outerLR       float64
	outerMomentum float64
	outerMinTau   int
	threads       int
	clock         string
	compute       string
	out           string
	from          string
	verbose       bool
}

func init() {
	benchCommands["scaling"] = &benchCommand{
		short: `Scaling trains the solver's net with the SparkNet scheme for every number of
workers (-workers) and tau (-tau), the workers of a round executed one after
another, each with all -threads, and puts each round on a virtual clock: the
slowest worker's measured compute time plus the modelled communication,
latency + bytes / bandwidth, for every -latency (K = 1 never communicates).
It reports the time to -target-accuracy and the speedup over K = 1, tau = 1
as speedup.csv and curves.csv, heat maps and accuracy-vs-time plots (PNG and
SVG) and an index.html, in -out. Each run stops at the target or -max-iter.`,
		setFlags: func(fs *flag.FlagSet) {
			f := &scalingFlags
			fs.StringVar(&f.solver, "solver", "", "the solver definition (prototxt); batch_size is per worker")
			fs.StringVar(&f.workers, "workers", "1,2,4,8,16,32", "numbers of workers, comma-separated")
			fs.StringVar(&f.taus, "tau", "1,5,10,50,100", "local iterations per round, comma-separated")
			fs.StringVar(&f.latencies, "latency", "0,0.1,1,10", "communication latencies per round, comma-separated")
			fs.StringVar(&f.latencyUnit, "latency-unit", "s", "unit of -latency: s (seconds) or iter (one K=1 iteration's compute time)")
			fs.Float64Var(&f.bandwidth, "bandwidth", 0, "modelled bandwidth, bytes/s (0: unlimited)")
			fs.Float64Var(&f.target, "target-accuracy", 0, "test accuracy to reach (required)")
			fs.StringVar(&f.output, "output", "accuracy", "test net output that is the accuracy")
			fs.IntVar(&f.maxIter, "max-iter", 0, "cap on each run's global iterations (0: the solver's max_iter)")
			fs.IntVar(&f.testInterval, "test-interval", 0, "test every this many global iterations (0: the solver's test_interval)")
			fs.IntVar(&f.testIter, "test-iter", 0, "test batches per test (0: the solver's test_iter)")
			fs.StringVar(&f.outers, "outer", "avg", "outer optimizers to compare, comma-separated: avg, nesterov")
			fs.Float64Var(&f.outerLR, "outer-lr", 0.7, "outer learning rate of nesterov")
			fs.Float64Var(&f.outerMomentum, "outer-momentum", 0.9, "outer momentum of nesterov")
			fs.IntVar(&f.outerMinTau, "outer-min-tau", 0, "run outer optimizers other than avg only for tau >= this")
			fs.IntVar(&f.threads, "threads", 0, "compute threads of each worker (0: all cores)")
			fs.StringVar(&f.compute, "compute", "wall", "how a worker's compute is measured: wall, or cpu (its thread's CPU time; needs -threads 1; robust to other processes on the machine)")
			fs.StringVar(&f.clock, "clock", "measured", "figures' clock: measured (slowest worker's measured compute) or model (the baseline's median iteration time per worker iteration); the CSV has both")
			fs.StringVar(&f.out, "out", "scaling", "output directory")
			fs.StringVar(&f.from, "from", "", "redo the figures, tables and index.html of a study saved in this directory (its speedup.csv and curves.csv) instead of training; with -target-accuracy, -bandwidth, -clock and -out")
			fs.BoolVar(&f.verbose, "v", false, "log every run's training")
		},
		run: runScaling,
	}
}

func parseInts(name, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("-%s: %q is not a positive integer: %w", name, f, errUsage)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseFloats(name, s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) {
			return nil, fmt.Errorf("-%s: %q is not a non-negative number: %w", name, f, errUsage)
		}
		out = append(out, v)
	}
	return out, nil
}

func runScaling(ctx context.Context, fs *flag.FlagSet) error {
	f := &scalingFlags
	if !(f.target > 0 && f.target <= 1) {
		return fmt.Errorf("bench scaling needs -target-accuracy in (0, 1]: %w", errUsage)
	}
	if f.clock != "measured" && f.clock != "model" {
		return fmt.Errorf("-clock %q: want measured or model: %w", f.clock, errUsage)
	}
	if f.from != "" {
		res, err := study.Load(f.from, study.Config{Target: f.target, Bandwidth: f.bandwidth})
		if err != nil {
			return err
		}
		res.Model = f.clock == "model"
		if err := res.Save(f.out); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "Wrote %s from %s\n", f.out, f.from)
		return nil
	}
	if f.solver == "" {
		return fmt.Errorf("bench scaling needs -solver: %w", errUsage)
	}
	workers, err := parseInts("workers", f.workers)
	if err != nil {
		return err
	}
	taus, err := parseInts("tau", f.taus)
	if err != nil {
		return err
	}
	lats, err := parseFloats("latency", f.latencies)
	if err != nil {
		return err
	}
	param, err := caffe.LoadSolver(f.solver)
	if err != nil {
		return err
	}
	var trainLog io.Writer
	if f.verbose {
		trainLog = os.Stderr
	}
	cfg := study.Config{
		Solver: param, SolverDir: filepath.Dir(f.solver),
		Workers: workers, Taus: taus, Latencies: lats, LatencyUnit: f.latencyUnit, Bandwidth: f.bandwidth,
		Outers: strings.Split(f.outers, ","), OuterLR: float32(f.outerLR), OuterMomentum: float32(f.outerMomentum), OuterMinTau: f.outerMinTau,
		Target: f.target, Output: f.output,
		MaxIter: f.maxIter, TestInterval: f.testInterval, TestIter: f.testIter,
		Threads: f.threads, Compute: f.compute, Log: os.Stderr, TrainLog: trainLog,
	}
	res, err := study.Do(ctx, cfg)
	if res != nil && len(res.Runs) > 0 {
		res.Model = f.clock == "model"
		// Save what was run, even when a later run failed or was stopped.
		if serr := res.Save(f.out); serr != nil {
			return errors.Join(err, serr)
		}
		fmt.Fprintf(os.Stderr, "Wrote %s (speedup.csv, curves.csv, figures, index.html); baseline %.4g s per iteration\n", f.out, res.IterTime)
	}
	return err
}
