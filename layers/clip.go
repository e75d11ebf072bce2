package layers

import (
	"errors"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("Clip", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		cp := p.GetClipParam()
		if cp == nil || cp.Min == nil || cp.Max == nil {
			return nil, errors.New("clip_param.min and clip_param.max are required")
		}
		l := &Clip{lo: cp.GetMin(), hi: cp.GetMax()}
		l.init("Clip", true, l.forward, l.backward)
		return l, nil
	})
}

// Clip limits values to [clip_param.min, clip_param.max]; the gradient
// passes where min <= x <= max.
type Clip struct {
	neuron
	lo, hi float32
}

func (l *Clip) forward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = max(l.lo, min(v, l.hi))
	}
}

func (l *Clip) backward(x, _, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v >= l.lo && v <= l.hi {
			dx[i] = dy[i]
		} else {
			dx[i] = 0
		}
	}
}
