package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("Exp", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ep := p.GetExpParam()
		base, scale, shift := ep.GetBase(), ep.GetScale(), ep.GetShift()
		logBase, err := logOfBase(base)
		if err != nil {
			return nil, err
		}
		l := &Exp{inner: logBase * scale, outer: 1}
		if shift != 0 {
			if base != -1 {
				l.outer = float32(math.Pow(float64(base), float64(shift)))
			} else {
				l.outer = float32(math.Exp(float64(shift)))
			}
		}
		l.init("Exp", false, l.forward, l.backward)
		return l, nil
	})
}

// Exp computes y = base^(shift + scale x) (exp_param; base -1 means e),
// as exp(inner x) * outer with inner = scale ln(base) and outer = base^shift.
type Exp struct {
	neuron
	inner, outer float32
}

// logOfBase returns ln(base) for the Exp and Log layers, where base -1
// stands for e; other bases must be positive with a finite logarithm.
func logOfBase(base float32) (float32, error) {
	if base == -1 {
		return 1, nil
	}
	if !(base > 0) {
		return 0, fmt.Errorf("base must be strictly positive (or -1 for e), got %g", base)
	}
	lb := float32(math.Log(float64(base)))
	if math.IsInf(float64(lb), 0) || math.IsNaN(float64(lb)) {
		return 0, fmt.Errorf("log(base) = log(%g) is not finite", base)
	}
	return lb, nil
}

func (l *Exp) forward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if l.inner != 1 {
			v *= l.inner
		}
		e := float32(math.Exp(float64(v)))
		if l.outer != 1 {
			e *= l.outer
		}
		y[i] = e
	}
}

func (l *Exp) backward(_, y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, v := range y {
		g := v * dy[i]
		if l.inner != 1 {
			g *= l.inner
		}
		dx[i] = g
	}
}
