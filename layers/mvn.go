package layers

import (
	"errors"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("MVN", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		mp := p.GetMvnParam()
		l := &MVN{
			normVariance: mp.GetNormalizeVariance(),
			across:       mp.GetAcrossChannels(),
			eps:          mp.GetEps(),
		}
		l.fwdChunk, l.bwdChunk = l.forwardRows, l.backwardRows
		return l, nil
	})
}

// MVN is mean-variance normalisation (mvn_param): it subtracts the mean of
// each channel of each example (of each example when across_channels), and
// with normalize_variance (the default) divides by the standard deviation
// plus eps, as Caffe's MVNLayer: y = (x - mean) / (sqrt(var) + eps). Like
// Caffe, the top is N x C x H x W with missing axes as 1, and the backward
// pass is Caffe's formula, which treats eps as 0.
type MVN struct {
	normVariance, across bool
	eps                  float32

	rows, dim int
	std       []float32 // per row: sqrt(var) + eps

	x, y, dy, dx       []float32
	fwdChunk, bwdChunk func(lo, hi int)
}

// Type returns "MVN".
func (l *MVN) Type() string { return "MVN" }

// Arity is one bottom and one top.
func (l *MVN) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *MVN) Params() []*tensor.Blob { return nil }

// Setup has nothing to check.
func (l *MVN) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape sizes the top as Caffe's 4-D N x C x H x W.
func (l *MVN) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if b.NumAxes() > 4 {
		return errors.New("MVN takes blobs of at most 4 axes, got " + b.ShapeString())
	}
	if b.NumAxes() == 0 {
		return errors.New("MVN needs a bottom with at least one axis")
	}
	n, c, h, w := b.Num(), b.Channels(), b.Height(), b.Width()
	top[0].Reshape(n, c, h, w)
	l.rows = n * c
	if l.across {
		l.rows = n
	}
	l.dim = 0
	if l.rows > 0 {
		l.dim = b.Count() / l.rows
	}
	l.std = growFloats(l.std, l.rows)
	return nil
}

// Forward normalises each row.
func (l *MVN) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	parallelRows(l.rows, l.dim, l.fwdChunk)
	l.x, l.y = nil, nil
}

func (l *MVN) forwardRows(lo, hi int) {
	inv := float32(1 / float64(l.dim))
	for r := lo; r < hi; r++ {
		x, y := l.x[r*l.dim:(r+1)*l.dim], l.y[r*l.dim:(r+1)*l.dim]
		y = y[:len(x)]
		negMean := -(float32(sum64(x)) * inv)
		for i, v := range x {
			y[i] = v + negMean
		}
		if !l.normVariance {
			continue
		}
		variance := float32(dot64(y, y)) * inv
		std := float32(math.Sqrt(float64(variance))) + l.eps
		l.std[r] = std
		for i, v := range y {
			y[i] = v / std
		}
	}
}

// Backward computes Caffe's MVN gradient. Each row's sums are taken before
// its gradients are written, so it works in place.
func (l *MVN) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.y, l.dy, l.dx = top[0].Data, top[0].Diff, bottom[0].Diff
	parallelRows(l.rows, l.dim, l.bwdChunk)
	l.y, l.dy, l.dx = nil, nil, nil
}

func (l *MVN) backwardRows(lo, hi int) {
	inv := float32(1 / float64(l.dim))
	negInv := float32(-1 / float64(l.dim))
	for r := lo; r < hi; r++ {
		dy, dx := l.dy[r*l.dim:(r+1)*l.dim], l.dx[r*l.dim:(r+1)*l.dim]
		dx = dx[:len(dy)]
		if !l.normVariance {
			negMean := -(float32(sum64(dy)) * inv)
			for i, g := range dy {
				dx[i] = g + negMean
			}
			continue
		}
		y := l.y[r*l.dim : (r+1)*l.dim]
		y = y[:len(dy)]
		a := float32(dot64(y, dy)) // sum(y dy)
		b := float32(sum64(dy))    // sum(dy)
		std := l.std[r]
		for i, g := range dy {
			t := negInv*(b+y[i]*a) + g
			dx[i] = t / std
		}
	}
}
