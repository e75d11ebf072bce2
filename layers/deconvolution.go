package layers

import (
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Deconvolution", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Deconvolution{}
		if err := l.initConv("Deconvolution", p, ctx, true); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// Deconvolution is Caffe's DeconvolutionLayer: the transpose of
// Convolution (its forward pass is a convolution's backward pass), with
// weights of shape channels x num_output/group x kernel and output size
// stride*(in-1) + dilation*(kernel-1)+1 - 2*pad.
type Deconvolution struct{ baseConv }

// Setup reads the kernel geometry and creates and fills the weights and bias.
func (l *Deconvolution) Setup(bottom, top []*tensor.Blob) error { return l.setup(bottom, top) }

// Reshape sizes the tops.
func (l *Deconvolution) Reshape(bottom, top []*tensor.Blob) error { return l.reshape(bottom, top) }

// Forward computes top = col2im(W^T * bottom) + bias.
func (l *Deconvolution) Forward(bottom, top []*tensor.Blob) {
	var bias []float32
	if l.biasTerm {
		bias = l.bias.Data
	}
	for i, b := range bottom {
		for n0 := 0; n0 < l.num; n0 += l.chunk {
			cn := min(l.chunk, l.num-n0)
			l.gather(b.Data, n0, cn)
			l.colGEMM(cn)
			l.col2im(top[i].Data, bias, n0, cn)
		}
	}
}

// Backward accumulates the weight and bias gradients and computes the
// bottom gradients (a convolution of the top gradient).
func (l *Deconvolution) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	wantW := l.paramProp[0]
	wantB := l.biasTerm && l.paramProp[1]
	P := l.imSpatial
	for i, t := range top {
		wantX := propagateDown[i]
		if wantB {
			for n := 0; n < l.num; n++ {
				for o := 0; o < l.numOutput; o++ {
					var s float32
					for _, v := range t.Diff[(n*l.numOutput+o)*P : (n*l.numOutput+o+1)*P] {
						s += v
					}
					l.bias.Diff[o] += s
				}
			}
		}
		if !wantW && !wantX {
			continue
		}
		for n0 := 0; n0 < l.num; n0 += l.chunk {
			cn := min(l.chunk, l.num-n0)
			l.im2col(t.Diff, n0, cn)
			if wantW {
				l.gather(bottom[i].Data, n0, cn)
				l.weightGradGEMM(cn, false)
			}
			if wantX {
				l.yGEMM(cn)
				l.scatter(bottom[i].Diff, n0, cn)
			}
		}
	}
}
