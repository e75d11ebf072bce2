package layers

import (
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Convolution", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Convolution{}
		if err := l.initConv("Convolution", p, ctx, false); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// Convolution is Caffe's ConvolutionLayer: N-d convolution with groups,
// padding, stride and dilation, over the spatial axes after
// convolution_param.axis. Each bottom gives one top; all share the weights.
//
// The whole minibatch is lowered by im2col into one column buffer, so each
// group is one GEMM (with the bias folded in as an extra row of ones), and
// the backward pass is one GEMM for the weight gradient and one for the
// columns of the bottom gradient, which col2im sums back in parallel.
type Convolution struct{ baseConv }

// Setup reads the kernel geometry and creates and fills the weights
// (num_output x channels/group x kernel...) and the bias.
func (l *Convolution) Setup(bottom, top []*tensor.Blob) error { return l.setup(bottom, top) }

// Reshape sizes the tops: out = (in + 2*pad - (dilation*(kernel-1)+1))/stride + 1.
func (l *Convolution) Reshape(bottom, top []*tensor.Blob) error { return l.reshape(bottom, top) }

// Forward computes top = W * im2col(bottom) + bias, one chunk of images
// (usually the whole batch) per GEMM.
func (l *Convolution) Forward(bottom, top []*tensor.Blob) {
	w := l.packWeights()
	if l.imagePath() {
		for i, b := range bottom {
			l.forwardImage(w, b.Data, top[i].Data)
		}
		return
	}
	for i, b := range bottom {
		for n0 := 0; n0 < l.num; n0 += l.chunk {
			cn := min(l.chunk, l.num-n0)
			l.im2col(b.Data, n0, cn)
			l.forwardGEMM(w, cn)
			l.scatter(top[i].Data, n0, cn)
		}
	}
	// The columns can be reused by Backward when they hold all of it.
	l.colValid = len(bottom) == 1 && l.chunk >= l.num
}

// Backward accumulates the weight and bias gradients and computes the
// bottom gradients.
func (l *Convolution) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	wantW := l.paramProp[0]
	wantB := l.biasTerm && l.paramProp[1]
	for i, t := range top {
		wantX := propagateDown[i]
		if !wantW && !wantB && !wantX {
			continue
		}
		if l.imagePath() {
			l.backwardImage(bottom[i].Data, bottom[i].Diff, t.Diff, wantW, wantB, wantX)
			continue
		}
		for n0 := 0; n0 < l.num; n0 += l.chunk {
			cn := min(l.chunk, l.num-n0)
			l.gather(t.Diff, n0, cn)
			switch {
			case wantW:
				if !l.colValid {
					l.im2col(bottom[i].Data, n0, cn)
				}
				l.weightGradGEMM(cn, wantB)
			case wantB:
				l.biasGrad(cn)
			}
			if wantX {
				l.colGEMM(cn)
				l.col2im(bottom[i].Diff, nil, n0, cn)
			}
		}
	}
}
