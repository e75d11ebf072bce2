package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("Log", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		lp := p.GetLogParam()
		logBase, err := logOfBase(lp.GetBase())
		if err != nil {
			return nil, err
		}
		l := &Log{baseScale: 1 / logBase, scale: lp.GetScale(), shift: lp.GetShift()}
		if math.IsInf(float64(l.baseScale), 0) {
			return nil, fmt.Errorf("1/log(base) = 1/log(%g) is not finite", lp.GetBase())
		}
		l.backScale = l.scale / logBase
		l.init("Log", true, l.forward, l.backward)
		return l, nil
	})
}

// Log computes y = log_base(shift + scale x) (log_param; base -1 means e).
type Log struct {
	neuron
	baseScale    float32 // 1 / ln(base)
	scale, shift float32
	backScale    float32 // scale / ln(base)
}

func (l *Log) forward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if l.scale != 1 {
			v *= l.scale
		}
		if l.shift != 0 {
			v += l.shift
		}
		r := float32(math.Log(float64(v)))
		if l.baseScale != 1 {
			r *= l.baseScale
		}
		y[i] = r
	}
}

func (l *Log) backward(x, _, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		if l.scale != 1 {
			v *= l.scale
		}
		if l.shift != 0 {
			v += l.shift
		}
		g := 1 / v
		if l.backScale != 1 {
			g *= l.backScale
		}
		dx[i] = dy[i] * g
	}
}
