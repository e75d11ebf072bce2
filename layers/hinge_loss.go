package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("HingeLoss", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &HingeLoss{norm: p.GetHingeLossParam().GetNorm()}
		if l.norm != pb.HingeLossParameter_L1 && l.norm != pb.HingeLossParameter_L2 {
			return nil, fmt.Errorf("unknown hinge_loss_param.norm %d", l.norm)
		}
		return l, nil
	})
}

// HingeLoss is the one-vs-all hinge loss of scores bottom[0] (N x K) for
// integer labels bottom[1]: with t_k = +1 for the true class and -1
// otherwise, the loss is sum_{n,k} max(0, 1 - t_k x_nk)^p / N, p = 1 (L1,
// the default) or 2 (L2). A label outside [0, K) is reported by Err and
// treated as no true class.
type HingeLoss struct {
	norm pb.HingeLossParameter_Norm
	num  int
	dim  int
	m    []float32 // max(0, 1 - t x)
	err  error
}

// Type returns "HingeLoss".
func (l *HingeLoss) Type() string { return "HingeLoss" }

// Arity is two bottoms and one top.
func (l *HingeLoss) Arity() Arity { return lossArity }

// IsLoss reports that the top is a loss.
func (l *HingeLoss) IsLoss() bool { return true }

// AllowForceBackward excludes the labels.
func (l *HingeLoss) AllowForceBackward(bottom int) bool { return bottom != 1 }

// Params returns nil.
func (l *HingeLoss) Params() []*tensor.Blob { return nil }

// Err reports a label out of range in the last Forward.
func (l *HingeLoss) Err() error { return l.err }

// Setup has nothing to check.
func (l *HingeLoss) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape checks the bottoms and makes the top a scalar.
func (l *HingeLoss) Reshape(bottom, top []*tensor.Blob) error {
	if err := checkLossBottoms(bottom); err != nil {
		return err
	}
	l.num = bottom[0].Dim(0)
	l.dim = 0
	if l.num > 0 {
		l.dim = bottom[0].Count() / l.num
	}
	if bottom[1].Count() < l.num {
		return fmt.Errorf("need one label per example: %s vs %s", bottom[0].ShapeString(), bottom[1].ShapeString())
	}
	l.m = growFloats(l.m, bottom[0].Count())
	top[0].Reshape()
	return nil
}

// label returns example n's label, or -1 (and records the error) when it is
// out of range.
func (l *HingeLoss) label(labels []float32, n int) int {
	k := int(labels[n])
	if k < 0 || k >= l.dim {
		if l.err == nil {
			l.err = fmt.Errorf("label %g of example %d is outside [0, %d): %w", labels[n], n, l.dim, errBadIndex)
		}
		return -1
	}
	return k
}

// Forward computes the loss.
func (l *HingeLoss) Forward(bottom, top []*tensor.Blob) {
	l.err = nil
	x, labels := bottom[0].Data, bottom[1].Data
	m := l.m[:len(x)]
	copy(m, x)
	for n := 0; n < l.num; n++ {
		if k := l.label(labels, n); k >= 0 {
			m[n*l.dim+k] *= -1
		}
	}
	for i, v := range m {
		m[i] = max(0, 1+v)
	}
	var loss float32
	if l.norm == pb.HingeLossParameter_L1 {
		loss = float32(sum64(m)) // m >= 0: the absolute sum
	} else {
		loss = float32(dot64(m, m))
	}
	top[0].Data[0] = loss / float32(l.num)
}

// Backward computes the gradient of the chosen norm.
func (l *HingeLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	dx, labels := bottom[0].Diff, bottom[1].Data
	dx = dx[:len(l.m)]
	copy(dx, l.m)
	for n := 0; n < l.num; n++ {
		k := int(labels[n])
		if k >= 0 && k < l.dim {
			dx[n*l.dim+k] *= -1
		}
	}
	w := top[0].Diff[0]
	if l.norm == pb.HingeLossParameter_L1 {
		s := w / float32(l.num)
		for i, v := range dx {
			switch {
			case v > 0:
				dx[i] = s
			case v < 0:
				dx[i] = -s
			default:
				dx[i] = 0
			}
		}
		return
	}
	s := w * 2 / float32(l.num)
	for i := range dx {
		dx[i] *= s
	}
}
