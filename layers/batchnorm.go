package layers

import (
	"errors"
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("BatchNorm", newBatchNorm)
}

// BatchNorm normalises each channel (axis 1) to zero mean and unit variance,
// as Caffe's BatchNormLayer (batch_norm_param):
//
//   - In training (use_global_stats false, the default in the TRAIN phase)
//     it uses the mini-batch mean and biased variance, and updates three
//     blobs: the running sums of means and of unbiased variances decayed by
//     moving_average_fraction, and their scale factor (s <- s*f + 1).
//   - With global stats (the default in the TEST phase) it uses
//     mean = blob0 / s and variance = blob1 / s (0 when s is 0).
//
// y = (x - mean) / sqrt(variance + eps). The three blobs are statistics,
// not learned parameters: as Caffe's layer does, the constructor appends
// param specs with lr_mult 0 to the LayerParameter for the blobs that have
// none, and a param spec with another lr_mult is an error.
type BatchNorm struct {
	useGlobal bool
	maf, eps  float32
	blobs     []*tensor.Blob // running mean sum, running variance sum, scale factor

	channels, num, spatial int
	mean, std              []float32 // per channel; std = sqrt(variance + eps)
	xnorm                  []float32 // the normalised output, kept for backward

	// Per-pass operands.
	x, y, dy, dx       []float32
	fwdChunk, bwdChunk func(lo, hi int)
	bwdGlobal          func(lo, hi int)
}

func newBatchNorm(p *pb.LayerParameter, ctx *Context) (Layer, error) {
	bp := p.GetBatchNormParam()
	l := &BatchNorm{
		useGlobal: ctx.Phase == pb.Phase_TEST,
		maf:       bp.GetMovingAverageFraction(),
		eps:       bp.GetEps(),
	}
	if bp != nil && bp.UseGlobalStats != nil {
		l.useGlobal = bp.GetUseGlobalStats()
	}
	for i, ps := range p.GetParam() {
		if i < 3 && ps.GetLrMult() != 0 {
			return nil, fmt.Errorf("param %d has lr_mult %g: cannot configure batch normalization statistics as layer parameters (lr_mult must be 0)", i, ps.GetLrMult())
		}
	}
	// Like Caffe's LayerSetUp, record lr_mult 0 for the statistics in the
	// layer's parameters, so that the net never updates them.
	for len(p.Param) < 3 {
		p.Param = append(p.Param, &pb.ParamSpec{LrMult: new(float32(0))})
	}
	l.fwdChunk, l.bwdChunk, l.bwdGlobal = l.forwardChannels, l.backwardChannels, l.backwardGlobalRows
	return l, nil
}

// Type returns "BatchNorm".
func (l *BatchNorm) Type() string { return "BatchNorm" }

// Arity is one bottom and one top.
func (l *BatchNorm) Arity() Arity { return Exact(1, 1) }

// Params returns the running mean sum, the running variance sum and the
// scale factor, in Caffe's order.
func (l *BatchNorm) Params() []*tensor.Blob { return l.blobs }

// UsesGlobalStats reports whether the layer normalises with the stored
// statistics rather than the mini-batch's.
func (l *BatchNorm) UsesGlobalStats() bool { return l.useGlobal }

// Setup creates the three zero-filled statistics blobs.
func (l *BatchNorm) Setup(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	switch b.NumAxes() {
	case 0:
		return errors.New("bottom must have at least one axis")
	case 1:
		l.channels = 1
	default:
		l.channels = b.Dim(1)
	}
	l.blobs = []*tensor.Blob{tensor.New(l.channels), tensor.New(l.channels), tensor.New(1)}
	return nil
}

// Reshape checks the channel count and sizes the top and the buffers.
func (l *BatchNorm) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if b.NumAxes() == 0 {
		return errors.New("bottom must have at least one axis")
	}
	if b.NumAxes() >= 2 && b.Dim(1) != l.channels {
		return fmt.Errorf("bottom has %d channels, the layer was set up for %d (shape %s)", b.Dim(1), l.channels, b.ShapeString())
	}
	top[0].ReshapeLike(b)
	l.num = b.Dim(0)
	if l.num*l.channels > 0 {
		l.spatial = b.Count() / (l.num * l.channels)
	} else {
		l.spatial = 0
	}
	l.mean = growFloats(l.mean, l.channels)
	l.std = growFloats(l.std, l.channels)
	l.xnorm = growFloats(l.xnorm, b.Count())
	return nil
}

