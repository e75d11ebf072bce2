package layers

import (
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("Power", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		pp := p.GetPowerParam()
		l := &Power{power: pp.GetPower(), scale: pp.GetScale(), shift: pp.GetShift()}
		l.diffScale = l.power * l.scale
		l.init("Power", true, l.forward, l.backward)
		return l, nil
	})
}

// Power computes y = (shift + scale x)^power (power_param), with Caffe's
// special cases: a constant output when power or scale is 0, and the
// gradient formulas of PowerLayer for power 1, power 2 and shift 0.
type Power struct {
	neuron
	power, scale, shift float32
	diffScale           float32 // power * scale
}

// powf is pow for float32 values evaluated in double precision, so that
// it rounds as a correctly rounded powf does. Squaring is exact, and the
// exponents LRN and normalisation layers use on positive finite bases take
// square roots instead of the (several times slower) general math.Pow;
// both give the same float32 result.
func powf(x, p float32) float32 {
	switch p {
	case 1:
		return x
	case 2:
		return x * x
	}
	d := float64(x)
	if d > 0 && d <= math.MaxFloat32 {
		switch p {
		case 0.5:
			return float32(math.Sqrt(d))
		case -0.5:
			return float32(1 / math.Sqrt(d))
		case 0.75:
			r := math.Sqrt(d)
			return float32(r * math.Sqrt(r))
		case -0.75:
			r := math.Sqrt(d)
			return float32(1 / (r * math.Sqrt(r)))
		case -1:
			return float32(1 / d)
		}
	}
	return float32(math.Pow(d, float64(p)))
}

func (l *Power) forward(x, y []float32) {
	y = y[:len(x)]
	if l.diffScale == 0 {
		v := float32(1)
		if l.power != 0 {
			v = powf(l.shift, l.power)
		}
		for i := range y {
			y[i] = v
		}
		return
	}
	for i, v := range x {
		if l.scale != 1 {
			v *= l.scale
		}
		if l.shift != 0 {
			v += l.shift
		}
		if l.power != 1 {
			v = powf(v, l.power)
		}
		y[i] = v
	}
}

func (l *Power) backward(x, y, dy, dx []float32) {
	y, dy, dx = y[:len(x)], dy[:len(x)], dx[:len(x)]
	switch {
	case l.diffScale == 0:
		clear(dx)
	case l.power == 1:
		for i := range dx {
			dx[i] = dy[i] * l.diffScale
		}
	case l.power == 2:
		// dy/dx = 2 scale (shift + scale x) = diff_scale scale x + diff_scale shift.
		a, b := l.diffScale*l.scale, l.diffScale*l.shift
		for i, v := range x {
			g := a * v
			if l.shift != 0 {
				g += b
			}
			dx[i] = dy[i] * g
		}
	case l.shift == 0:
		// dy/dx = power y / x.
		for i, v := range x {
			dx[i] = dy[i] * (y[i] / v * l.power)
		}
	default:
		// dy/dx = diff_scale y / (shift + scale x).
		for i, v := range x {
			if l.scale != 1 {
				v *= l.scale
			}
			v += l.shift
			g := y[i] / v
			if l.diffScale != 1 {
				g *= l.diffScale
			}
			dx[i] = dy[i] * g
		}
	}
}
