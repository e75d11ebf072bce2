package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("EuclideanLoss", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		return &EuclideanLoss{}, nil
	})
}

// EuclideanLoss is sum((a - b)^2) / (2N) over bottoms a and b of the same
// per-example count, N being the batch size. It back-propagates to both
// bottoms.
type EuclideanLoss struct {
	diff []float32
}

// Type returns "EuclideanLoss".
func (l *EuclideanLoss) Type() string { return "EuclideanLoss" }

// Arity is two bottoms and one top.
func (l *EuclideanLoss) Arity() Arity { return lossArity }

// IsLoss reports that the top is a loss.
func (l *EuclideanLoss) IsLoss() bool { return true }

// AllowForceBackward allows both bottoms.
func (l *EuclideanLoss) AllowForceBackward(bottom int) bool { return true }

// Params returns nil.
func (l *EuclideanLoss) Params() []*tensor.Blob { return nil }

// Setup has nothing to check.
func (l *EuclideanLoss) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape checks the bottoms and makes the top a scalar.
func (l *EuclideanLoss) Reshape(bottom, top []*tensor.Blob) error {
	if err := checkLossBottoms(bottom); err != nil {
		return err
	}
	if bottom[0].CountFrom(1) != bottom[1].CountFrom(1) {
		return fmt.Errorf("inputs must have the same dimension: %s vs %s", bottom[0].ShapeString(), bottom[1].ShapeString())
	}
	l.diff = growFloats(l.diff, bottom[0].Count())
	top[0].Reshape()
	return nil
}

// Forward computes the loss.
func (l *EuclideanLoss) Forward(bottom, top []*tensor.Blob) {
	a, b := bottom[0].Data, bottom[1].Data
	d := l.diff[:len(a)]
	b = b[:len(a)]
	for i, v := range a {
		d[i] = v - b[i]
	}
	top[0].Data[0] = float32(dot64(d, d)) / float32(bottom[0].Dim(0)) / 2
}

// Backward computes +-weight (a - b) / N.
func (l *EuclideanLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	for i := 0; i < 2; i++ {
		if !propagateDown[i] {
			continue
		}
		sign := float32(1)
		if i == 1 {
			sign = -1
		}
		alpha := sign * top[0].Diff[0] / float32(bottom[i].Dim(0))
		dx := bottom[i].Diff[:len(l.diff)]
		for j, v := range l.diff {
			dx[j] = alpha * v
		}
	}
}