// Forward normalises and, in training mode, updates the running statistics.
func (l *BatchNorm) Forward(bottom, top []*tensor.Blob) {
	if l.useGlobal {
		f := l.blobs[2].Data[0]
		if f != 0 {
			f = 1 / f
		}
		for c := range l.channels {
			l.mean[c] = f * l.blobs[0].Data[c]
			l.std[c] = f * l.blobs[1].Data[c] // variance until forwardChannels
		}
	} else {
		l.blobs[2].Data[0] = l.blobs[2].Data[0]*l.maf + 1
	}
	l.x, l.y = bottom[0].Data, top[0].Data
	parallelRows(l.channels, l.num*l.spatial, l.fwdChunk)
	l.x, l.y = nil, nil
}

// forwardChannels normalises channels [lo, hi): batch statistics (unless
// global), the running averages, then y = (x - mean) / std.
func (l *BatchNorm) forwardChannels(lo, hi int) {
	S, C := l.spatial, l.channels
	norm := float32(1 / float64(l.num*S))
	m := l.num * S
	bias := float32(1)
	if m > 1 {
		bias = float32(m) / float32(m-1)
	}
	for c := lo; c < hi; c++ {
		if !l.useGlobal {
			var mean float32
			for n := 0; n < l.num; n++ {
				off := (n*C + c) * S
				mean += float32(sum64(l.x[off:off+S])) * norm
			}
			l.mean[c] = mean
		}
		mean := l.mean[c]
		var variance float32
		for n := 0; n < l.num; n++ {
			off := (n*C + c) * S
			x, y := l.x[off:off+S], l.y[off:off+S]
			y = y[:len(x)]
			for i, v := range x {
				y[i] = v - mean
			}
			if !l.useGlobal {
				variance += float32(dot64(y, y)) * norm
			}
		}
		if !l.useGlobal {
			l.std[c] = variance
			l.blobs[0].Data[c] = l.maf*l.blobs[0].Data[c] + mean
			l.blobs[1].Data[c] = l.maf*l.blobs[1].Data[c] + bias*variance
		}
		std := float32(math.Sqrt(float64(l.std[c] + l.eps)))
		l.std[c] = std
		for n := 0; n < l.num; n++ {
			off := (n*C + c) * S
			y, xn := l.y[off:off+S], l.xnorm[off:off+S]
			xn = xn[:len(y)]
			for i, v := range y {
				v /= std
				y[i] = v
				xn[i] = v
			}
		}
	}
}

// Backward computes the bottom gradient:
// (dy - mean(dy) - mean(dy y) y) / std in training mode, dy / std with
// global statistics. It reads each top gradient before overwriting it, so
// it works in place.
func (l *BatchNorm) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.dy, l.dx = top[0].Diff, bottom[0].Diff
	if l.useGlobal {
		parallelRows(l.num*l.channels, l.spatial, l.bwdGlobal)
	} else {
		parallelRows(l.channels, l.num*l.spatial, l.bwdChunk)
	}
	l.dy, l.dx = nil, nil
}

func (l *BatchNorm) backwardGlobalRows(lo, hi int) {
	S := l.spatial
	for r := lo; r < hi; r++ {
		std := l.std[r%l.channels]
		dy, dx := l.dy[r*S:(r+1)*S], l.dx[r*S:(r+1)*S]
		dx = dx[:len(dy)]
		for i, g := range dy {
			dx[i] = g / std
		}
	}
}

func (l *BatchNorm) backwardChannels(lo, hi int) {
	S, C := l.spatial, l.channels
	k := float32(-1 / float64(l.num*S))
	for c := lo; c < hi; c++ {
		var a, b float32 // sum(dy y), sum(dy)
		for n := 0; n < l.num; n++ {
			off := (n*C + c) * S
			a += float32(dot64(l.dy[off:off+S], l.xnorm[off:off+S]))
		}
		for n := 0; n < l.num; n++ {
			off := (n*C + c) * S
			b += float32(sum64(l.dy[off : off+S]))
		}
		std := l.std[c]
		for n := 0; n < l.num; n++ {
			off := (n*C + c) * S
			dy, y, dx := l.dy[off:off+S], l.xnorm[off:off+S], l.dx[off:off+S]
			y, dx = y[:len(dy)], dx[:len(dy)]
			for i, g := range dy {
				t := k*(b+y[i]*a) + g
				dx[i] = t / std
			}
		}
	}
}
