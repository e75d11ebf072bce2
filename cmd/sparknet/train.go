package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/report"
	"github.com/sparknet/sparknet/solver"
)

// trainFlags are the flags of `sparknet train`, named as Caffe's.
var trainFlags struct {
	solver, weights, snapshot string
	threads                   int
	metrics                   string
	sigintEffect              string
	sighupEffect              string
	level                     int
	stage                     string
}

// TrainRun is what `sparknet train` has prepared before training starts: the
// solver parameters with the command line applied, and the reporting. A
// train extension receives it to run the training its own way.
type TrainRun struct {
	// SolverFile is the -solver path; Param the parsed solver with -weights,
	// -level and -stage applied.
	SolverFile string
	Param      *pb.SolverParameter
	// Snapshot is the -snapshot solver state to resume from ("" for none).
	Snapshot string
	// Options carries the log writer, the observers (metrics file, progress
	// bar), the signal action and the solver directory for solver.New.
	Options solver.Options
	// Metrics is the open metrics log (also among Options.Observers).
	Metrics *report.Metrics
	// Progress is the progress bar (also among Options.Observers).
	Progress *report.Progress
}

// trainExtension adds flags to `sparknet train` and may take over the run
// (the parallel scheme registers one from its own file).
type trainExtension struct {
	// setFlags registers the extension's flags.
	setFlags func(fs *flag.FlagSet)
	// run trains when the extension's flags ask for it and reports
	// handled = true; otherwise it returns false and plain training runs.
	run func(ctx context.Context, r *TrainRun) (handled bool, err error)
}

var trainExtensions []trainExtension

// registerTrainExtension adds an extension; call it from an init function.
func registerTrainExtension(e trainExtension) { trainExtensions = append(trainExtensions, e) }

func init() {
	register(&Command{
		Name:      "train",
		UsageLine: "-solver FILE [-weights W1,W2 | -snapshot X.solverstate] [flags]",
		Short:     "train or fine-tune a model",
		Long: `Train trains the net of a Caffe solver file, as 'caffe train' does.

Log lines follow Caffe's ("Iteration N, loss = L", "Test net output #j: ...").
Metrics go as JSON lines to <snapshot_prefix>_metrics.jsonl (or -metrics):
one record per iteration {"iter","wall_s","lr","loss"} and one per test with
a key per test output. On a terminal a progress bar shows iterations, images
per second and the time left.

Snapshots are <snapshot_prefix>_iter_N.caffemodel and .solverstate (Caffe's
formats) plus a .sparknet run-state file; -snapshot X.solverstate resumes and
continues exactly as if the run had never stopped (a solver state written by
Caffe resumes too). -weights initialises from one or more .caffemodel files
(fine-tuning); it cannot be combined with -snapshot.`,
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&trainFlags.solver, "solver", "", "the solver definition (prototxt)")
			fs.StringVar(&trainFlags.weights, "weights", "", "pretrained weights to fine-tune from, comma-separated .caffemodel files")
			fs.StringVar(&trainFlags.snapshot, "snapshot", "", "a .solverstate to resume training from")
			fs.IntVar(&trainFlags.threads, "threads", 0, "compute threads (0: all cores)")
			fs.StringVar(&trainFlags.metrics, "metrics", "", "metrics file (JSON lines; default <snapshot_prefix>_metrics.jsonl)")
			fs.StringVar(&trainFlags.sigintEffect, "sigint_effect", "stop", "action on SIGINT: snapshot, stop or none")
			fs.StringVar(&trainFlags.sighupEffect, "sighup_effect", "snapshot", "action on SIGHUP: snapshot, stop or none")
			fs.IntVar(&trainFlags.level, "level", 0, "net level of the train net's state")
			fs.StringVar(&trainFlags.stage, "stage", "", "net stages of the train net's state, comma-separated")
			for _, e := range trainExtensions {
				e.setFlags(fs)
			}
		},
		Run: runTrain,
	})
}

