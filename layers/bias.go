package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Bias", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Bias{param: p.GetBiasParam(), ctx: ctx}
		l.fwdChunk, l.gradChunk = l.forwardRows, l.gradDims
		return l, nil
	})
}

// Bias adds a bias blob broadcast along bottom[0]'s axes
// [axis, axis + num_axes) (bias_param): the bias is bottom[1] when given,
// else a learned parameter of that shape filled by bias_param.filler
// (default constant 0). num_axes -1 extends to the last axis; a scalar bias
// (0 axes) is added everywhere.
type Bias struct {
	param *pb.BiasParameter
	ctx   *Context
	blob  *tensor.Blob // the learned bias, nil when it is bottom[1]

	outer, dim, inner int
	noGrad            bool // the net turned the learned bias's gradient off

	x, y, b, dy, db     []float32
	accumulate          bool
	fwdChunk, gradChunk func(lo, hi int)
}

// Type returns "Bias".
func (l *Bias) Type() string { return "Bias" }

// Arity is one or two bottoms and one top.
func (l *Bias) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 1, MaxBottom: 2, ExactTop: 1, MinTop: -1, MaxTop: -1}
}

// Params returns the learned bias, if any.
func (l *Bias) Params() []*tensor.Blob {
	if l.blob == nil {
		return nil
	}
	return []*tensor.Blob{l.blob}
}

// Setup creates and fills the bias when there is no second bottom.
func (l *Bias) Setup(bottom, top []*tensor.Blob) error {
	if len(bottom) > 1 {
		return nil
	}
	shape, err := paramShape(bottom[0], l.param.GetAxis(), l.param.GetNumAxes(), "bias")
	if err != nil {
		return err
	}
	l.blob = tensor.New(shape...)
	if err := Fill(l.blob, l.param.GetFiller(), l.ctx.Rand); err != nil {
		return fmt.Errorf("filling the bias: %w", err)
	}
	return nil
}

// Reshape checks the bias against bottom[0] and sizes the top.
func (l *Bias) Reshape(bottom, top []*tensor.Blob) error {
	bias := l.blob
	if len(bottom) > 1 {
		bias = bottom[1]
	}
	var err error
	l.outer, l.dim, l.inner, err = broadcastDims(bottom[0], bias, l.param.GetAxis(), "bias")
	if err != nil {
		return err
	}
	top[0].ReshapeLike(bottom[0])
	return nil
}

// SetParamPropagateDown turns the learned bias's gradient on or off.
func (l *Bias) SetParamPropagateDown(i int, on bool) {
	if i == 0 {
		l.noGrad = !on
	}
}

func (l *Bias) biasBlob(bottom []*tensor.Blob) *tensor.Blob {
	if len(bottom) > 1 {
		return bottom[1]
	}
	return l.blob
}

// Forward adds the bias.
func (l *Bias) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y, l.b = bottom[0].Data, top[0].Data, l.biasBlob(bottom).Data
	parallelRows(l.outer*l.dim, l.inner, l.fwdChunk)
	l.x, l.y, l.b = nil, nil, nil
}

func (l *Bias) forwardRows(lo, hi int) {
	for r := lo; r < hi; r++ {
		b := l.b[r%l.dim]
		x, y := l.x[r*l.inner:(r+1)*l.inner], l.y[r*l.inner:(r+1)*l.inner]
		y = y[:len(x)]
		for i, v := range x {
			y[i] = v + b
		}
	}
}

// Backward copies the top gradient to bottom[0] and sums it into the bias
// gradient (accumulated for the learned bias, overwritten for bottom[1]).
func (l *Bias) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if propagateDown[0] && bottom[0] != top[0] {
		copy(bottom[0].Diff, top[0].Diff)
	}
	bias := l.blob
	if len(bottom) > 1 {
		if !propagateDown[1] {
			return
		}
		bias = bottom[1]
	} else if l.noGrad {
		return
	}
	l.dy, l.db, l.accumulate = top[0].Diff, bias.Diff, len(bottom) == 1
	parallelRows(l.dim, l.outer*l.inner, l.gradChunk)
	l.dy, l.db = nil, nil
}

// gradDims sums the top gradient for bias elements [lo, hi), adding each
// outer slice's sum in turn as Caffe's per-slice gemv does.
func (l *Bias) gradDims(lo, hi int) {
	for d := lo; d < hi; d++ {
		var acc float32
		if l.accumulate {
			acc = l.db[d]
		}
		for n := 0; n < l.outer; n++ {
			off := (n*l.dim + d) * l.inner
			acc = float32(sum64(l.dy[off:off+l.inner])) + acc
		}
		l.db[d] = acc
	}
}

// paramShape returns the shape of a Scale or Bias parameter blob: b's
// dimensions over [axis, axis + numAxes), to the end when numAxes is -1.
func paramShape(b *tensor.Blob, axis, numAxes int32, what string) ([]int, error) {
	a, err := b.CheckAxis(int(axis))
	if err != nil {
		return nil, err
	}
	if numAxes < -1 {
		return nil, fmt.Errorf("num_axes must be non-negative, or -1 to extend to the end of bottom[0]; got %d", numAxes)
	}
	end := b.NumAxes()
	if numAxes >= 0 {
		end = a + int(numAxes)
		if end > b.NumAxes() {
			return nil, fmt.Errorf("%s blob's shape extends past bottom[0]'s shape %s when applied starting with axis %d with num_axes %d", what, b.ShapeString(), a, numAxes)
		}
	}
	return append([]int(nil), b.Shape()[a:end]...), nil
}

// broadcastDims checks that p's shape matches b's axes starting at axis
// (axis 0 when p is a scalar) and returns the counts before, of and after
// the matched axes.
func broadcastDims(b, p *tensor.Blob, axis int32, what string) (outer, dim, inner int, err error) {
	a := 0
	if p.NumAxes() > 0 {
		if a, err = b.CheckAxis(int(axis)); err != nil {
			return 0, 0, 0, err
		}
	}
	if a+p.NumAxes() > b.NumAxes() {
		return 0, 0, 0, fmt.Errorf("%s blob's shape %s extends past bottom[0]'s shape %s when applied starting with axis %d", what, p.ShapeString(), b.ShapeString(), a)
	}
	for i, d := range p.Shape() {
		if b.Dim(a+i) != d {
			return 0, 0, 0, fmt.Errorf("dimension mismatch between bottom[0] axis %d (shape %s) and %s axis %d (shape %s)", a+i, b.ShapeString(), what, i, p.ShapeString())
		}
	}
	return b.CountRange(0, a), p.Count(), b.CountFrom(a + p.NumAxes()), nil
}
