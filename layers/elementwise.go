package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

// ewGrain is the smallest number of elements an element-wise loop hands to
// one parallel chunk; smaller loops run on the calling goroutine. (A
// variable so that tests can force parallel chunking of small inputs.)
var ewGrain = 1 << 14

// parallelRows runs fn over [0, rows) in contiguous chunks of whole rows of
// rowLen elements each, in parallel when there is enough work. Every row is
// processed by exactly one chunk, so results do not depend on the thread
// count.
func parallelRows(rows, rowLen int, fn func(lo, hi int)) {
	if rowLen < 1 {
		rowLen = 1
	}
	grain := ewGrain / rowLen
	if grain < 1 {
		grain = 1
	}
	threads.For(rows, grain, fn)
}

// neuron is the engine shared by the one-bottom, one-top element-wise layers
// (Caffe's NeuronLayer): it sizes the top like the bottom, runs the layer's
// kernels over contiguous chunks in parallel, and keeps a copy of the bottom
// when the layer runs in place and its backward kernel reads the input.
//
// A layer embeds neuron and calls init with its kernels. Kernels get
// equal-length sub-slices; in place, x and y (and dy and dx) alias, so a
// kernel must read element i before writing it.
type neuron struct {
	typ   string
	needX bool                         // the backward kernel reads x
	fwdK  func(x, y []float32)         // y = f(x)
	bwdK  func(x, y, dy, dx []float32) // dx = f'(x) dy

	saved        []float32 // the bottom values when running in place
	x, y, dy, dx []float32 // operands of the running pass
	fwdRange     func(lo, hi int)
	bwdRange     func(lo, hi int)
}

func (n *neuron) init(typ string, needX bool, fwd func(x, y []float32), bwd func(x, y, dy, dx []float32)) {
	n.typ, n.needX, n.fwdK, n.bwdK = typ, needX, fwd, bwd
	n.fwdRange = func(lo, hi int) { n.fwdK(n.x[lo:hi], n.y[lo:hi]) }
	n.bwdRange = func(lo, hi int) { n.bwdK(n.x[lo:hi], n.y[lo:hi], n.dy[lo:hi], n.dx[lo:hi]) }
}

// Type returns the Caffe type name.
func (n *neuron) Type() string { return n.typ }

// Arity is one bottom and one top.
func (n *neuron) Arity() Arity { return Exact(1, 1) }

// Setup has nothing to check beyond the arity.
func (n *neuron) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape gives the top the bottom's shape.
func (n *neuron) Reshape(bottom, top []*tensor.Blob) error {
	top[0].ReshapeLike(bottom[0])
	if n.needX && bottom[0] == top[0] {
		n.saved = growFloats(n.saved, bottom[0].Count())
	}
	return nil
}

// Forward applies the layer's function element by element.
func (n *neuron) Forward(bottom, top []*tensor.Blob) {
	x := bottom[0].Data
	if n.needX && bottom[0] == top[0] {
		copy(n.saved, x)
	}
	n.x, n.y = x, top[0].Data
	threads.For(len(x), ewGrain, n.fwdRange)
	n.x, n.y = nil, nil
}

// Backward multiplies the top gradient by the function's derivative.
func (n *neuron) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	x := bottom[0].Data
	if n.needX && bottom[0] == top[0] {
		x = n.saved
	}
	n.x, n.y, n.dy, n.dx = x, top[0].Data, top[0].Diff, bottom[0].Diff
	threads.For(len(x), ewGrain, n.bwdRange)
	n.x, n.y, n.dy, n.dx = nil, nil, nil, nil
}

// Params returns nil: element-wise layers have no parameters.
func (n *neuron) Params() []*tensor.Blob { return nil }

// growFloats returns s resized to n elements, reallocating only when its
// capacity is too small.
func growFloats(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

// growInts is growFloats for int32 slices.
func growInts(s []int32, n int) []int32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int32, n)
}

// sum64 returns the sum of x accumulated in float64 with four lanes
// combined in a fixed order.
func sum64(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		v := x[i : i+4 : i+4]
		s0 += float64(v[0])
		s1 += float64(v[1])
		s2 += float64(v[2])
		s3 += float64(v[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// dot64 returns the dot product of x and y[:len(x)] accumulated in float64
// with four lanes combined in a fixed order.
func dot64(x, y []float32) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a := x[i : i+4 : i+4]
		b := y[i : i+4 : i+4]
		s0 += float64(a[0]) * float64(b[0])
		s1 += float64(a[1]) * float64(b[1])
		s2 += float64(a[2]) * float64(b[2])
		s3 += float64(a[3]) * float64(b[3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// lossArity is the arity of Caffe's LossLayer: two bottoms (predictions and
// labels) and one top, created by the net when the prototxt names none.
var lossArity = Arity{ExactBottom: 2, MinBottom: -1, MaxBottom: -1, ExactTop: 1, MinTop: -1, MaxTop: -1, AutoTop: true}

// checkLossBottoms is Caffe's LossLayer::Reshape check: the predictions and
// the labels have the same first dimension.
func checkLossBottoms(bottom []*tensor.Blob) error {
	a, b := bottom[0], bottom[1]
	if a.NumAxes() == 0 || b.NumAxes() == 0 {
		return fmt.Errorf("bottoms must have a batch axis, got shapes %s and %s", a.ShapeString(), b.ShapeString())
	}
	if a.Dim(0) != b.Dim(0) {
		return fmt.Errorf("the data and label should have the same first dimension: %s vs %s", a.ShapeString(), b.ShapeString())
	}
	return nil
}

// lossNormalizer is Caffe's get_normalizer for loss layers that normalise
// over outer x inner predictions; valid < 0 counts every prediction as
// valid. The result is at least 1.
func lossNormalizer(mode pb.LossParameter_NormalizationMode, outer, inner, valid int) float32 {
	var n float32
	switch mode {
	case pb.LossParameter_FULL:
		n = float32(outer * inner)
	case pb.LossParameter_VALID:
		if valid < 0 {
			n = float32(outer * inner)
		} else {
			n = float32(valid)
		}
	case pb.LossParameter_BATCH_SIZE:
		n = float32(outer)
	default: // NONE
		n = 1
	}
	if n < 1 {
		n = 1
	}
	return n
}

// checkNormalization rejects normalization modes the proto does not define.
func checkNormalization(m pb.LossParameter_NormalizationMode) error {
	switch m {
	case pb.LossParameter_FULL, pb.LossParameter_VALID, pb.LossParameter_BATCH_SIZE, pb.LossParameter_NONE:
		return nil
	}
	return fmt.Errorf("unknown loss normalization mode %d", m)
}

// errBadIndex is wrapped by the errors of layers that meet a label or an
// index outside its range at run time (reported through Err).
var errBadIndex = errors.New("index out of range")
