package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Slice", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		sp := p.GetSliceParam()
		if sp != nil && sp.Axis != nil && sp.SliceDim != nil {
			return nil, errors.New("either slice_param.axis or slice_param.slice_dim should be specified, not both")
		}
		l := &Slice{param: sp}
		for _, v := range sp.GetSlicePoint() {
			l.points = append(l.points, int(v))
		}
		return l, nil
	})
}

// Slice splits its bottom along slice_param.axis (default 1; the legacy
// slice_dim is also read) into its tops, at slice_point positions or, when
// none are given, into equal parts. A single top shares the bottom's
// buffers.
type Slice struct {
	param  *pb.SliceParameter
	points []int

	axis, numSlices, sliceSize int
	shape                      []int // scratch for the top shapes
}

// Type returns "Slice".
func (l *Slice) Type() string { return "Slice" }

// Arity is one bottom and at least one top.
func (l *Slice) Arity() Arity {
	return Arity{ExactBottom: 1, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: -1}
}

// Params returns nil.
func (l *Slice) Params() []*tensor.Blob { return nil }

// Setup has nothing to check beyond Reshape's checks.
func (l *Slice) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape computes the slices and sizes the tops.
func (l *Slice) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if l.param != nil && l.param.SliceDim != nil {
		l.axis = int(l.param.GetSliceDim())
		if l.axis >= b.NumAxes() {
			return fmt.Errorf("slice_dim %d out of range for bottom shape %s", l.axis, b.ShapeString())
		}
	} else {
		axis, err := b.CheckAxis(int(l.param.GetAxis()))
		if err != nil {
			return fmt.Errorf("slice_param.axis: %w", err)
		}
		l.axis = axis
	}
	dim := b.Dim(l.axis)
	l.numSlices = b.CountRange(0, l.axis)
	l.sliceSize = b.CountFrom(l.axis + 1)
	l.shape = append(l.shape[:0], b.Shape()...)
	shape := l.shape
	if len(l.points) > 0 {
		if len(l.points) != len(top)-1 {
			return fmt.Errorf("%d slice points need %d tops, got %d", len(l.points), len(l.points)+1, len(top))
		}
		if len(top) > dim {
			return fmt.Errorf("%d tops exceed the %d elements of slice axis %d of bottom %s", len(top), dim, l.axis, b.ShapeString())
		}
		prev := 0
		for i, pt := range l.points {
			if pt <= prev || pt >= dim {
				return fmt.Errorf("slice points must increase strictly within (0, %d): %v", dim, l.points)
			}
			shape[l.axis] = pt - prev
			top[i].Reshape(shape...)
			prev = pt
		}
		shape[l.axis] = dim - prev
		top[len(top)-1].Reshape(shape...)
	} else {
		if dim%len(top) != 0 {
			return fmt.Errorf("number of top blobs (%d) should evenly divide input slice axis (%d) of bottom %s", len(top), dim, b.ShapeString())
		}
		shape[l.axis] = dim / len(top)
		for _, t := range top {
			t.Reshape(shape...)
		}
	}
	if len(top) == 1 {
		top[0].ShareData(b)
		top[0].ShareDiff(b)
	}
	return nil
}

// Forward copies each slice to its top.
func (l *Slice) Forward(bottom, top []*tensor.Blob) {
	if len(top) == 1 {
		return
	}
	l.copySlices(bottom[0], top, false)
}

// Backward copies the top gradients back into the bottom gradient.
func (l *Slice) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] || len(top) == 1 {
		return
	}
	l.copySlices(bottom[0], top, true)
}

func (l *Slice) copySlices(b *tensor.Blob, top []*tensor.Blob, backward bool) {
	dim := b.Dim(l.axis)
	off := 0
	for _, t := range top {
		td := t.Dim(l.axis)
		n := td * l.sliceSize
		for s := 0; s < l.numSlices; s++ {
			to := s * n
			bo := (s*dim + off) * l.sliceSize
			if backward {
				copy(b.Diff[bo:bo+n], t.Diff[to:to+n])
			} else {
				copy(t.Data[to:to+n], b.Data[bo:bo+n])
			}
		}
		off += td
	}
}