func runTrain(ctx context.Context, args []string) error {
	f := &trainFlags
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	if f.solver == "" {
		return fmt.Errorf("need a solver definition to train (-solver): %w", errUsage)
	}
	if f.snapshot != "" && f.weights != "" {
		return fmt.Errorf("give -snapshot to resume training or -weights to fine-tune, not both: %w", errUsage)
	}
	onInt, err := solver.ParseAction(f.sigintEffect)
	if err != nil {
		return fmt.Errorf("-sigint_effect: %w", err)
	}
	onHup, err := solver.ParseAction(f.sighupEffect)
	if err != nil {
		return fmt.Errorf("-sighup_effect: %w", err)
	}
	if f.threads < 0 {
		return fmt.Errorf("-threads must not be negative: %w", errUsage)
	}
	blas.SetThreads(f.threads)

	param, err := caffe.LoadSolver(f.solver)
	if err != nil {
		return err
	}
	applyNetStateFlags(param)
	if f.snapshot != "" {
		param.Weights = nil
	} else if f.weights != "" {
		param.Weights = []string{f.weights}
	}

	resumeIter := 0
	if f.snapshot != "" {
		st, err := caffe.LoadSolverState(f.snapshot)
		if err != nil {
			return err
		}
		resumeIter = int(st.GetIter())
	}
	metricsPath := f.metrics
	if metricsPath == "" {
		metricsPath = report.MetricsPath(param.GetSnapshotPrefix())
	}
	metrics, err := report.OpenMetrics(metricsPath, resumeIter)
	if err != nil {
		return err
	}
	defer metrics.Close()
	progress := report.NewProgress(os.Stderr, int(param.GetMaxIter()))
	defer progress.Done()

	// Signals: SIGINT and SIGHUP act as -sigint_effect and -sighup_effect
	// say (Caffe's SignalHandler); SIGTERM stops. The context main hands us
	// is cancelled by SIGINT too, so training runs on one that is not.
	ctx = context.WithoutCancel(ctx)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGHUP, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var pending atomic.Int32
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case sig := <-sigs:
				a := solver.ActionStop
				switch sig {
				case os.Interrupt:
					a = onInt
				case syscall.SIGHUP:
					a = onHup
				}
				if a != solver.ActionNone {
					pending.Store(int32(a))
				}
			case <-done:
				return
			}
		}
	}()

	run := &TrainRun{
		SolverFile: f.solver,
		Param:      param,
		Snapshot:   f.snapshot,
		Options: solver.Options{
			Log:       progress.LogWriter(os.Stderr),
			Observers: []solver.Observer{metrics, progress},
			Action:    func() solver.Action { return solver.Action(pending.Swap(int32(solver.ActionNone))) },
			SolverDir: filepath.Dir(f.solver),
		},
		Metrics:  metrics,
		Progress: progress,
	}
	for _, e := range trainExtensions {
		handled, err := e.run(ctx, run)
		if handled || err != nil {
			return errors.Join(err, metrics.Close())
		}
	}
	if err := trainSingle(ctx, run); err != nil {
		return err
	}
	return metrics.Close()
}

// applyNetStateFlags puts -level and -stage into the solver's train_state, as
// 'caffe train' does (only when given, so a solver's own train_state stays).
func applyNetStateFlags(param *pb.SolverParameter) {
	set := map[string]bool{}
	commands["train"].Flags.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if !set["level"] && !set["stage"] {
		return
	}
	if param.TrainState == nil {
		param.TrainState = &pb.NetState{}
	}
	if set["level"] {
		l := int32(trainFlags.level)
		param.TrainState.Level = &l
	}
	for _, s := range strings.Split(trainFlags.stage, ",") {
		if s != "" {
			param.TrainState.Stage = append(param.TrainState.Stage, s)
		}
	}
}

// trainSingle trains on this process with one solver.
func trainSingle(ctx context.Context, r *TrainRun) error {
	log := r.Options.Log
	s, err := solver.New(r.Param, r.Options)
	if err != nil {
		return fmt.Errorf("%s: %w", r.SolverFile, err)
	}
	defer s.Close()
	if r.Snapshot != "" {
		fmt.Fprintf(log, "Resuming from %s\n", r.Snapshot)
		if err := s.Restore(r.Snapshot); err != nil {
			return err
		}
	}
	fmt.Fprintf(log, "Starting Optimization\n")
	if err := s.Solve(ctx); err != nil {
		return err
	}
	return nil
}
