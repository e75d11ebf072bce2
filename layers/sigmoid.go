package layers

import (
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("Sigmoid", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Sigmoid{}
		l.init("Sigmoid", false, sigmoidForward, sigmoidBackward)
		return l, nil
	})
}

// Sigmoid computes y = 1 / (1 + exp(-x)), evaluated as Caffe does:
// 0.5 tanh(0.5 x) + 0.5 in double precision.
type Sigmoid struct{ neuron }

// sigmoid is Caffe's sigmoid of one value, in double precision.
func sigmoid(x float32) float64 { return 0.5*math.Tanh(0.5*float64(x)) + 0.5 }

func sigmoidForward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = float32(sigmoid(v))
	}
}

func sigmoidBackward(_, y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, s := range y {
		dx[i] = float32(float64(dy[i]*s) * (1 - float64(s)))
	}
}
