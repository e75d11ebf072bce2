package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Crop", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		cp := p.GetCropParam()
		l := &Crop{axis: int(cp.GetAxis())}
		for _, o := range cp.GetOffset() {
			l.offsetParam = append(l.offsetParam, int(o))
		}
		l.fwdChunk, l.bwdChunk = l.forwardRows, l.backwardRows
		return l, nil
	})
}

// Crop crops bottom[0] to the shape of bottom[1] on the axes from
// crop_param.axis (default 2) on, starting at crop_param.offset: one offset
// for all cropped axes, one per cropped axis, or none (0). Axes before
// axis keep bottom[0]'s size. bottom[1] only supplies the shape.
type Crop struct {
	axis        int
	offsetParam []int

	offsets    []int // per axis
	srcStrides []int
	dstShape   []int
	lastDim    int

	src, dst           []float32
	fwdChunk, bwdChunk func(lo, hi int)
}

// Type returns "Crop".
func (l *Crop) Type() string { return "Crop" }

// Arity is two bottoms and one top.
func (l *Crop) Arity() Arity { return Exact(2, 1) }

// Params returns nil.
func (l *Crop) Params() []*tensor.Blob { return nil }

// Setup checks the axis and the number of offsets.
func (l *Crop) Setup(bottom, top []*tensor.Blob) error {
	n := bottom[0].NumAxes()
	start, err := bottom[0].CheckAxis(l.axis)
	if err != nil {
		return fmt.Errorf("crop_param.axis: %w", err)
	}
	if len(l.offsetParam) > 1 && start+len(l.offsetParam) != n {
		return fmt.Errorf("number of offset values (%d) must equal the number of dimensions from axis %d of bottom shape %s", len(l.offsetParam), start, bottom[0].ShapeString())
	}
	return nil
}

// Reshape computes the offsets and the cropped shape.
func (l *Crop) Reshape(bottom, top []*tensor.Blob) error {
	a, ref := bottom[0], bottom[1]
	n := a.NumAxes()
	start, err := a.CheckAxis(l.axis)
	if err != nil {
		return fmt.Errorf("crop_param.axis: %w", err)
	}
	if ref.NumAxes() != n {
		return fmt.Errorf("bottom[1] (shape %s) must have as many axes as bottom[0] (shape %s)", ref.ShapeString(), a.ShapeString())
	}
	if len(l.offsetParam) > 1 && start+len(l.offsetParam) != n {
		return fmt.Errorf("number of offset values (%d) must equal the number of dimensions from axis %d of bottom shape %s", len(l.offsetParam), start, a.ShapeString())
	}
	l.offsets = growIntSlice(l.offsets, n)
	l.srcStrides = growIntSlice(l.srcStrides, n)
	l.dstShape = growIntSlice(l.dstShape, n)
	for i := 0; i < n; i++ {
		off, size := 0, a.Dim(i)
		if i >= start {
			size = ref.Dim(i)
			switch {
			case len(l.offsetParam) == 1:
				off = l.offsetParam[0]
			case len(l.offsetParam) > 1:
				off = l.offsetParam[i-start]
			}
			if a.Dim(i)-off < size {
				return fmt.Errorf("the crop for dimension %d is out of bounds with size %d and offset %d (bottom[0] shape %s)", i, size, off, a.ShapeString())
			}
		}
		l.offsets[i], l.dstShape[i] = off, size
		l.srcStrides[i] = a.CountFrom(i + 1)
	}
	top[0].Reshape(l.dstShape...)
	l.lastDim = 1
	if n > 0 {
		l.lastDim = l.dstShape[n-1]
	}
	return nil
}

// srcOffset returns the offset in bottom[0] of the first element of top
// row r (a row runs along the last axis).
func (l *Crop) srcOffset(r int) int {
	n := len(l.dstShape)
	off := 0
	if n > 0 {
		off = l.offsets[n-1]
	}
	for i := n - 2; i >= 0; i-- {
		idx := r % l.dstShape[i]
		r /= l.dstShape[i]
		off += (idx + l.offsets[i]) * l.srcStrides[i]
	}
	return off
}

// Forward copies the cropped region.
func (l *Crop) Forward(bottom, top []*tensor.Blob) {
	l.src, l.dst = bottom[0].Data, top[0].Data
	if l.lastDim > 0 {
		parallelRows(len(l.dst)/l.lastDim, l.lastDim, l.fwdChunk)
	}
	l.src, l.dst = nil, nil
}

func (l *Crop) forwardRows(lo, hi int) {
	w := l.lastDim
	for r := lo; r < hi; r++ {
		s := l.srcOffset(r)
		copy(l.dst[r*w:(r+1)*w], l.src[s:s+w])
	}
}

// Backward scatters the top gradient into a zeroed bottom[0] gradient;
// bottom[1] gets a zero gradient when one is requested.
func (l *Crop) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if propagateDown[1] {
		clear(bottom[1].Diff)
	}
	if !propagateDown[0] {
		return
	}
	clear(bottom[0].Diff)
	l.src, l.dst = bottom[0].Diff, top[0].Diff
	if l.lastDim > 0 {
		parallelRows(len(l.dst)/l.lastDim, l.lastDim, l.bwdChunk)
	}
	l.src, l.dst = nil, nil
}

func (l *Crop) backwardRows(lo, hi int) {
	w := l.lastDim
	for r := lo; r < hi; r++ {
		s := l.srcOffset(r)
		copy(l.src[s:s+w], l.dst[r*w:(r+1)*w])
	}
}

// growIntSlice returns s resized to n, reallocating only when needed.
func growIntSlice(s []int, n int) []int {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int, n)
}
