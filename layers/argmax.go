package layers

import (
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("ArgMax", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ap := p.GetArgmaxParam()
		l := &ArgMax{outMaxVal: ap.GetOutMaxVal(), topK: int(ap.GetTopK())}
		if ap != nil && ap.Axis != nil {
			l.hasAxis, l.axisParam = true, int(ap.GetAxis())
		}
		if l.topK < 1 {
			return nil, errors.New("argmax_param.top_k must not be less than 1")
		}
		return l, nil
	})
}

// ArgMax outputs the indices of the top_k largest values (argmax_param),
// per example over all of its values, or along argmax_param.axis when set.
// Without an axis the top is N x 1 x top_k (N x 2 x top_k with out_max_val:
// the indices, then the values); with an axis it is the bottom's shape with
// that axis resized to top_k, holding the values when out_max_val is set
// and the indices otherwise. Ties rank the larger index first, as Caffe's
// sort of (value, index) pairs does. It has no gradient.
type ArgMax struct {
	outMaxVal bool
	topK      int
	hasAxis   bool
	axisParam int

	axis  int
	pairs []argPair
	shape []int // scratch for the top shape
}

type argPair struct {
	v float32
	i int
}

// Type returns "ArgMax".
func (l *ArgMax) Type() string { return "ArgMax" }

// Arity is one bottom and one top.
func (l *ArgMax) Arity() Arity { return Exact(1, 1) }

// AllowForceBackward is false: there is no gradient.
func (l *ArgMax) AllowForceBackward(int) bool { return false }

// Params returns nil.
func (l *ArgMax) Params() []*tensor.Blob { return nil }

// Setup checks top_k against the bottom.
func (l *ArgMax) Setup(bottom, top []*tensor.Blob) error { return l.check(bottom[0]) }

func (l *ArgMax) check(b *tensor.Blob) error {
	if b.NumAxes() == 0 {
		return errors.New("bottom must have at least one axis")
	}
	if l.hasAxis {
		axis, err := b.CheckAxis(l.axisParam)
		if err != nil {
			return fmt.Errorf("argmax_param.axis: %w", err)
		}
		l.axis = axis
		if l.topK > b.Dim(axis) {
			return fmt.Errorf("top_k (%d) must be less than or equal to the dimension of axis %d of bottom %s", l.topK, axis, b.ShapeString())
		}
		return nil
	}
	if l.topK > b.CountFrom(1) {
		return fmt.Errorf("top_k (%d) must be less than or equal to the per-example count of bottom %s", l.topK, b.ShapeString())
	}
	return nil
}

// Reshape sizes the top.
func (l *ArgMax) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if err := l.check(b); err != nil {
		return err
	}
	shape := l.shape[:0]
	if l.hasAxis {
		shape = append(shape, b.Shape()...)
		shape[l.axis] = l.topK
	} else {
		for range max(b.NumAxes(), 3) {
			shape = append(shape, 1)
		}
		shape[0] = b.Dim(0)
		shape[2] = l.topK
		if l.outMaxVal {
			shape[1] = 2
		}
	}
	l.shape = shape
	top[0].Reshape(shape...)
	dim := b.CountFrom(1)
	if l.hasAxis {
		dim = b.Dim(l.axis)
	}
	if cap(l.pairs) < dim {
		l.pairs = make([]argPair, dim)
	}
	l.pairs = l.pairs[:dim]
	return nil
}

// rankPairs orders pairs as std::greater<std::pair<float, int>>: larger
// value first, then larger index.
func rankPairs(a, b argPair) int {
	if c := cmp.Compare(b.v, a.v); c != 0 {
		return c
	}
	return cmp.Compare(b.i, a.i)
}

// Forward finds the top_k entries of every row.
func (l *ArgMax) Forward(bottom, top []*tensor.Blob) {
	x, y := bottom[0].Data, top[0].Data
	dim, axisDist := bottom[0].CountFrom(1), 1
	if l.hasAxis {
		dim = bottom[0].Dim(l.axis)
		axisDist = bottom[0].CountFrom(l.axis) / dim
	}
	if dim == 0 {
		return
	}
	num := len(x) / dim
	k := l.topK
	for i := 0; i < num; i++ {
		base := i/axisDist*dim*axisDist + i%axisDist
		for j := range l.pairs {
			l.pairs[j] = argPair{x[base+j*axisDist], j}
		}
		if k == 1 {
			best := 0
			for j, p := range l.pairs {
				if rankPairs(p, l.pairs[best]) < 0 {
					best = j
				}
			}
			l.pairs[0], l.pairs[best] = l.pairs[best], l.pairs[0]
		} else {
			slices.SortFunc(l.pairs, rankPairs)
		}
		for j := 0; j < k; j++ {
			p := l.pairs[j]
			switch {
			case l.hasAxis:
				o := (i/axisDist*k+j)*axisDist + i%axisDist
				if l.outMaxVal {
					y[o] = p.v
				} else {
					y[o] = float32(p.i)
				}
			case l.outMaxVal:
				y[2*i*k+j] = float32(p.i)
				y[2*i*k+k+j] = p.v
			default:
				y[i*k+j] = float32(p.i)
			}
		}
	}
}

// Backward writes zero gradients: the output is piecewise constant (Caffe
// does not implement it).
func (l *ArgMax) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if propagateDown[0] {
		clear(bottom[0].Diff)
	}
}
