package layers

import (
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Swish", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Swish{beta: p.GetSwishParam().GetBeta()}
		l.fwdChunk, l.bwdChunk = l.forwardRange, l.backwardRange
		return l, nil
	})
}

// Swish computes y = x sigmoid(beta x) (swish_param.beta, default 1). It
// keeps the sigmoid values for the backward pass, as Caffe's internal
// Sigmoid layer does.
type Swish struct {
	beta float32
	sig  []float32

	x, y, dy, dx       []float32
	fwdChunk, bwdChunk func(lo, hi int)
}

// Type returns "Swish".
func (l *Swish) Type() string { return "Swish" }

// Arity is one bottom and one top.
func (l *Swish) Arity() Arity { return Exact(1, 1) }

// Setup has nothing to check.
func (l *Swish) Setup(bottom, top []*tensor.Blob) error { return nil }

// Params returns nil.
func (l *Swish) Params() []*tensor.Blob { return nil }

// Reshape sizes the top and the sigmoid buffer.
func (l *Swish) Reshape(bottom, top []*tensor.Blob) error {
	top[0].ReshapeLike(bottom[0])
	l.sig = growFloats(l.sig, bottom[0].Count())
	return nil
}

// Forward computes the sigmoids and the outputs.
func (l *Swish) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	threads.For(len(l.x), ewGrain, l.fwdChunk)
	l.x, l.y = nil, nil
}

// Backward computes dx = dy (beta y + s (1 - beta y)) with s the stored
// sigmoid; it reads only top values, so it works in place.
func (l *Swish) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.y, l.dy, l.dx = top[0].Data, top[0].Diff, bottom[0].Diff
	threads.For(len(l.y), ewGrain, l.bwdChunk)
	l.y, l.dy, l.dx = nil, nil, nil
}

func (l *Swish) forwardRange(lo, hi int) {
	x := l.x[lo:hi]
	y, s := l.y[lo:hi:hi], l.sig[lo:hi:hi]
	y, s = y[:len(x)], s[:len(x)]
	for i, v := range x {
		sv := float32(sigmoid(l.beta * v))
		s[i] = sv
		y[i] = v * sv
	}
}

func (l *Swish) backwardRange(lo, hi int) {
	y := l.y[lo:hi]
	dy, dx, s := l.dy[lo:hi], l.dx[lo:hi], l.sig[lo:hi]
	dy, dx, s = dy[:len(y)], dx[:len(y)], s[:len(y)]
	for i, v := range y {
		by := l.beta * v
		dx[i] = float32(float64(dy[i]) * (float64(by) + float64(s[i])*(1-float64(by))))
	}
}
