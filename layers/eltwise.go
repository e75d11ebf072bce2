package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Eltwise", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ep := p.GetEltwiseParam()
		l := &Eltwise{op: ep.GetOperation(), coeffs: ep.GetCoeff(), stable: ep.GetStableProdGrad()}
		switch l.op {
		case pb.EltwiseParameter_SUM, pb.EltwiseParameter_PROD, pb.EltwiseParameter_MAX:
		default:
			return nil, fmt.Errorf("unknown eltwise operation %d", l.op)
		}
		if l.op == pb.EltwiseParameter_PROD && len(l.coeffs) > 0 {
			return nil, errors.New("eltwise layer only takes coefficients for summation")
		}
		l.fwdChunk, l.bwdChunk = l.forwardRange, l.backwardRange
		return l, nil
	})
}

// Eltwise combines its bottoms (all of one shape) element by element
// (eltwise_param): SUM with optional per-bottom coefficients (the default),
// PROD, or MAX. MAX routes each gradient to the bottom that held the
// maximum (the later bottom on ties between the first two, the earlier one
// otherwise, as Caffe). PROD's gradient is the product of the other bottoms
// (stable_prod_grad, the default) or top / bottom.
type Eltwise struct {
	op     pb.EltwiseParameter_EltwiseOp
	coeffs []float32
	stable bool
	mask   []int32 // MAX: index of the winning bottom

	bottom             []*tensor.Blob
	top                *tensor.Blob
	cur                int // bottom whose gradient is being computed
	fwdChunk, bwdChunk func(lo, hi int)
}

// Type returns "Eltwise".
func (l *Eltwise) Type() string { return "Eltwise" }

// Arity is at least two bottoms and one top.
func (l *Eltwise) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 2, MaxBottom: -1, ExactTop: 1, MinTop: -1, MaxTop: -1}
}

// Params returns nil.
func (l *Eltwise) Params() []*tensor.Blob { return nil }

// Setup checks the number of coefficients.
func (l *Eltwise) Setup(bottom, top []*tensor.Blob) error {
	if len(l.coeffs) != 0 && len(l.coeffs) != len(bottom) {
		return fmt.Errorf("eltwise layer takes one coefficient per bottom blob: %d coefficients for %d bottoms", len(l.coeffs), len(bottom))
	}
	if len(l.coeffs) == 0 {
		l.coeffs = make([]float32, len(bottom))
		for i := range l.coeffs {
			l.coeffs[i] = 1
		}
	}
	return nil
}

// Reshape checks that the bottoms share a shape and sizes the top.
func (l *Eltwise) Reshape(bottom, top []*tensor.Blob) error {
	for i, b := range bottom[1:] {
		if !tensor.SameShape(bottom[0], b) {
			return fmt.Errorf("bottoms must have the same shape: bottom[0] is %s, bottom[%d] is %s", bottom[0].ShapeString(), i+1, b.ShapeString())
		}
	}
	if len(l.coeffs) != len(bottom) {
		return fmt.Errorf("eltwise layer takes one coefficient per bottom blob: %d coefficients for %d bottoms", len(l.coeffs), len(bottom))
	}
	top[0].ReshapeLike(bottom[0])
	if l.op == pb.EltwiseParameter_MAX {
		l.mask = growInts(l.mask, bottom[0].Count())
	}
	return nil
}

// Forward combines the bottoms.
func (l *Eltwise) Forward(bottom, top []*tensor.Blob) {
	l.bottom, l.top = bottom, top[0]
	threads.For(top[0].Count(), ewGrain, l.fwdChunk)
	l.bottom, l.top = nil, nil
}

func (l *Eltwise) forwardRange(lo, hi int) {
	y := l.top.Data[lo:hi]
	switch l.op {
	case pb.EltwiseParameter_PROD:
		a, b := l.bottom[0].Data[lo:hi], l.bottom[1].Data[lo:hi]
		a, b = a[:len(y)], b[:len(y)]
		for i := range y {
			y[i] = a[i] * b[i]
		}
		for _, bl := range l.bottom[2:] {
			x := bl.Data[lo:hi]
			x = x[:len(y)]
			for i := range y {
				y[i] *= x[i]
			}
		}
	case pb.EltwiseParameter_SUM:
		// Start from 0 as Caffe does (so -0 sums to +0), one bottom at a
		// time; element i is read before it is written, so in place works.
		c0 := l.coeffs[0]
		x := l.bottom[0].Data[lo:hi]
		x = x[:len(y)]
		for i, v := range x {
			y[i] = 0 + c0*v
		}
		for k, bl := range l.bottom[1:] {
			c := l.coeffs[k+1]
			x := bl.Data[lo:hi]
			x = x[:len(y)]
			for i, v := range x {
				y[i] += c * v
			}
		}
	case pb.EltwiseParameter_MAX:
		m := l.mask[lo:hi]
		a, b := l.bottom[0].Data[lo:hi], l.bottom[1].Data[lo:hi]
		m, a, b = m[:len(y)], a[:len(y)], b[:len(y)]
		for i := range y {
			if a[i] > b[i] {
				y[i], m[i] = a[i], 0
			} else {
				y[i], m[i] = b[i], 1
			}
		}
		for k, bl := range l.bottom[2:] {
			x := bl.Data[lo:hi]
			x = x[:len(y)]
			for i, v := range x {
				if v > y[i] {
					y[i], m[i] = v, int32(k+2)
				}
			}
		}
	}
}

// Backward computes each requested bottom gradient.
func (l *Eltwise) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	l.bottom, l.top = bottom, top[0]
	for i := range bottom {
		if propagateDown[i] {
			l.cur = i
			threads.For(top[0].Count(), ewGrain, l.bwdChunk)
		}
	}
	l.bottom, l.top = nil, nil
}

func (l *Eltwise) backwardRange(lo, hi int) {
	i := l.cur
	dy := l.top.Diff[lo:hi]
	dx := l.bottom[i].Diff[lo:hi]
	dx = dx[:len(dy)]
	switch l.op {
	case pb.EltwiseParameter_PROD:
		if l.stable {
			first := true
			for j, bl := range l.bottom {
				if j == i {
					continue
				}
				x := bl.Data[lo:hi]
				x = x[:len(dy)]
				if first {
					copy(dx, x)
					first = false
				} else {
					for k, v := range x {
						dx[k] = v * dx[k]
					}
				}
			}
		} else {
			y, x := l.top.Data[lo:hi], l.bottom[i].Data[lo:hi]
			y, x = y[:len(dy)], x[:len(dy)]
			for k := range dx {
				dx[k] = y[k] / x[k]
			}
		}
		for k, g := range dy {
			dx[k] *= g
		}
	case pb.EltwiseParameter_SUM:
		c := l.coeffs[i]
		if c == 1 {
			copy(dx, dy)
			return
		}
		for k, g := range dy {
			dx[k] = c * g
		}
	case pb.EltwiseParameter_MAX:
		m := l.mask[lo:hi]
		m = m[:len(dy)]
		for k, g := range dy {
			if m[k] == int32(i) {
				dx[k] = g
			} else {
				dx[k] = 0
			}
		}
	}
}
