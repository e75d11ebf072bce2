package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Flatten", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		fp := p.GetFlattenParam()
		return &Flatten{axis: int(fp.GetAxis()), endAxis: int(fp.GetEndAxis())}, nil
	})
}

// Flatten is Caffe's FlattenLayer: axes flatten_param.axis through end_axis
// (inclusive) become one. The top shares the bottom's values and gradients.
type Flatten struct {
	axis, endAxis int
	shape         []int
}

// Type returns "Flatten".
func (l *Flatten) Type() string { return "Flatten" }

// Arity is one bottom and one top.
func (l *Flatten) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *Flatten) Params() []*tensor.Blob { return nil }

// Setup checks that the layer is not in place.
func (l *Flatten) Setup(bottom, top []*tensor.Blob) error {
	if bottom[0] == top[0] {
		return fmt.Errorf("Flatten layer does not allow in-place computation")
	}
	return nil
}

// Reshape sizes the top and shares the bottom's buffers.
func (l *Flatten) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	start, err := b.CheckAxis(l.axis)
	if err != nil {
		return fmt.Errorf("flatten_param.axis: %w", err)
	}
	end, err := b.CheckAxis(l.endAxis)
	if err != nil {
		return fmt.Errorf("flatten_param.end_axis: %w", err)
	}
	if end < start {
		return fmt.Errorf("flatten_param.end_axis %d comes before axis %d for bottom shape %s", l.endAxis, l.axis, b.ShapeString())
	}
	l.shape = append(l.shape[:0], b.Shape()[:start]...)
	l.shape = append(l.shape, b.CountRange(start, end+1))
	l.shape = append(l.shape, b.Shape()[end+1:]...)
	top[0].Reshape(l.shape...)
	top[0].ShareData(b)
	top[0].ShareDiff(b)
	return nil
}

// Forward does nothing: the top shares the bottom's values.
func (l *Flatten) Forward(bottom, top []*tensor.Blob) {}

// Backward does nothing: the bottom shares the top's gradient.
func (l *Flatten) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
