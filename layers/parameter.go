package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Parameter", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		var shape []int
		for _, d := range p.GetParameterParam().GetShape().GetDim() {
			if d < 0 {
				return nil, fmt.Errorf("parameter_param.shape has a negative dimension %d", d)
			}
			shape = append(shape, int(d))
		}
		if len(shape) > tensor.MaxAxes {
			return nil, fmt.Errorf("parameter_param.shape has %d axes, more than %d", len(shape), tensor.MaxAxes)
		}
		return &Parameter{shape: shape}, nil
	})
}

// Parameter exposes a learned blob of parameter_param.shape (zero
// initialised) as its top, sharing the blob's values and gradient, so that
// the layers it feeds write the parameter's gradient.
type Parameter struct {
	shape []int
	blob  *tensor.Blob
}

// Type returns "Parameter".
func (l *Parameter) Type() string { return "Parameter" }

// Arity is no bottoms and one top.
func (l *Parameter) Arity() Arity { return Exact(0, 1) }

// Params returns the parameter blob.
func (l *Parameter) Params() []*tensor.Blob { return []*tensor.Blob{l.blob} }

// Setup creates the blob and shapes the top.
func (l *Parameter) Setup(bottom, top []*tensor.Blob) error {
	l.blob = tensor.New(l.shape...)
	return l.Reshape(bottom, top)
}

// Reshape shapes the top like the blob and shares its buffers.
func (l *Parameter) Reshape(bottom, top []*tensor.Blob) error {
	top[0].ReshapeLike(l.blob)
	top[0].ShareData(l.blob)
	top[0].ShareDiff(l.blob)
	return nil
}

// Forward (re)shares the blob's buffers with the top, in case the net has
// replaced them (weight sharing or loading).
func (l *Parameter) Forward(bottom, top []*tensor.Blob) {
	top[0].ShareData(l.blob)
	top[0].ShareDiff(l.blob)
}

// Backward does nothing: the gradient is already in the blob.
func (l *Parameter) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
