package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Embed", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ep := p.GetEmbedParam()
		l := &Embed{param: ep, ctx: ctx, n: int(ep.GetNumOutput()), k: int(ep.GetInputDim()), biasTerm: ep.GetBiasTerm()}
		if l.n <= 0 {
			return nil, errors.New("embed_param.num_output must be positive")
		}
		if l.k <= 0 {
			return nil, errors.New("embed_param.input_dim must be positive")
		}
		return l, nil
	})
}

// Embed maps integer indices in [0, input_dim) to rows of a learned
// input_dim x num_output weight matrix (embed_param), plus a learned bias
// when bias_term (the default): the top has the bottom's shape with a
// trailing num_output axis. Indices are not differentiable; an index that
// is out of range or not an integer is reported by Err and yields a zero
// row.
type Embed struct {
	param    *pb.EmbedParameter
	ctx      *Context
	n, k     int
	biasTerm bool
	blobs    []*tensor.Blob // weights (K x N), then the bias (N)
	biasSum  []float32      // scratch for the bias gradient
	shape    []int          // scratch for the top shape
	noGrad   [2]bool        // the net turned a parameter's gradient off
	err      error
}

// Type returns "Embed".
func (l *Embed) Type() string { return "Embed" }

// Arity is one bottom and one top.
func (l *Embed) Arity() Arity { return Exact(1, 1) }

// AllowForceBackward is false: indices take no gradient.
func (l *Embed) AllowForceBackward(int) bool { return false }

// Params returns the weights and the bias.
func (l *Embed) Params() []*tensor.Blob { return l.blobs }

// SetParamPropagateDown turns the gradient of the weights (0) or the bias
// (1) on or off.
func (l *Embed) SetParamPropagateDown(i int, on bool) {
	if i >= 0 && i < 2 {
		l.noGrad[i] = !on
	}
}

// Err reports an invalid index seen by the last Forward.
func (l *Embed) Err() error { return l.err }

// Setup creates and fills the weights and the bias.
func (l *Embed) Setup(bottom, top []*tensor.Blob) error {
	w := tensor.New(l.k, l.n)
	if err := Fill(w, l.param.GetWeightFiller(), l.ctx.Rand); err != nil {
		return fmt.Errorf("filling the weights: %w", err)
	}
	l.blobs = []*tensor.Blob{w}
	if l.biasTerm {
		b := tensor.New(l.n)
		if err := Fill(b, l.param.GetBiasFiller(), l.ctx.Rand); err != nil {
			return fmt.Errorf("filling the bias: %w", err)
		}
		l.blobs = append(l.blobs, b)
		l.biasSum = make([]float32, l.n)
	}
	return nil
}

// Reshape sizes the top: the bottom's shape plus num_output.
func (l *Embed) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if b == top[0] {
		return errors.New("Embed cannot run in place")
	}
	l.shape = append(append(l.shape[:0], b.Shape()...), l.n)
	top[0].Reshape(l.shape...)
	return nil
}

// index returns the row of index m, or -1 (recording the error) when it is
// not an integer in [0, input_dim).
func (l *Embed) index(x []float32, m int) int {
	v := x[m]
	i := int(v)
	if float32(i) != v || i < 0 || i >= l.k {
		if l.err == nil {
			l.err = fmt.Errorf("embed input %g at position %d is not an integer in [0, %d): %w", v, m, l.k, errBadIndex)
		}
		return -1
	}
	return i
}

// Forward copies the selected weight rows and adds the bias.
func (l *Embed) Forward(bottom, top []*tensor.Blob) {
	l.err = nil
	x, y := bottom[0].Data, top[0].Data
	w := l.blobs[0].Data
	n := l.n
	for m := range x {
		row := y[m*n : (m+1)*n]
		i := l.index(x, m)
		if i < 0 {
			clear(row)
		} else {
			copy(row, w[i*n:(i+1)*n])
		}
		if l.biasTerm {
			b := l.blobs[1].Data[:len(row)]
			for j, v := range b {
				row[j] += v
			}
		}
	}
}

// Backward accumulates the weight and bias gradients.
func (l *Embed) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if propagateDown[0] {
		clear(bottom[0].Diff)
	}
	x, dy := bottom[0].Data, top[0].Diff
	dw := l.blobs[0].Diff
	n := l.n
	for m, v := range x {
		if l.noGrad[0] {
			break
		}
		i := int(v)
		if float32(i) != v || i < 0 || i >= l.k {
			continue
		}
		g := dy[m*n : (m+1)*n]
		d := dw[i*n : (i+1)*n]
		d = d[:len(g)]
		for j, gv := range g {
			d[j] += gv
		}
	}
	if l.biasTerm && !l.noGrad[1] {
		s := l.biasSum
		clear(s)
		for m := range x {
			g := dy[m*n : (m+1)*n]
			g = g[:len(s)]
			for j, gv := range g {
				s[j] += gv
			}
		}
		db := l.blobs[1].Diff[:len(s)]
		for j, v := range s {
			db[j] += v
		}
	}
}
