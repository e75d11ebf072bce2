package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Input", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		return &Input{shapes: p.GetInputParam().GetShape()}, nil
	})
}

// Input is Caffe's InputLayer: its tops are the net's inputs, shaped by
// input_param.shape (one shape for all tops, or one per top). The caller
// fills them (and may reshape them) before Forward.
type Input struct {
	shapes []*pb.BlobShape
}

// Type returns "Input".
func (l *Input) Type() string { return "Input" }

// Arity is no bottom and at least one top.
func (l *Input) Arity() Arity {
	return Arity{ExactBottom: 0, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: -1}
}

// Params returns nil.
func (l *Input) Params() []*tensor.Blob { return nil }

// Setup shapes the tops.
func (l *Input) Setup(bottom, top []*tensor.Blob) error {
	n := len(l.shapes)
	if n != 0 && n != 1 && n != len(top) {
		return fmt.Errorf("input_param.shape must be given 0, 1 or %d (the number of tops) times, got %d", len(top), n)
	}
	if n == 0 {
		return nil
	}
	for i, t := range top {
		s := l.shapes[0]
		if n > 1 {
			s = l.shapes[i]
		}
		shape, err := blobShapeDims(s)
		if err != nil {
			return fmt.Errorf("input_param.shape %d: %w", i, err)
		}
		t.Reshape(shape...)
	}
	return nil
}

// blobShapeDims converts a BlobShape to dimensions, rejecting negative or
// too many axes.
func blobShapeDims(s *pb.BlobShape) ([]int, error) {
	dims := s.GetDim()
	if len(dims) > tensor.MaxAxes {
		return nil, fmt.Errorf("%d axes exceed the maximum of %d", len(dims), tensor.MaxAxes)
	}
	out := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > 1<<31-1 {
			return nil, fmt.Errorf("dimension %d is %d", i, d)
		}
		out[i] = int(d)
	}
	return out, nil
}

// Reshape does nothing: the caller owns the input shapes.
func (l *Input) Reshape(bottom, top []*tensor.Blob) error { return nil }

// Forward does nothing.
func (l *Input) Forward(bottom, top []*tensor.Blob) {}

// Backward does nothing.
func (l *Input) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
