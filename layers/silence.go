package layers

import (
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Silence", func(p *pb.LayerParameter, ctx *Context) (Layer, error) { return &Silence{}, nil })
}

// Silence consumes its bottoms and produces nothing, so that unused blobs
// are not reported as net outputs. Their gradient is zero.
type Silence struct{}

// Type returns "Silence".
func (l *Silence) Type() string { return "Silence" }

// Arity is at least one bottom and no tops.
func (l *Silence) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 1, MaxBottom: -1, ExactTop: 0, MinTop: -1, MaxTop: -1}
}

// Params returns nil.
func (l *Silence) Params() []*tensor.Blob { return nil }

// Setup does nothing.
func (l *Silence) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape does nothing.
func (l *Silence) Reshape(bottom, top []*tensor.Blob) error { return nil }

// Forward does nothing.
func (l *Silence) Forward(bottom, top []*tensor.Blob) {}

// Backward zeroes the requested bottom gradients.
func (l *Silence) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	for i, b := range bottom {
		if propagateDown[i] {
			clear(b.Diff)
		}
	}
}
