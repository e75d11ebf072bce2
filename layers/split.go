package layers

import (
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Split", func(p *pb.LayerParameter, ctx *Context) (Layer, error) { return &Split{}, nil })
}

// Split is Caffe's SplitLayer, which the net inserts where one blob feeds
// several layers: every top shares the bottom's values, and the bottom's
// gradient is the sum of the tops' gradients.
type Split struct{}

// Type returns "Split".
func (l *Split) Type() string { return "Split" }

// Arity is one bottom and at least one top.
func (l *Split) Arity() Arity {
	return Arity{ExactBottom: 1, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: -1}
}

// Params returns nil.
func (l *Split) Params() []*tensor.Blob { return nil }

// Setup does nothing.
func (l *Split) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape shapes every top like the bottom and shares its values.
func (l *Split) Reshape(bottom, top []*tensor.Blob) error {
	for _, t := range top {
		if t == bottom[0] {
			continue
		}
		t.ReshapeLike(bottom[0])
		t.ShareData(bottom[0])
	}
	return nil
}

// Forward does nothing: the tops already share the bottom's values.
func (l *Split) Forward(bottom, top []*tensor.Blob) {}

// Backward sums the tops' gradients into the bottom's.
func (l *Split) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	dx := bottom[0].Diff
	copy(dx, top[0].Diff)
	for _, t := range top[1:] {
		dy := t.Diff[:len(dx)]
		for i, v := range dy {
			dx[i] += v
		}
	}
}
