package layers

import (
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("ReLU", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &ReLU{slope: p.GetReluParam().GetNegativeSlope()}
		l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
		return l, nil
	})
}

// reluGrain is the smallest number of elements one parallel chunk of an
// element-wise ReLU pass gets.
const reluGrain = 1 << 15

// ReLU is Caffe's ReLULayer: y = max(x, 0) + negative_slope*min(x, 0). It
// may run in place.
type ReLU struct {
	slope        float32
	x, y, dy, dx []float32
	fwdFn, bwdFn func(lo, hi int)
}

// Type returns "ReLU".
func (l *ReLU) Type() string { return "ReLU" }

// Arity is one bottom and one top.
func (l *ReLU) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *ReLU) Params() []*tensor.Blob { return nil }

// Setup does nothing.
func (l *ReLU) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape gives the top the bottom's shape.
func (l *ReLU) Reshape(bottom, top []*tensor.Blob) error {
	top[0].ReshapeLike(bottom[0])
	return nil
}

// Forward applies the rectifier.
func (l *ReLU) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	threads.For(len(l.x), reluGrain, l.fwdFn)
}

// Backward passes the gradient where the input was positive (scaled by
// negative_slope elsewhere). In place, the sign of the output stands for the
// sign of the input, as in Caffe.
func (l *ReLU) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.x, l.dy, l.dx = bottom[0].Data, top[0].Diff, bottom[0].Diff
	threads.For(len(l.x), reluGrain, l.bwdFn)
}

func (l *ReLU) forwardRange(lo, hi int) {
	x, y := l.x[lo:hi], l.y[lo:hi]
	y = y[:len(x)]
	if reluAsm() {
		reluForwardAsm(y, x, l.slope)
		return
	}
	if l.slope == 0 {
		for i, v := range x {
			y[i] = max(v, 0)
		}
		return
	}
	s := l.slope
	for i, v := range x {
		y[i] = max(v, 0) + s*min(v, 0)
	}
}

// reluStep is 1 when v > 0 and 0 otherwise (NaN included); it compiles to
// a flag set, not a branch, so random signs cost no mispredictions.
func reluStep(v float32) float32 {
	b := 0
	if v > 0 {
		b = 1
	}
	return float32(b)
}

func (l *ReLU) backwardRange(lo, hi int) {
	x, dy, dx := l.x[lo:hi], l.dy[lo:hi], l.dx[lo:hi]
	dy, dx = dy[:len(x)], dx[:len(x)]
	if reluAsm() {
		reluBackwardAsm(dx, dy, x, l.slope)
		return
	}
	if l.slope == 0 {
		for i, v := range x {
			dx[i] = dy[i] * reluStep(v)
		}
		return
	}
	// Caffe: dy * ((x > 0) + slope*(x <= 0)).
	s := l.slope
	for i, v := range x {
		le := 0
		if v <= 0 {
			le = 1
		}
		dx[i] = dy[i] * (reluStep(v) + s*float32(le))
	}
}
