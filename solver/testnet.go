package solver

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// ErrStopped is returned by Test and TestAll when a stop was requested
// through Options.Action while testing. Solve treats it as Caffe does a
// requested early exit: it snapshots (snapshot_after_train) and returns nil.
var ErrStopped = errors.New("stop requested")

// Output is one value a net produces: one element of an output blob.
type Output struct {
	// Name is the blob's name, with "[k]" appended for element k of an
	// output blob that has more than one element.
	Name string
	// Value is the output's value (for a test: its mean over test_iter
	// batches).
	Value float32
	// LossWeight is the blob's loss weight (0 for a non-loss output).
	LossWeight float32
}

// TestResult is the outcome of testing one test net.
type TestResult struct {
	// Iter is the iteration at which the test ran; Net is the test net's
	// index.
	Iter, Net int
	// Wall is the time since the start of solving.
	Wall time.Duration
	// Outputs are the mean output values over the test_iter batches, in the
	// order Caffe prints "Test net output #j".
	Outputs []Output
	// Loss is the mean loss over the batches, set when test_compute_loss is.
	Loss    float32
	HasLoss bool
}

// Value returns the output with the given name and whether it exists.
func (r TestResult) Value(name string) (float32, bool) {
	for _, o := range r.Outputs {
		if o.Name == name {
			return o.Value, true
		}
	}
	return 0, false
}

// Test evaluates test net i (Caffe's Solver::Test): it shares the train
// net's current weights, runs test_iter forward passes and averages every
// output element over them, in float32 as Caffe does. Requests from
// Options.Action are served between batches: a snapshot is taken, a stop
// ends the test with ErrStopped.
func (s *Solver) Test(i int) (TestResult, error) {
	if i < 0 || i >= len(s.testNets) {
		return TestResult{}, fmt.Errorf("test net #%d does not exist (the solver has %d)", i, len(s.testNets))
	}
	s.logf("Iteration %d, Testing net (#%d)", s.iter, i)
	net := s.testNets[i]
	if err := net.ShareTrainedLayersWith(s.net); err != nil {
		return TestResult{}, fmt.Errorf("test net #%d: %w", i, err)
	}
	iters := int(s.param.GetTestIter()[i])
	var scores []float32
	var loss float32
	for it := 0; it < iters; it++ {
		if err := s.serveActions(); err != nil {
			s.logf("Test interrupted.")
			return TestResult{}, err
		}
		l, err := net.Forward()
		if err != nil {
			return TestResult{}, fmt.Errorf("iteration %d: test net #%d, batch %d: %w", s.iter, i, it, err)
		}
		if s.param.GetTestComputeLoss() {
			loss += l
		}
		k := 0
		for _, b := range net.Outputs() {
			for _, v := range b.Data {
				if it == 0 {
					scores = append(scores, v)
				} else {
					scores[k] += v
				}
				k++
			}
		}
	}
	r := TestResult{Iter: s.iter, Net: i, Wall: s.Wall()}
	if s.param.GetTestComputeLoss() && iters > 0 {
		r.Loss, r.HasLoss = loss/float32(iters), true
		s.logf("Test loss: %s", fmtG(r.Loss))
	}
	if iters > 0 {
		names := net.OutputNames()
		k := 0
		for j, b := range net.Outputs() {
			w := net.BlobLossWeight(names[j])
			for e := range b.Data {
				name := names[j]
				if len(b.Data) > 1 {
					name += "[" + strconv.Itoa(e) + "]"
				}
				mean := scores[k] / float32(iters)
				s.logf("    Test net output #%d: %s", k, FormatOutput(names[j], mean, w))
				r.Outputs = append(r.Outputs, Output{Name: name, Value: mean, LossWeight: w})
				k++
			}
		}
	}
	return r, nil
}

// TestAll tests every test net in order (Caffe's TestAll).
func (s *Solver) TestAll() ([]TestResult, error) {
	var rs []TestResult
	for i := range s.testNets {
		if s.requestedExit {
			return rs, ErrStopped
		}
		r, err := s.Test(i)
		if err != nil {
			return rs, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// serveActions polls Options.Action until it has nothing more, taking the
// snapshots asked for; it returns ErrStopped once a stop was requested.
func (s *Solver) serveActions() error {
	if s.opt.Action != nil {
		for a := s.opt.Action(); a != ActionNone; a = s.opt.Action() {
			switch a {
			case ActionSnapshot:
				if err := s.Snapshot(); err != nil {
					return err
				}
			case ActionStop:
				s.requestedExit = true
			}
		}
	}
	if s.requestedExit {
		return ErrStopped
	}
	return nil
}
