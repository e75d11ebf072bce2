package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Softmax", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		return newSoftmax(int(p.GetSoftmaxParam().GetAxis())), nil
	})
}

// Softmax is Caffe's SoftmaxLayer: a softmax over softmax_param.axis
// (default 1) for every position of the other axes. It may run in place.
type Softmax struct {
	axisParam        int
	outer, ch, inner int
	x, y, dy, dx     []float32
	fwdFn, bwdFn     func(lo, hi int)
	grain            int
}

func newSoftmax(axis int) *Softmax {
	l := &Softmax{axisParam: axis}
	l.fwdFn, l.bwdFn = l.forwardRange, l.backwardRange
	return l
}

// Type returns "Softmax".
func (l *Softmax) Type() string { return "Softmax" }

// Arity is one bottom and one top.
func (l *Softmax) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *Softmax) Params() []*tensor.Blob { return nil }

// Setup checks the axis.
func (l *Softmax) Setup(bottom, top []*tensor.Blob) error {
	if _, err := bottom[0].CheckAxis(l.axisParam); err != nil {
		return fmt.Errorf("softmax_param.axis: %w", err)
	}
	return nil
}

// Reshape gives the top the bottom's shape.
func (l *Softmax) Reshape(bottom, top []*tensor.Blob) error {
	axis, err := bottom[0].CheckAxis(l.axisParam)
	if err != nil {
		return fmt.Errorf("softmax_param.axis: %w", err)
	}
	top[0].ReshapeLike(bottom[0])
	l.outer = bottom[0].CountRange(0, axis)
	l.ch = bottom[0].Dim(axis)
	l.inner = bottom[0].CountFrom(axis + 1)
	l.grain = max(1, (1<<13)/max(1, l.ch*l.inner))
	return nil
}

// Forward computes exp(x - max) / sum(exp(x - max)) along the axis.
func (l *Softmax) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	threads.For(l.outer, l.grain, l.fwdFn)
}

// Backward computes dx = y * (dy - sum(dy*y)) along the axis.
func (l *Softmax) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.y, l.dy, l.dx = top[0].Data, top[0].Diff, bottom[0].Diff
	threads.For(l.outer, l.grain, l.bwdFn)
}

func (l *Softmax) forwardRange(lo, hi int) {
	softmaxForward(l.x, l.y, lo, hi, l.ch, l.inner)
}

// softmaxForward computes the softmax of outer slices [lo, hi) of x into y
// (which may alias x).
func softmaxForward(x, y []float32, lo, hi, ch, inner int) {
	dim := ch * inner
	for o := lo; o < hi; o++ {
		xs, ys := x[o*dim:(o+1)*dim], y[o*dim:(o+1)*dim]
		if inner == 1 {
			m := xs[0]
			for _, v := range xs[1:] {
				m = max(m, v)
			}
			var s float32
			for c, v := range xs {
				e := float32(math.Exp(float64(v - m)))
				ys[c] = e
				s += e
			}
			for c := range ys {
				ys[c] /= s
			}
			continue
		}
		for j := 0; j < inner; j++ {
			m := xs[j]
			for c := 1; c < ch; c++ {
				m = max(m, xs[c*inner+j])
			}
			var s float32
			for c := 0; c < ch; c++ {
				e := float32(math.Exp(float64(xs[c*inner+j] - m)))
				ys[c*inner+j] = e
				s += e
			}
			for c := 0; c < ch; c++ {
				ys[c*inner+j] /= s
			}
		}
	}
}

func (l *Softmax) backwardRange(lo, hi int) {
	dim := l.ch * l.inner
	ch, inner := l.ch, l.inner
	for o := lo; o < hi; o++ {
		ys, dys, dxs := l.y[o*dim:(o+1)*dim], l.dy[o*dim:(o+1)*dim], l.dx[o*dim:(o+1)*dim]
		for j := 0; j < inner; j++ {
			var dot float32
			for c := 0; c < ch; c++ {
				dot += dys[c*inner+j] * ys[c*inner+j]
			}
			for c := 0; c < ch; c++ {
				i := c*inner + j
				dxs[i] = (dys[i] - dot) * ys[i]
			}
		}
	}
}
