package solver

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Wall returns the time spent solving: since the start of Solve, plus the
// time recorded in the run state a resume restored.
func (s *Solver) Wall() time.Duration {
	if s.started.IsZero() {
		return s.wallBase
	}
	return s.wallBase + time.Since(s.started)
}

// Solve trains until max_iter as Caffe's Solver::Solve: before an iteration
// whose index is a multiple of test_interval it tests every test net (at
// iteration 0 only with test_initialization); at display intervals it logs
// the smoothed loss, the train net's outputs and the learning rate; after an
// update that makes the iteration a multiple of snapshot it snapshots. At the
// end it snapshots (snapshot_after_train, unless that iteration was just
// snapshotted), and, as Caffe, runs one more forward pass to display the loss
// and one more test when the final iteration falls on those intervals.
//
// A stop requested through Options.Action, or the cancellation of ctx, ends
// training early after the final snapshot, and Solve returns nil. A NaN or
// infinite loss ends it with a *NonFiniteLossError and no snapshot, so the
// last snapshot on disk is the last good state.
func (s *Solver) Solve(ctx context.Context) error {
	p := s.param
	s.logf("Solving %s", s.net.Name())
	s.logf("Learning Rate Policy: %s", p.GetLrPolicy())
	s.requestedExit = false
	s.started = time.Now()
	if err := s.checkSnapshotWritable(); err != nil {
		return err
	}
	maxIter := int(p.GetMaxIter())
	display := int(p.GetDisplay())
	testInterval := int(p.GetTestInterval())
	snapshot := int(p.GetSnapshot())
	images := s.BatchSize()
	timer, itersLast := time.Now(), s.iter

	for s.iter < maxIter {
		if testInterval > 0 && s.iter%testInterval == 0 && (s.iter > 0 || p.GetTestInitialization()) {
			if err := s.testAllObserved(); err != nil {
				if errors.Is(err, ErrStopped) {
					break
				}
				return err
			}
		}
		it := s.iter
		if err := s.Step(ctx, 1); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				s.logf("Stopping: %v", context.Cause(ctx))
				s.requestedExit = true
				break
			}
			return err
		}
		if display > 0 && it%display == 0 {
			lapse := time.Since(timer).Seconds()
			if lapse == 0 {
				lapse = 1
			}
			s.logf("Iteration %d (%s iter/s, %ss/%d iters), loss = %s", it,
				fmtG64(float64(float32(float64(it-itersLast)/lapse))), fmtG64(float64(float32(lapse))), display, fmtG(s.smoothed))
			timer, itersLast = time.Now(), it
			s.logOutputs("Train net output")
			s.logf("Iteration %d, lr = %s", it, fmtG(s.rate))
		}
		rec := TrainRecord{Iter: it, Wall: s.Wall(), LR: s.rate, Loss: s.lastLoss, Smoothed: s.smoothed, Images: images}
		for _, o := range s.opt.Observers {
			o.OnTrain(rec)
		}

		req := ActionNone
		if s.opt.Action != nil {
			req = s.opt.Action()
		}
		if (snapshot > 0 && s.iter%snapshot == 0) || req == ActionSnapshot {
			if err := s.Snapshot(); err != nil {
				return err
			}
		}
		if req == ActionStop {
			s.requestedExit = true
			break
		}
	}
	if p.GetSnapshotAfterTrain() && (snapshot == 0 || s.iter%snapshot != 0) {
		if err := s.Snapshot(); err != nil {
			return err
		}
	}
	if s.requestedExit {
		s.logf("Optimization stopped early.")
		return nil
	}
	if display > 0 && s.iter%display == 0 {
		loss, err := s.net.Forward()
		if err != nil {
			return fmt.Errorf("iteration %d: %w", s.iter, err)
		}
		s.updateSmoothedLoss(loss)
		s.logf("Iteration %d, loss = %s", s.iter, fmtG(s.smoothed))
	}
	if testInterval > 0 && s.iter%testInterval == 0 {
		if err := s.testAllObserved(); err != nil && !errors.Is(err, ErrStopped) {
			return err
		}
	}
	s.logf("Optimization Done.")
	return nil
}

// testAllObserved runs TestAll and hands each result to the observers.
func (s *Solver) testAllObserved() error {
	rs, err := s.TestAll()
	for _, r := range rs {
		for _, o := range s.opt.Observers {
			o.OnTest(r)
		}
	}
	return err
}

// logOutputs logs every element of the train net's outputs as Caffe's
// display does ("    Train net output #j: name = v (* w = l loss)").
func (s *Solver) logOutputs(what string) {
	if s.log == nil {
		return
	}
	names := s.net.OutputNames()
	k := 0
	for j, b := range s.net.Outputs() {
		w := s.net.BlobLossWeight(names[j])
		for _, v := range b.Data {
			s.logf("    %s #%d: %s", what, k, FormatOutput(names[j], v, w))
			k++
		}
	}
}

// checkSnapshotWritable probes the snapshot prefix, as Caffe's
// CheckSnapshotWritePermissions, so a bad prefix fails before training
// rather than at the first snapshot.
func (s *Solver) checkSnapshotWritable() error {
	p := s.param
	if p.GetSnapshot() == 0 && !p.GetSnapshotAfterTrain() {
		return nil
	}
	probe := s.SnapshotFilename(".tempfile")
	f, err := os.Create(probe)
	if err != nil {
		return fmt.Errorf("cannot write to snapshot prefix %q; make sure its directory exists and is writable: %w", p.GetSnapshotPrefix(), err)
	}
	f.Close()
	os.Remove(probe)
	return nil
}
