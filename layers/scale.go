package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Scale", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Scale{param: p.GetScaleParam(), ctx: ctx}
		l.fwdChunk, l.gradChunk, l.bwdChunk = l.forwardRows, l.gradDims, l.backwardRows
		return l, nil
	})
}

// Scale multiplies bottom[0] by a scale blob broadcast along its axes
// [axis, axis + num_axes) (scale_param), optionally adding a bias
// (bias_term), as Caffe's ScaleLayer with its internal Bias layer. The scale
// is bottom[1] when given, else a learned parameter filled by
// scale_param.filler (default constant 1). The bias is always learned, of
// the scale's shape, filled by bias_filler (default constant 0).
//
// Params are [scale, bias], [scale] or [bias] (when the scale is bottom[1]).
type Scale struct {
	param       *pb.ScaleParameter
	ctx         *Context
	scale, bias *tensor.Blob // learned blobs, nil when absent

	outer, dim, inner int
	saved             []float32 // the bottom values when running in place
	noScaleGrad       bool      // the net turned the learned scale's gradient off
	noBiasGrad        bool      // the net turned the bias gradient off

	x, y, s, b, dy, dx, ds, db    []float32
	accumulate                    bool
	fwdChunk, gradChunk, bwdChunk func(lo, hi int)
}

// Type returns "Scale".
func (l *Scale) Type() string { return "Scale" }

// Arity is one or two bottoms and one top.
func (l *Scale) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 1, MaxBottom: 2, ExactTop: 1, MinTop: -1, MaxTop: -1}
}

// Params returns the learned scale and bias, when present.
func (l *Scale) Params() []*tensor.Blob {
	var ps []*tensor.Blob
	if l.scale != nil {
		ps = append(ps, l.scale)
	}
	if l.bias != nil {
		ps = append(ps, l.bias)
	}
	return ps
}

// Setup creates and fills the learned scale and bias.
func (l *Scale) Setup(bottom, top []*tensor.Blob) error {
	axis := l.param.GetAxis()
	numAxes := l.param.GetNumAxes()
	if len(bottom) == 1 {
		shape, err := paramShape(bottom[0], axis, numAxes, "scale")
		if err != nil {
			return err
		}
		l.scale = tensor.New(shape...)
		f := l.param.GetFiller()
		if f == nil {
			f = &pb.FillerParameter{Type: new("constant"), Value: new(float32(1))}
		}
		if err := Fill(l.scale, f, l.ctx.Rand); err != nil {
			return fmt.Errorf("filling the scale: %w", err)
		}
	} else {
		numAxes = int32(bottom[1].NumAxes())
	}
	if l.param.GetBiasTerm() {
		shape, err := paramShape(bottom[0], axis, numAxes, "bias")
		if err != nil {
			return err
		}
		l.bias = tensor.New(shape...)
		if err := Fill(l.bias, l.param.GetBiasFiller(), l.ctx.Rand); err != nil {
			return fmt.Errorf("filling the bias: %w", err)
		}
	}
	return nil
}

// SetParamPropagateDown turns the gradient of Params()[i] on or off.
func (l *Scale) SetParamPropagateDown(i int, on bool) {
	if l.scale != nil {
		if i == 0 {
			l.noScaleGrad = !on
			return
		}
		i--
	}
	if i == 0 && l.bias != nil {
		l.noBiasGrad = !on
	}
}

func (l *Scale) scaleBlob(bottom []*tensor.Blob) *tensor.Blob {
	if len(bottom) > 1 {
		return bottom[1]
	}
	return l.scale
}

// Reshape checks the scale (and bias) against bottom[0] and sizes the top.
func (l *Scale) Reshape(bottom, top []*tensor.Blob) error {
	s := l.scaleBlob(bottom)
	var err error
	l.outer, l.dim, l.inner, err = broadcastDims(bottom[0], s, l.param.GetAxis(), "scale")
	if err != nil {
		return err
	}
	if l.bias != nil {
		if !tensor.SameShape(l.bias, s) {
			return fmt.Errorf("bias shape %s differs from scale shape %s", l.bias.ShapeString(), s.ShapeString())
		}
	}
	top[0].ReshapeLike(bottom[0])
	if bottom[0] == top[0] {
		l.saved = growFloats(l.saved, bottom[0].Count())
	}
	return nil
}

// Forward computes y = x s (+ b).
func (l *Scale) Forward(bottom, top []*tensor.Blob) {
	l.x = bottom[0].Data
	if bottom[0] == top[0] {
		copy(l.saved, l.x)
	}
	l.y, l.s = top[0].Data, l.scaleBlob(bottom).Data
	l.b = nil
	if l.bias != nil {
		l.b = l.bias.Data
	}
	parallelRows(l.outer*l.dim, l.inner, l.fwdChunk)
	l.x, l.y, l.s, l.b = nil, nil, nil, nil
}

func (l *Scale) forwardRows(lo, hi int) {
	for r := lo; r < hi; r++ {
		d := r % l.dim
		s := l.s[d]
		x, y := l.x[r*l.inner:(r+1)*l.inner], l.y[r*l.inner:(r+1)*l.inner]
		y = y[:len(x)]
		if l.b == nil {
			for i, v := range x {
				y[i] = v * s
			}
			continue
		}
		b := l.b[d]
		for i, v := range x {
			y[i] = v*s + b
		}
	}
}

// Backward accumulates the bias and scale gradients (overwriting the
// gradient of a bottom[1] scale), then computes dx = dy s.
func (l *Scale) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	s := l.scaleBlob(bottom)
	l.dy = top[0].Diff
	l.x = bottom[0].Data
	if bottom[0] == top[0] {
		l.x = l.saved
	}
	l.ds, l.db = nil, nil
	if (len(bottom) == 1 && !l.noScaleGrad) || (len(bottom) > 1 && propagateDown[1]) {
		l.ds, l.accumulate = s.Diff, len(bottom) == 1
	}
	if l.bias != nil && !l.noBiasGrad {
		l.db = l.bias.Diff
	}
	if l.ds != nil || l.db != nil {
		parallelRows(l.dim, l.outer*l.inner, l.gradChunk)
	}
	if propagateDown[0] {
		l.dx, l.s = bottom[0].Diff, s.Data
		parallelRows(l.outer*l.dim, l.inner, l.bwdChunk)
	}
	l.x, l.dy, l.dx, l.s, l.ds, l.db = nil, nil, nil, nil, nil, nil
}

// gradDims computes the gradients of scale and bias elements [lo, hi).
func (l *Scale) gradDims(lo, hi int) {
	for d := lo; d < hi; d++ {
		if l.db != nil {
			acc := l.db[d]
			for n := 0; n < l.outer; n++ {
				off := (n*l.dim + d) * l.inner
				acc = float32(sum64(l.dy[off:off+l.inner])) + acc
			}
			l.db[d] = acc
		}
		if l.ds != nil {
			var sum float32
			for n := 0; n < l.outer; n++ {
				off := (n*l.dim + d) * l.inner
				sum += float32(dot64(l.dy[off:off+l.inner], l.x[off:off+l.inner]))
			}
			if l.accumulate {
				l.ds[d] += sum
			} else {
				l.ds[d] = sum
			}
		}
	}
}

func (l *Scale) backwardRows(lo, hi int) {
	for r := lo; r < hi; r++ {
		s := l.s[r%l.dim]
		dy, dx := l.dy[r*l.inner:(r+1)*l.inner], l.dx[r*l.inner:(r+1)*l.inner]
		dx = dx[:len(dy)]
		for i, g := range dy {
			dx[i] = g * s
		}
	}
}
