package sparknet

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/engine/local"
	"github.com/sparknet/sparknet/parallel"
	"github.com/sparknet/sparknet/solver"
)

// Options configures Train. The zero value trains one plain solver on all
// cores.
type Options struct {
	// Workers is K: with K >= 1 the SparkNet scheme runs K workers, each on
	// partition i of K of the training data, combined every Tau iterations.
	// Zero trains one plain solver (Caffe's Solver::Solve).
	Workers, Tau int
	// Engine runs the workers; nil means the local engine (goroutines in
	// this process) with Threads threads.
	Engine parallel.Engine
	// Threads is the number of compute threads of the local engine and of a
	// plain solver (0: all cores).
	Threads int

	// Outer, Momentum and Codec choose the outer step (avg or nesterov), the
	// workers' history across rounds and the compression of their results.
	Outer    parallel.OuterConfig
	Momentum parallel.MomentumMode
	Codec    parallel.Codec
	// RoundDeadline and Quorum are the straggler and failure policy.
	RoundDeadline time.Duration
	Quorum        int
	// SyncLatency and SyncBandwidth model each round's communication;
	// VirtualClock adds it to the reported time instead of sleeping.
	SyncLatency   time.Duration
	SyncBandwidth float64
	VirtualClock  bool

	// SolverDir is where the solver's relative net files are looked up
	// (usually the solver file's directory).
	SolverDir string
	// Resume is a .solverstate to continue from.
	Resume string
	// Log receives Caffe-style log lines; Observers every train record and
	// test result (e.g. report.Metrics); Action is polled for snapshot and
	// stop requests.
	Log       io.Writer
	Observers []solver.Observer
	Action    func() solver.Action
}

// Result is the outcome of Train: the final global weights (flat, in the
// net's learnable-parameter order), the test results and, for a parallel
// run, its rounds and traffic.
type Result = parallel.Result

// Train trains the net of a solver definition (caffe.LoadSolver) with
// Caffe's semantics, on one solver or with the SparkNet scheme:
//
//	param, err := caffe.LoadSolver("examples/lenet/lenet_solver.prototxt")
//	res, err := sparknet.Train(ctx, param, sparknet.Options{Workers: 8, Tau: 50})
func Train(ctx context.Context, param *pb.SolverParameter, opt Options) (*Result, error) {
	if param == nil {
		return nil, errors.New("sparknet: no solver definition")
	}
	if opt.Workers < 0 {
		return nil, errors.New("sparknet: Workers must not be negative")
	}
	if opt.Workers == 0 {
		return trainSingle(ctx, param, opt)
	}
	tau := opt.Tau
	if tau == 0 {
		tau = 1
	}
	eng := opt.Engine
	if eng == nil {
		eng = local.New(local.Options{Threads: opt.Threads})
	}
	return parallel.Train(ctx, parallel.Config{
		Solver: param, SolverDir: opt.SolverDir,
		Workers: opt.Workers, Tau: tau,
		Outer: opt.Outer, Momentum: opt.Momentum, Codec: opt.Codec,
		RoundDeadline: opt.RoundDeadline, Quorum: opt.Quorum,
		SyncLatency: opt.SyncLatency, SyncBandwidth: opt.SyncBandwidth, VirtualClock: opt.VirtualClock,
		Resume: opt.Resume,
		Log:    opt.Log, Observers: opt.Observers, Action: opt.Action,
	}, eng)
}

// testCollector keeps the test results of a plain solver.
type testCollector struct{ tests []solver.TestResult }

func (c *testCollector) OnTrain(solver.TrainRecord) {}
func (c *testCollector) OnTest(r solver.TestResult) { c.tests = append(c.tests, r) }

// trainSingle trains one plain solver.
func trainSingle(ctx context.Context, param *pb.SolverParameter, opt Options) (*Result, error) {
	if opt.Engine != nil {
		return nil, errors.New("sparknet: an Engine needs Workers >= 1")
	}
	if opt.Threads > 0 {
		blas.SetThreads(opt.Threads) // the process-wide compute pool
	}
	tc := &testCollector{}
	s, err := solver.New(param, solver.Options{
		Log: opt.Log, Observers: append(append([]solver.Observer(nil), opt.Observers...), tc),
		Action: opt.Action, SolverDir: opt.SolverDir,
	})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if opt.Resume != "" {
		if err := s.Restore(opt.Resume); err != nil {
			return nil, err
		}
	}
	if err := s.Solve(ctx); err != nil {
		return nil, err
	}
	layout := parallel.LayoutOf(s.Net())
	w := make([]float32, layout.Len())
	layout.Gather(w, s.Net().Params())
	return &Result{Iter: s.Iter(), Weights: w, Layout: layout, Tests: tc.tests, Wall: s.Wall()}, nil
}
