package layers

import (
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("TanH", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &TanH{}
		l.init("TanH", false, tanhForward, tanhBackward)
		return l, nil
	})
}

// TanH computes y = tanh(x); its gradient is dy (1 - y^2).
type TanH struct{ neuron }

func tanhForward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = float32(math.Tanh(float64(v)))
	}
}

func tanhBackward(_, y, dy, dx []float32) {
	dy, dx = dy[:len(y)], dx[:len(y)]
	for i, t := range y {
		dx[i] = dy[i] * (1 - t*t)
	}
}
