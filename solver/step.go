package solver

import (
	"context"
	"fmt"
	"math"
)

// NonFiniteLossError reports a training loss that became NaN or infinite.
// The update of that iteration is not applied.
type NonFiniteLossError struct {
	Iter int
	Loss float32
}

func (e *NonFiniteLossError) Error() string {
	return fmt.Sprintf("iteration %d: the training loss is %s; stopping without applying the update (lower base_lr or check the data)", e.Iter, fmtG(e.Loss))
}

// Gradients clears the parameter gradients and runs iter_size forward and
// backward passes of the train net, accumulating the gradients; it returns
// the mean loss of the passes.
func (s *Solver) Gradients() (float32, error) {
	s.net.ClearParamDiffs()
	n := int(s.param.GetIterSize())
	var loss float32
	for i := 0; i < n; i++ {
		l, err := s.net.ForwardBackward()
		if err != nil {
			return 0, fmt.Errorf("iteration %d: %w", s.iter, err)
		}
		loss += l
	}
	return loss / float32(n), nil
}

// Step runs n training iterations: for each, Gradients, a check that the loss
// is finite, the smoothed-loss bookkeeping, ApplyUpdate with the learning
// rate of the current iteration, and the increment of the iteration counter.
// It does not test, log or snapshot (Solve does). It stops early with
// ctx.Err() when ctx is cancelled between iterations, and with a
// *NonFiniteLossError when the loss is NaN or infinite.
func (s *Solver) Step(ctx context.Context, n int) error {
	for k := 0; k < n; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		loss, err := s.Gradients()
		if err != nil {
			return err
		}
		if math.IsNaN(float64(loss)) || math.IsInf(float64(loss), 0) {
			return &NonFiniteLossError{Iter: s.iter, Loss: loss}
		}
		s.lastLoss = loss
		s.updateSmoothedLoss(loss)
		s.ApplyUpdate()
		s.iter++
	}
	return nil
}

// updateSmoothedLoss is Caffe's UpdateSmoothedLoss, in float32: the running
// mean of the last average_loss losses.
func (s *Solver) updateSmoothedLoss(loss float32) {
	avg := int(s.param.GetAverageLoss())
	if len(s.losses) < avg {
		s.losses = append(s.losses, loss)
		size := len(s.losses)
		s.smoothed = (s.smoothed*float32(size-1) + loss) / float32(size)
	} else {
		idx := s.lossCount % avg
		s.smoothed += (loss - s.losses[idx]) / float32(avg)
		s.losses[idx] = loss
	}
	s.lossCount++
}
