// Package solver trains a net with Caffe's solvers: SGD, Nesterov, AdaGrad,
// RMSProp, AdaDelta and Adam, with Caffe's exact update rules, learning-rate
// policies (fixed, step, exp, inv, multistep, poly, sigmoid), weight decay (L2
// and L1, with each parameter's decay_mult), gradient clipping, iter_size
// accumulation, smoothed-loss display, test nets and snapshots.
//
// A Solver separates the training step from the loop around it. Step runs
// iterations and nothing else (no tests, logs or snapshots), so the parallel
// scheme can drive many solvers round by round; Solve is Caffe's
// Solver::Solve built on Step, Test and Snapshot.
//
// Snapshots are Caffe's: <snapshot_prefix>_iter_N.caffemodel and
// .solverstate, readable by Caffe, plus a sidecar <prefix>_iter_N.sparknet
// with what Caffe's solver state lacks (the nets' random-number state, the
// data layers' positions, the smoothed-loss window), so that a resumed run
// continues bit for bit as if it had never stopped.
package solver

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/nn"
	"github.com/sparknet/sparknet/tensor"
)

// Options adjusts how a Solver is built and what it reports.
type Options struct {
	// OverrideSeed makes the solver use Seed instead of the solver's
	// random_seed. A negative seed (either way) means a time-based seed, as
	// Caffe's default random_seed -1.
	OverrideSeed bool
	Seed         int64
	// Shard and Shards select the part of the training data the train net
	// reads (shard Shard of Shards; Shards <= 1: all of it). Test nets always
	// read all of their data.
	Shard, Shards int
	// Log receives Caffe's log lines (nil: none).
	Log io.Writer
	// Observers receive a record per training iteration and per test, from
	// Solve.
	Observers []Observer
	// Action is polled once per iteration and during tests, as Caffe's
	// action callback (signals): it returns what the user asked for since the
	// last call. Nil means never anything.
	Action func() Action
	// NoTestNets skips building the test nets (e.g. for the workers of the
	// parallel scheme, which only train); TestNets is then empty and Solve
	// does not test.
	NoTestNets bool
	// SolverDir is where a relative net file name (net, train_net, test_net)
	// is looked up when it does not exist relative to the working directory,
	// which is where Caffe looks. Usually the solver file's directory.
	SolverDir string
}

// Action is a request from outside the solver, e.g. a signal.
type Action int

// The actions of Caffe's SolverAction.
const (
	ActionNone Action = iota
	ActionStop
	ActionSnapshot
)

// ParseAction reads "stop", "snapshot" or "none" (Caffe's -sigint_effect and
// -sighup_effect values).
func ParseAction(s string) (Action, error) {
	switch s {
	case "stop":
		return ActionStop, nil
	case "snapshot":
		return ActionSnapshot, nil
	case "none":
		return ActionNone, nil
	}
	return ActionNone, fmt.Errorf("invalid signal effect %q (want snapshot, stop or none)", s)
}

// Observer receives the solver's progress from Solve.
type Observer interface {
	// OnTrain is called after every training iteration.
	OnTrain(TrainRecord)
	// OnTest is called after every completed test of a test net.
	OnTest(TestResult)
}

// TrainRecord describes one training iteration.
type TrainRecord struct {
	// Iter is the iteration's index (Caffe's "Iteration N"): the number of
	// updates made before it.
	Iter int
	// Wall is the time since the start of solving (continued across a
	// resume from a snapshot with a sidecar).
	Wall time.Duration
	// LR is the learning rate the iteration's update used.
	LR float32
	// Loss is the iteration's loss (the mean over iter_size passes);
	// Smoothed is Caffe's displayed loss, the mean of the last average_loss
	// iterations.
	Loss, Smoothed float32
	// Images is the number of examples the iteration consumed (batch size
	// times iter_size).
	Images int
}

// Solver trains one net and evaluates its test nets.
type Solver struct {
	param    *pb.SolverParameter
	opt      Options
	log      io.Writer
	method   Method
	l1       bool
	seed     int64
	net      *nn.Net
	testNets []*nn.Net

	params  []*tensor.Blob
	info    []nn.ParamInfo
	history []*tensor.Blob
	kernels []func(lo, hi int)

	iter        int
	currentStep int
	// Values of the update in progress, read by the kernels.
	rate, adamCorrection float32

	// Caffe's smoothed loss: a ring of the last average_loss losses.
	losses    []float32
	lossCount int
	smoothed  float32
	lastLoss  float32

	// Wall clock: wallBase is the solving time spent before (restored from
	// a run state), started the start of the current Solve.
	wallBase time.Duration
	started  time.Time

	requestedExit bool
}

