package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("InnerProduct", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ip := p.GetInnerProductParam()
		if ip == nil {
			ip = &pb.InnerProductParameter{}
		}
		if ip.GetNumOutput() == 0 {
			return nil, errors.New("inner_product_param.num_output must be positive")
		}
		return &InnerProduct{param: ip, ctx: ctx, paramProp: [2]bool{true, true}}, nil
	})
}

// InnerProduct is Caffe's InnerProductLayer (fully connected): the axes from
// inner_product_param.axis on are flattened into K inputs, and
// top = bottom * W^T + bias with W of shape num_output x K (or K x
// num_output with transpose: true).
type InnerProduct struct {
	param     *pb.InnerProductParameter
	ctx       *Context
	axis      int
	m, n, k   int // batch rows, outputs, inputs
	transpose bool
	weight    *tensor.Blob
	bias      *tensor.Blob
	blobs     []*tensor.Blob
	paramProp [2]bool
	topShape  []int
	onesM     []float32
	biasTerm  bool
}

// Type returns "InnerProduct".
func (l *InnerProduct) Type() string { return "InnerProduct" }

// Arity is one bottom and one top.
func (l *InnerProduct) Arity() Arity { return Exact(1, 1) }

// Params returns the weights and, with bias_term, the bias.
func (l *InnerProduct) Params() []*tensor.Blob { return l.blobs }

// SetParamPropagateDown turns the gradient of parameter i on or off.
func (l *InnerProduct) SetParamPropagateDown(i int, on bool) {
	if i >= 0 && i < len(l.paramProp) {
		l.paramProp[i] = on
	}
}

// Setup creates and fills the weights and bias.
func (l *InnerProduct) Setup(bottom, top []*tensor.Blob) error {
	axis, err := bottom[0].CheckAxis(int(l.param.GetAxis()))
	if err != nil {
		return fmt.Errorf("inner_product_param.axis: %w", err)
	}
	l.axis = axis
	l.n = int(l.param.GetNumOutput())
	l.k = bottom[0].CountFrom(axis)
	l.transpose = l.param.GetTranspose()
	l.biasTerm = l.param.GetBiasTerm()
	if l.transpose {
		l.weight = tensor.New(l.k, l.n)
	} else {
		l.weight = tensor.New(l.n, l.k)
	}
	if err := Fill(l.weight, l.param.GetWeightFiller(), l.ctx.Rand); err != nil {
		return fmt.Errorf("weight_filler: %w", err)
	}
	l.blobs = []*tensor.Blob{l.weight}
	if l.biasTerm {
		l.bias = tensor.New(l.n)
		if err := Fill(l.bias, l.param.GetBiasFiller(), l.ctx.Rand); err != nil {
			return fmt.Errorf("bias_filler: %w", err)
		}
		l.blobs = append(l.blobs, l.bias)
	}
	l.topShape = make([]int, axis+1)
	return nil
}

// Reshape sizes the top to bottom.shape[:axis] + [num_output].
func (l *InnerProduct) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if l.axis >= b.NumAxes() {
		return fmt.Errorf("bottom shape %s has no axis %d", b.ShapeString(), l.axis)
	}
	if k := b.CountFrom(l.axis); k != l.k {
		return fmt.Errorf("bottom shape %s gives %d inputs from axis %d, want %d (input size incompatible with inner product parameters)", b.ShapeString(), k, l.axis, l.k)
	}
	l.m = b.CountRange(0, l.axis)
	copy(l.topShape, b.Shape()[:l.axis])
	l.topShape[l.axis] = l.n
	top[0].Reshape(l.topShape...)
	if l.biasTerm && len(l.onesM) != l.m {
		l.onesM = make([]float32, l.m)
		for i := range l.onesM {
			l.onesM[i] = 1
		}
	}
	return nil
}

// Forward computes top = bottom * W^T (+ bias).
func (l *InnerProduct) Forward(bottom, top []*tensor.Blob) {
	x, y := bottom[0].Data, top[0].Data
	if l.biasTerm {
		// Start from the bias in every row, then accumulate the product.
		b := l.bias.Data
		for i := 0; i < l.m; i++ {
			copy(y[i*l.n:(i+1)*l.n], b)
		}
		blas.Sgemm(false, !l.transpose, l.m, l.n, l.k, 1, x, l.k, l.weight.Data, l.wld(), 1, y, l.n)
		return
	}
	blas.Sgemm(false, !l.transpose, l.m, l.n, l.k, 1, x, l.k, l.weight.Data, l.wld(), 0, y, l.n)
}

// wld is the leading dimension of the stored weight matrix.
func (l *InnerProduct) wld() int {
	if l.transpose {
		return l.n
	}
	return l.k
}

// Backward accumulates dW and dbias and computes the bottom gradient.
func (l *InnerProduct) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	dy, x := top[0].Diff, bottom[0].Data
	if l.paramProp[0] {
		if l.transpose {
			// dW (K x N) += x^T * dy
			blas.Sgemm(true, false, l.k, l.n, l.m, 1, x, l.k, dy, l.n, 1, l.weight.Diff, l.n)
		} else {
			// dW (N x K) += dy^T * x
			blas.Sgemm(true, false, l.n, l.k, l.m, 1, dy, l.n, x, l.k, 1, l.weight.Diff, l.k)
		}
	}
	if l.biasTerm && l.paramProp[1] {
		blas.Sgemv(true, l.m, l.n, 1, dy, l.n, l.onesM, 1, l.bias.Diff)
	}
	if propagateDown[0] {
		// dx (M x K) = dy * W  (or dy * W^T when W is stored K x N)
		blas.Sgemm(false, l.transpose, l.m, l.k, l.n, 1, dy, l.n, l.weight.Data, l.wld(), 0, bottom[0].Diff, l.k)
	}
}
