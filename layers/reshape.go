package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Reshape", newReshape)
}

// Reshape is Caffe's ReshapeLayer: the bottom's axes [axis, axis+num_axes)
// are replaced by reshape_param.shape, in which 0 copies the bottom's
// dimension and one -1 is inferred from the count. The top shares the
// bottom's values and gradients.
type Reshape struct {
	dims         []int
	axis         int
	numAxes      int
	copyAxes     []int
	inferredAxis int
	constCount   int
	shape        []int
}

func newReshape(p *pb.LayerParameter, ctx *Context) (Layer, error) {
	rp := p.GetReshapeParam()
	l := &Reshape{axis: int(rp.GetAxis()), numAxes: int(rp.GetNumAxes()), inferredAxis: -1, constCount: 1}
	if l.numAxes < -1 {
		return nil, fmt.Errorf("reshape_param.num_axes must be >= 0, or -1 for all; got %d", l.numAxes)
	}
	for i, d := range rp.GetShape().GetDim() {
		switch {
		case d == 0:
			l.copyAxes = append(l.copyAxes, i)
		case d == -1:
			if l.inferredAxis != -1 {
				return nil, errors.New("new shape contains multiple -1 dims; at most a single (1) value of -1 may be specified")
			}
			l.inferredAxis = i
		case d < -1:
			return nil, fmt.Errorf("reshape_param.shape dimension %d is %d; want a positive size, 0 (copy) or -1 (infer)", i, d)
		default:
			l.constCount *= int(d)
		}
		l.dims = append(l.dims, int(d))
	}
	return l, nil
}

// Type returns "Reshape".
func (l *Reshape) Type() string { return "Reshape" }

// Arity is one bottom and one top.
func (l *Reshape) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *Reshape) Params() []*tensor.Blob { return nil }

// Setup checks that the layer is not in place.
func (l *Reshape) Setup(bottom, top []*tensor.Blob) error {
	if bottom[0] == top[0] {
		return errors.New("Reshape layer does not allow in-place computation")
	}
	return nil
}

// Reshape computes the new shape and shares the bottom's buffers.
func (l *Reshape) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	nb := b.NumAxes()
	start := l.axis
	if start < 0 {
		start = nb + l.axis + 1
	}
	if start < 0 || start > nb {
		return fmt.Errorf("reshape_param.axis %d out of range for bottom shape %s", l.axis, b.ShapeString())
	}
	end := nb
	if l.numAxes != -1 {
		end = start + l.numAxes
	}
	if end > nb {
		return fmt.Errorf("reshape_param.axis + num_axes = %d is out of range for bottom shape %s", end, b.ShapeString())
	}
	l.shape = append(l.shape[:0], b.Shape()[:start]...)
	l.shape = append(l.shape, l.dims...)
	l.shape = append(l.shape, b.Shape()[end:]...)
	for _, a := range l.copyAxes {
		if start+a >= nb {
			return fmt.Errorf("new shape contains a 0 at index %d, but bottom shape %s has no corresponding axis to copy", a, b.ShapeString())
		}
		l.shape[start+a] = b.Dim(start + a)
	}
	if l.inferredAxis >= 0 {
		explicit := l.constCount * b.CountRange(0, start) * b.CountFrom(end)
		for _, a := range l.copyAxes {
			explicit *= l.shape[start+a]
		}
		if explicit == 0 || b.Count()%explicit != 0 {
			return fmt.Errorf("bottom count %d (shape %s) must be divisible by the product of the specified dimensions (%d)", b.Count(), b.ShapeString(), explicit)
		}
		l.shape[start+l.inferredAxis] = b.Count() / explicit
	}
	count := 1
	for _, d := range l.shape {
		count *= d
	}
	if count != b.Count() {
		return fmt.Errorf("output count %d (shape %s) must match input count %d (shape %s)", count, tensor.JoinDims(l.shape), b.Count(), b.ShapeString())
	}
	top[0].Reshape(l.shape...)
	top[0].ShareData(b)
	top[0].ShareDiff(b)
	return nil
}

// Forward does nothing: the top shares the bottom's values.
func (l *Reshape) Forward(bottom, top []*tensor.Blob) {}

// Backward does nothing: the bottom shares the top's gradient.
func (l *Reshape) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
