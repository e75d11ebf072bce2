package layers

import (
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("BNLL", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &BNLL{}
		l.init("BNLL", true, bnllForward, bnllBackward)
		return l, nil
	})
}

// BNLL is the binomial normal log likelihood, y = log(1 + exp(x)), computed
// as Caffe does: x + log(1 + exp(-x)) for x > 0, and with the exponent of the
// gradient clamped at 50.
type BNLL struct{ neuron }

// bnllThreshold is Caffe's kBNLL_THRESHOLD.
const bnllThreshold = 50

func bnllForward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		d := float64(v)
		if v > 0 {
			y[i] = float32(d + math.Log(1+math.Exp(-d)))
		} else {
			y[i] = float32(math.Log(1 + math.Exp(d)))
		}
	}
}

func bnllBackward(x, _, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		e := float32(math.Exp(float64(min(v, bnllThreshold))))
		dx[i] = float32(float64(dy[i]*e) / (float64(e) + 1))
	}
}
