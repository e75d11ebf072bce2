package layers

import (
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("ELU", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &ELU{alpha: p.GetEluParam().GetAlpha()}
		l.init("ELU", true, l.forward, l.backward)
		return l, nil
	})
}

// ELU is the exponential linear unit: y = x for x > 0 and
// alpha (exp(x) - 1) otherwise (elu_param.alpha, default 1).
type ELU struct {
	neuron
	alpha float32
}

func (l *ELU) forward(x, y []float32) {
	y = y[:len(x)]
	a := float64(l.alpha)
	for i, v := range x {
		if v > 0 {
			y[i] = v
		} else {
			y[i] = float32(a * (math.Exp(float64(v)) - 1))
		}
	}
}

func (l *ELU) backward(x, y, dy, dx []float32) {
	y, dy, dx = y[:len(x)], dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if v > 0 {
			dx[i] = dy[i]
		} else {
			dx[i] = dy[i] * (l.alpha + y[i])
		}
	}
}