// New builds the solver's train and test nets from param (an upgraded
// SolverParameter, e.g. from caffe.LoadSolver), allocates its history and
// loads the weights the solver's own weights field names (as Caffe's
// Solver::Init). Use CopyWeights for more weights (-weights) and Restore to
// resume from a snapshot.
func New(param *pb.SolverParameter, opt Options) (*Solver, error) {
	s := &Solver{param: param, opt: opt, log: opt.Log}
	if err := s.check(); err != nil {
		return nil, err
	}
	s.seed = param.GetRandomSeed()
	if opt.OverrideSeed {
		s.seed = opt.Seed
	}
	if s.seed < 0 {
		s.seed = time.Now().UnixNano() & (1<<62 - 1)
		s.logf("random_seed not set; using seed %d", s.seed)
	}
	if err := s.initNets(); err != nil {
		return nil, err
	}
	s.params = s.net.Params()
	s.info = s.net.ParamInfo()
	if len(s.info) != len(s.params) {
		return nil, fmt.Errorf("net %q: %d parameter infos for %d parameters", s.net.Name(), len(s.info), len(s.params))
	}
	per := s.method.historyPerParam()
	s.history = make([]*tensor.Blob, 0, per*len(s.params))
	for k := 0; k < per; k++ {
		for _, p := range s.params {
			s.history = append(s.history, tensor.New(p.Shape()...))
		}
	}
	s.makeKernels()
	for _, w := range param.GetWeights() {
		if err := s.CopyWeights(w); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// check validates the solver parameters, as the CHECKs of Caffe's solver
// constructors and Init do, returning errors instead of aborting.
func (s *Solver) check() error {
	p := s.param
	var err error
	if s.method, err = methodOf(p); err != nil {
		return err
	}
	if err := checkMethod(s.method, p); err != nil {
		return err
	}
	if err := checkLRPolicy(p); err != nil {
		return err
	}
	if p.GetAverageLoss() < 1 {
		return fmt.Errorf("average_loss must be at least 1, got %d", p.GetAverageLoss())
	}
	if p.GetIterSize() < 1 {
		return fmt.Errorf("iter_size must be at least 1, got %d", p.GetIterSize())
	}
	if p.GetMaxIter() < 0 {
		return fmt.Errorf("max_iter must not be negative, got %d", p.GetMaxIter())
	}
	switch p.GetRegularizationType() {
	case "L2":
	case "L1":
		s.l1 = true
	default:
		return fmt.Errorf("unknown regularization_type %q (want L2 or L1)", p.GetRegularizationType())
	}
	if p.GetSnapshotFormat() == pb.SolverParameter_HDF5 {
		return errors.New("snapshot_format HDF5 is not supported; use BINARYPROTO (the default)")
	}
	if p.GetSnapshot() < 0 || p.GetDisplay() < 0 || p.GetTestInterval() < 0 {
		return errors.New("snapshot, display and test_interval must not be negative")
	}
	if p.GetSnapshot() > 0 && p.SnapshotPrefix == nil {
		return errors.New("snapshot is specified but snapshot_prefix is not")
	}
	return nil
}

// withSolverDir returns the solver parameters with every relative net file
// name that does not exist relative to the working directory (where Caffe
// looks) but does in Options.SolverDir rewritten to the latter.
func (s *Solver) withSolverDir() *pb.SolverParameter {
	p := s.param
	dir := s.opt.SolverDir
	if dir == "" {
		return p
	}
	resolve := func(name string) string {
		if filepath.IsAbs(name) || fileExists(name) {
			return name
		}
		if alt := filepath.Join(dir, name); fileExists(alt) {
			return alt
		}
		return name
	}
	c := proto.Clone(p).(*pb.SolverParameter)
	if c.Net != nil {
		c.Net = proto.String(resolve(c.GetNet()))
	}
	if c.TrainNet != nil {
		c.TrainNet = proto.String(resolve(c.GetTrainNet()))
	}
	for i, f := range c.TestNet {
		c.TestNet[i] = resolve(f)
	}
	return c
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// initNets builds the train net and the test nets the solver describes, as
// Caffe's Solver::InitTrainNet and InitTestNets (see caffe.SolverNets). The
// test nets share the train net's weights.
func (s *Solver) initNets() error {
	for i, it := range s.param.TestIter {
		if it < 0 {
			return fmt.Errorf("test_iter #%d is negative (%d)", i, it)
		}
	}
	trainParam, testParams, err := caffe.SolverNets(s.withSolverDir())
	if err != nil {
		return err
	}
	s.net, err = nn.New(trainParam, trainParam.State, nn.Options{Seed: netSeed(s.seed, 0), Shard: s.opt.Shard, Shards: s.opt.Shards})
	if err != nil {
		return fmt.Errorf("train net: %w", err)
	}
	if s.opt.NoTestNets {
		return nil
	}
	for i, np := range testParams {
		net, err := nn.New(np, np.State, nn.Options{Seed: netSeed(s.seed, i+1)})
		if err != nil {
			return fmt.Errorf("test net #%d: %w", i, err)
		}
		if err := net.ShareTrainedLayersWith(s.net); err != nil {
			return fmt.Errorf("test net #%d: %w", i, err)
		}
		s.testNets = append(s.testNets, net)
	}
	return nil
}

// netSeed derives the seed of net k (0: the train net, k: test net k-1)
// from the run's seed with SplitMix64, so the nets draw independent streams.
func netSeed(seed int64, k int) uint64 {
	z := uint64(seed) + uint64(k+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// CopyWeights loads pretrained weights into the train and test nets, by
// layer name (Caffe's -weights): list is one .caffemodel path or several
// separated by commas, loaded in order.
func (s *Solver) CopyWeights(list string) error {
	for _, path := range strings.Split(list, ",") {
		if path == "" {
			continue
		}
		s.logf("Finetuning from %s", path)
		w, err := caffe.LoadWeights(path)
		if err != nil {
			return err
		}
		if err := s.net.CopyTrainedLayersFrom(w); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		for i, tn := range s.testNets {
			if err := tn.CopyTrainedLayersFrom(w); err != nil {
				return fmt.Errorf("%s: test net #%d: %w", path, i, err)
			}
		}
	}
	return nil
}

// Param returns the solver parameters.
func (s *Solver) Param() *pb.SolverParameter { return s.param }

// Method returns the update rule.
func (s *Solver) Method() Method { return s.method }

// Seed returns the seed the nets were built with (the time-based one when
// random_seed was negative).
func (s *Solver) Seed() int64 { return s.seed }

// Net returns the train net.
func (s *Solver) Net() *nn.Net { return s.net }

// TestNets returns the test nets, in Caffe's order.
func (s *Solver) TestNets() []*nn.Net { return s.testNets }

// Iter returns the number of updates made so far.
func (s *Solver) Iter() int { return s.iter }

// SetIter sets the iteration counter, which drives the learning-rate
// schedule and Adam's bias correction (e.g. to a global iteration of the
// parallel scheme). For the step and multistep policies it also sets the
// current step to where a run reaching iter one update at a time would be.
func (s *Solver) SetIter(iter int) {
	s.iter = iter
	switch s.param.GetLrPolicy() {
	case "step":
		s.currentStep = iter / int(s.param.GetStepsize())
	case "multistep":
		s.currentStep = multistepFor(s.param, iter)
	}
}

// History returns the solver's history blobs, one per learnable parameter
// (momentum for SGD and Nesterov, the accumulated squared gradient for
// AdaGrad and RMSProp), followed for AdaDelta and Adam by a second set
// (accumulated squared updates, resp. the second moment) — Caffe's history_
// order, as saved in the solver state. The blobs may be modified.
func (s *Solver) History() []*tensor.Blob { return s.history }

// LearningRate returns the rate the update of the current iteration will use.
func (s *Solver) LearningRate() float32 {
	step := s.currentStep
	return learningRate(s.param, s.iter, &step)
}

// SmoothedLoss returns Caffe's displayed loss: the mean loss of the last
// average_loss iterations.
func (s *Solver) SmoothedLoss() float32 { return s.smoothed }

// LastLoss returns the loss of the last iteration Step ran.
func (s *Solver) LastLoss() float32 { return s.lastLoss }

// BatchSize returns the number of examples one iteration consumes: the
// first dimension of the train net's first input or data blob, times
// iter_size. It is 0 when the net has no such blob.
func (s *Solver) BatchSize() int {
	if len(s.net.Layers()) == 0 {
		return 0
	}
	for _, t := range s.net.Tops(0) {
		if t.NumAxes() > 0 {
			return t.Shape()[0] * int(s.param.GetIterSize())
		}
	}
	return 0
}

// Close releases the data sources of the training net and of every test
// net (see nn.Net.Close). The solver must not run after Close.
func (s *Solver) Close() error {
	errs := []error{s.net.Close()}
	for _, tn := range s.testNets {
		errs = append(errs, tn.Close())
	}
	return errors.Join(errs...)
}
