package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Reduction", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		rp := p.GetReductionParam()
		l := &Reduction{op: rp.GetOperation(), axis: int(rp.GetAxis()), coeffParam: rp.GetCoeff()}
		switch l.op {
		case pb.ReductionParameter_SUM, pb.ReductionParameter_ASUM, pb.ReductionParameter_SUMSQ, pb.ReductionParameter_MEAN:
		default:
			return nil, fmt.Errorf("unknown reduction operation %d", l.op)
		}
		l.fwdChunk, l.bwdChunk = l.forwardRows, l.backwardRows
		return l, nil
	})
}

// Reduction reduces all axes from reduction_param.axis (default 0) on to
// one value with SUM (the default), ASUM (sum of absolute values), SUMSQ
// (sum of squares) or MEAN, times reduction_param.coeff (default 1). The
// top keeps the axes before axis (a scalar for axis 0).
type Reduction struct {
	op         pb.ReductionParameter_ReductionOp
	axis       int
	coeffParam float32

	num, dim int
	coeff    float32

	x, y, dy, dx       []float32
	fwdChunk, bwdChunk func(lo, hi int)
}

// Type returns "Reduction".
func (l *Reduction) Type() string { return "Reduction" }

// Arity is one bottom and one top.
func (l *Reduction) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *Reduction) Params() []*tensor.Blob { return nil }

// Setup has nothing to check beyond Reshape's checks.
func (l *Reduction) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape sizes the top.
func (l *Reduction) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	axis, err := b.CheckAxis(l.axis)
	if err != nil {
		return fmt.Errorf("reduction_param.axis: %w", err)
	}
	top[0].Reshape(b.Shape()[:axis]...)
	l.num, l.dim = b.CountRange(0, axis), b.CountFrom(axis)
	l.coeff = l.coeffParam
	if l.op == pb.ReductionParameter_MEAN {
		l.coeff /= float32(l.dim)
	}
	return nil
}

// Forward reduces each of the num slices.
func (l *Reduction) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	parallelRows(l.num, l.dim, l.fwdChunk)
	l.x, l.y = nil, nil
}

func (l *Reduction) forwardRows(lo, hi int) {
	for i := lo; i < hi; i++ {
		x := l.x[i*l.dim : (i+1)*l.dim]
		var r float32
		switch l.op {
		case pb.ReductionParameter_SUM, pb.ReductionParameter_MEAN:
			r = float32(sum64(x))
		case pb.ReductionParameter_ASUM:
			var s float64
			for _, v := range x {
				if v < 0 {
					v = -v
				}
				s += float64(v)
			}
			r = float32(s)
		case pb.ReductionParameter_SUMSQ:
			r = float32(dot64(x, x))
		}
		if l.coeff != 1 {
			r *= l.coeff
		}
		l.y[i] = r
	}
}

// Backward spreads each top gradient over its slice.
func (l *Reduction) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.x, l.dy, l.dx = bottom[0].Data, top[0].Diff, bottom[0].Diff
	parallelRows(l.num, l.dim, l.bwdChunk)
	l.x, l.dy, l.dx = nil, nil, nil
}

func (l *Reduction) backwardRows(lo, hi int) {
	for i := lo; i < hi; i++ {
		x, dx := l.x[i*l.dim:(i+1)*l.dim], l.dx[i*l.dim:(i+1)*l.dim]
		x = x[:len(dx)]
		c := l.dy[i] * l.coeff
		switch l.op {
		case pb.ReductionParameter_SUM, pb.ReductionParameter_MEAN:
			for k := range dx {
				dx[k] = c
			}
		case pb.ReductionParameter_ASUM:
			for k, v := range x {
				switch {
				case v > 0:
					dx[k] = c
				case v < 0:
					dx[k] = -c
				default:
					dx[k] = 0
				}
			}
		case pb.ReductionParameter_SUMSQ:
			c2 := 2 * c
			for k, v := range x {
				dx[k] = c2 * v
			}
		}
	}
}
