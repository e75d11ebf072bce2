package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Dropout", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ratio := p.GetDropoutParam().GetDropoutRatio()
		if !(ratio >= 0 && ratio < 1) {
			return nil, fmt.Errorf("dropout_param.dropout_ratio must be in [0, 1), got %g", ratio)
		}
		l := &Dropout{ratio: ratio, scale: 1 / (1 - ratio), ctx: ctx, phase: ctx.Phase}
		if p.Phase != nil {
			l.phase = p.GetPhase()
		}
		return l, nil
	})
}

// Dropout is Caffe's DropoutLayer: in TRAIN each value is kept with
// probability 1 - dropout_ratio and scaled by 1/(1 - dropout_ratio), else
// zeroed; in TEST it is the identity. It may run in place.
type Dropout struct {
	ratio, scale float32
	ctx          *Context
	phase        pb.Phase
	mask         []float32 // 0 or scale per element, from the last TRAIN pass
}

// Type returns "Dropout".
func (l *Dropout) Type() string { return "Dropout" }

// Arity is one bottom and one top.
func (l *Dropout) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *Dropout) Params() []*tensor.Blob { return nil }

// Setup does nothing.
func (l *Dropout) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape shapes the top like the bottom and sizes the mask.
func (l *Dropout) Reshape(bottom, top []*tensor.Blob) error {
	top[0].ReshapeLike(bottom[0])
	n := bottom[0].Count()
	if cap(l.mask) < n {
		l.mask = make([]float32, n)
	}
	l.mask = l.mask[:n]
	return nil
}

// Forward drops and scales (TRAIN) or copies (TEST). The mask is drawn
// sequentially from the net's generator, so it does not depend on threads.
func (l *Dropout) Forward(bottom, top []*tensor.Blob) {
	x, y := bottom[0].Data, top[0].Data
	if l.phase != pb.Phase_TRAIN {
		if len(x) > 0 && &x[0] != &y[0] {
			copy(y, x)
		}
		return
	}
	keep := 1 - float64(l.ratio)
	r := l.ctx.Rand
	m := l.mask[:len(x)]
	y = y[:len(x)]
	for i, v := range x {
		if r.Float64() < keep {
			m[i] = l.scale
		} else {
			m[i] = 0
		}
		y[i] = v * m[i]
	}
}

// Backward applies the same mask to the gradient (TRAIN) or copies it.
func (l *Dropout) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	dy, dx := top[0].Diff, bottom[0].Diff
	if l.phase != pb.Phase_TRAIN {
		if len(dy) > 0 && &dy[0] != &dx[0] {
			copy(dx, dy)
		}
		return
	}
	m := l.mask[:len(dy)]
	dx = dx[:len(dy)]
	for i, g := range dy {
		dx[i] = g * m[i]
	}
}
