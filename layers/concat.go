package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Concat", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		cp := p.GetConcatParam()
		l := &Concat{axisParam: int(cp.GetAxis())}
		if cp != nil && cp.ConcatDim != nil {
			if cp.Axis != nil {
				return nil, errors.New("either axis or concat_dim should be specified; not both")
			}
			l.legacyDim, l.axisParam = true, int(cp.GetConcatDim())
		}
		return l, nil
	})
}

// Concat is Caffe's ConcatLayer: the bottoms joined along concat_param.axis
// (or the legacy concat_dim); all other dimensions must agree.
type Concat struct {
	axisParam   int
	legacyDim   bool
	axis        int
	outer, rest int // count before the axis, count after it
	shape       []int
}

// Type returns "Concat".
func (l *Concat) Type() string { return "Concat" }

// Arity is at least one bottom and one top.
func (l *Concat) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 1, MaxBottom: -1, ExactTop: 1, MinTop: -1, MaxTop: -1}
}

// Params returns nil.
func (l *Concat) Params() []*tensor.Blob { return nil }

// Setup does nothing; Reshape checks the shapes.
func (l *Concat) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape sizes the top and checks that the bottoms agree off the axis.
func (l *Concat) Reshape(bottom, top []*tensor.Blob) error {
	b0 := bottom[0]
	if l.legacyDim {
		if l.axisParam < 0 || l.axisParam >= b0.NumAxes() {
			return fmt.Errorf("concat_dim %d out of range for bottom shape %s", l.axisParam, b0.ShapeString())
		}
		l.axis = l.axisParam
	} else {
		a, err := b0.CheckAxis(l.axisParam)
		if err != nil {
			return fmt.Errorf("concat_param.axis: %w", err)
		}
		l.axis = a
	}
	l.shape = append(l.shape[:0], b0.Shape()...)
	for i, b := range bottom[1:] {
		if b.NumAxes() != b0.NumAxes() {
			return fmt.Errorf("all inputs must have the same number of axes: bottom 0 is %s, bottom %d is %s", b0.ShapeString(), i+1, b.ShapeString())
		}
		for j, d := range b.Shape() {
			if j != l.axis && d != l.shape[j] {
				return fmt.Errorf("all inputs must have the same shape except at the concat axis %d: bottom 0 is %s, bottom %d is %s", l.axis, b0.ShapeString(), i+1, b.ShapeString())
			}
		}
		l.shape[l.axis] += b.Dim(l.axis)
	}
	top[0].Reshape(l.shape...)
	l.outer = b0.CountRange(0, l.axis)
	l.rest = b0.CountFrom(l.axis + 1)
	if len(bottom) == 1 {
		top[0].ShareData(b0)
		top[0].ShareDiff(b0)
	}
	return nil
}

// Forward copies each bottom into its slice of the top.
func (l *Concat) Forward(bottom, top []*tensor.Blob) {
	if len(bottom) == 1 {
		return
	}
	y := top[0].Data
	topAxis := top[0].Dim(l.axis)
	off := 0
	for _, b := range bottom {
		n := b.Dim(l.axis) * l.rest
		for o := 0; o < l.outer; o++ {
			copy(y[(o*topAxis*l.rest)+off:], b.Data[o*n:(o+1)*n])
		}
		off += n
	}
}

// Backward copies each slice of the top gradient back to its bottom.
func (l *Concat) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if len(bottom) == 1 {
		return
	}
	dy := top[0].Diff
	topAxis := top[0].Dim(l.axis)
	off := 0
	for i, b := range bottom {
		n := b.Dim(l.axis) * l.rest
		if propagateDown[i] {
			for o := 0; o < l.outer; o++ {
				copy(b.Diff[o*n:(o+1)*n], dy[(o*topAxis*l.rest)+off:])
			}
		}
		off += n
	}
}
