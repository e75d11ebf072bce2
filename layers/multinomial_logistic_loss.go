package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("MultinomialLogisticLoss", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		return &MultinomialLogisticLoss{}, nil
	})
}

// logThreshold is Caffe's kLOG_THRESHOLD: probabilities are clamped to it
// before taking logarithms.
const logThreshold = 1e-20

// MultinomialLogisticLoss is -sum_n log(p_n,label_n) / N for probabilities
// bottom[0] (N x K, e.g. a Softmax output) and integer labels bottom[1]
// (N x 1 x 1 x 1), with probabilities clamped at 1e-20. A label outside
// [0, K) is reported by Err and skipped.
type MultinomialLogisticLoss struct {
	num, dim int
	err      error
}

// Type returns "MultinomialLogisticLoss".
func (l *MultinomialLogisticLoss) Type() string { return "MultinomialLogisticLoss" }

// Arity is two bottoms and one top.
func (l *MultinomialLogisticLoss) Arity() Arity { return lossArity }

// IsLoss reports that the top is a loss.
func (l *MultinomialLogisticLoss) IsLoss() bool { return true }

// AllowForceBackward excludes the labels.
func (l *MultinomialLogisticLoss) AllowForceBackward(bottom int) bool { return bottom != 1 }

// Params returns nil.
func (l *MultinomialLogisticLoss) Params() []*tensor.Blob { return nil }

// Err reports a label out of range in the last Forward.
func (l *MultinomialLogisticLoss) Err() error { return l.err }

// Setup has nothing to check.
func (l *MultinomialLogisticLoss) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape checks the bottoms and makes the top a scalar.
func (l *MultinomialLogisticLoss) Reshape(bottom, top []*tensor.Blob) error {
	if err := checkLossBottoms(bottom); err != nil {
		return err
	}
	lb := bottom[1]
	if lb.NumAxes() > 4 || lb.Channels() != 1 || lb.Height() != 1 || lb.Width() != 1 {
		return fmt.Errorf("labels must be N x 1 x 1 x 1, got %s", lb.ShapeString())
	}
	l.num = bottom[0].Dim(0)
	l.dim = 0
	if l.num > 0 {
		l.dim = bottom[0].Count() / l.num
	}
	top[0].Reshape()
	return nil
}

// Forward computes the loss.
func (l *MultinomialLogisticLoss) Forward(bottom, top []*tensor.Blob) {
	l.err = nil
	p, labels := bottom[0].Data, bottom[1].Data
	var loss float32
	for n := 0; n < l.num; n++ {
		k := int(labels[n])
		if k < 0 || k >= l.dim {
			if l.err == nil {
				l.err = fmt.Errorf("label %g of example %d is outside [0, %d): %w", labels[n], n, l.dim, errBadIndex)
			}
			continue
		}
		prob := max(p[n*l.dim+k], logThreshold)
		loss -= float32(math.Log(float64(prob)))
	}
	top[0].Data[0] = loss / float32(l.num)
}

// Backward computes -weight / (N p) at each label, zero elsewhere.
func (l *MultinomialLogisticLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	p, labels, dx := bottom[0].Data, bottom[1].Data, bottom[0].Diff
	clear(dx)
	scale := -top[0].Diff[0] / float32(l.num)
	for n := 0; n < l.num; n++ {
		k := int(labels[n])
		if k < 0 || k >= l.dim {
			continue
		}
		dx[n*l.dim+k] = scale / max(p[n*l.dim+k], logThreshold)
	}
}
