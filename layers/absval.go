package layers

import (
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
)

func init() {
	Register("AbsVal", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &AbsVal{}
		l.init("AbsVal", true, absForward, absBackward)
		return l, nil
	})
}

// AbsVal computes y = |x|; its gradient is sign(x) dy with sign(0) = 0.
// Both are computed on the bits, without data-dependent branches.
type AbsVal struct{ neuron }

const signBit = 0x80000000

func absForward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] = math.Float32frombits(math.Float32bits(v) &^ signBit)
	}
}

func absBackward(x, _, dy, dx []float32) {
	dy, dx = dy[:len(x)], dx[:len(x)]
	for i, v := range x {
		u := math.Float32bits(v)
		nonzero := uint32(-int32(u&^signBit) >> 31) // all ones unless v is +-0
		dx[i] = math.Float32frombits((math.Float32bits(dy[i]) ^ u&signBit) & nonzero)
	}
}
