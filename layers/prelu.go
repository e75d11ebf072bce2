package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("PReLU", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &PReLU{param: p.GetPreluParam(), ctx: ctx}
		l.fwdChunk, l.bwdChunk, l.slopeChunk = l.forwardRows, l.backwardRows, l.slopeChannels
		return l, nil
	})
}

// PReLU is the parametric ReLU: y = max(0, x) + a_c min(0, x) with a learned
// slope a_c per channel (axis 1), or one slope for all channels when
// prelu_param.channel_shared is set. The slopes are filled by
// prelu_param.filler, by default the constant 0.25.
type PReLU struct {
	param  *pb.PReLUParameter
	ctx    *Context
	slope  *tensor.Blob
	shared bool

	channels, dim int       // channels and the count of each (n, c) row
	saved         []float32 // bottom values when running in place
	noSlopeGrad   bool      // the net turned the slope gradient off

	x, y, dy, dx                   []float32
	fwdChunk, bwdChunk, slopeChunk func(lo, hi int)
}

// Type returns "PReLU".
func (l *PReLU) Type() string { return "PReLU" }

// Arity is one bottom and one top.
func (l *PReLU) Arity() Arity { return Exact(1, 1) }

// Params returns the slopes.
func (l *PReLU) Params() []*tensor.Blob { return []*tensor.Blob{l.slope} }

// SetParamPropagateDown turns the slope gradient on or off.
func (l *PReLU) SetParamPropagateDown(i int, on bool) {
	if i == 0 {
		l.noSlopeGrad = !on
	}
}

// Setup creates and fills the slopes.
func (l *PReLU) Setup(bottom, top []*tensor.Blob) error {
	if bottom[0].NumAxes() < 2 {
		return fmt.Errorf("bottom must have at least 2 axes, got shape %s", bottom[0].ShapeString())
	}
	l.shared = l.param.GetChannelShared()
	if l.shared {
		l.slope = tensor.New()
	} else {
		l.slope = tensor.New(bottom[0].Dim(1))
	}
	f := l.param.GetFiller()
	if f == nil {
		f = &pb.FillerParameter{Type: new("constant"), Value: new(float32(0.25))}
	}
	if err := Fill(l.slope, f, l.ctx.Rand); err != nil {
		return fmt.Errorf("filling the slopes: %w", err)
	}
	return nil
}

// Reshape sizes the top like the bottom.
func (l *PReLU) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if b.NumAxes() < 2 {
		return fmt.Errorf("bottom must have at least 2 axes, got shape %s", b.ShapeString())
	}
	if !l.shared && b.Dim(1) != l.slope.Count() {
		return fmt.Errorf("bottom has %d channels but the layer has %d slopes", b.Dim(1), l.slope.Count())
	}
	l.channels, l.dim = b.Dim(1), b.CountFrom(2)
	top[0].ReshapeLike(b)
	if b == top[0] {
		l.saved = growFloats(l.saved, b.Count())
	}
	return nil
}

// Forward applies the per-channel slopes.
func (l *PReLU) Forward(bottom, top []*tensor.Blob) {
	if bottom[0] == top[0] {
		copy(l.saved, bottom[0].Data)
	}
	l.x, l.y = bottom[0].Data, top[0].Data
	rows := bottom[0].Count() / max(l.dim, 1)
	if l.dim > 0 {
		parallelRows(rows, l.dim, l.fwdChunk)
	}
	l.x, l.y = nil, nil
}

func (l *PReLU) slopeOf(row int) float32 {
	if l.shared {
		return l.slope.Data[0]
	}
	return l.slope.Data[row%l.channels]
}

// nonPositive returns all ones when v <= 0 (either zero included) and 0
// when v > 0, without a branch: the signs of activations are too random for
// branch prediction.
func nonPositive(v float32) uint32 {
	u := math.Float32bits(v)
	return uint32(int32(u-1)>>31) | uint32(int32(u)>>31)
}

// slopeSelect returns 1 for x > 0 and the bits of a otherwise, as a float.
func slopeSelect(v float32, abits uint32) float32 {
	m := nonPositive(v)
	return math.Float32frombits(abits&m | 0x3f800000&^m)
}

func (l *PReLU) forwardRows(lo, hi int) {
	for r := lo; r < hi; r++ {
		ab := math.Float32bits(l.slopeOf(r))
		x := l.x[r*l.dim : (r+1)*l.dim]
		y := l.y[r*l.dim : (r+1)*l.dim]
		y = y[:len(x)]
		for i, v := range x {
			y[i] = v * slopeSelect(v, ab)
		}
	}
}

// Backward accumulates the slope gradients, then computes the bottom
// gradient (in that order, so that in place the top gradient is read
// before it is overwritten).
func (l *PReLU) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	x := bottom[0].Data
	if bottom[0] == top[0] {
		x = l.saved
	}
	if l.dim == 0 {
		return
	}
	l.x, l.dy, l.dx = x, top[0].Diff, bottom[0].Diff
	rows := len(x) / l.dim
	switch {
	case l.noSlopeGrad:
	case l.shared:
		// One slope: sum over every element in order, as Caffe does.
		var s float32
		dy := l.dy[:len(x)]
		for i, v := range x {
			s += math.Float32frombits(math.Float32bits(dy[i]*v) & nonPositive(v))
		}
		l.slope.Diff[0] += s
	default:
		parallelRows(l.channels, l.dim*(rows/l.channels), l.slopeChunk)
	}
	if propagateDown[0] {
		parallelRows(rows, l.dim, l.bwdChunk)
	}
	l.x, l.dy, l.dx = nil, nil, nil
}

// slopeChannels accumulates the gradients of channels [lo, hi), summing each
// over the batch and the spatial positions in order.
func (l *PReLU) slopeChannels(lo, hi int) {
	num := len(l.x) / (l.channels * l.dim)
	for c := lo; c < hi; c++ {
		var s float32
		for n := 0; n < num; n++ {
			off := (n*l.channels + c) * l.dim
			x := l.x[off : off+l.dim]
			dy := l.dy[off : off+l.dim]
			dy = dy[:len(x)]
			for i, v := range x {
				s += math.Float32frombits(math.Float32bits(dy[i]*v) & nonPositive(v))
			}
		}
		l.slope.Diff[c] += s
	}
}

func (l *PReLU) backwardRows(lo, hi int) {
	for r := lo; r < hi; r++ {
		ab := math.Float32bits(l.slopeOf(r))
		x := l.x[r*l.dim : (r+1)*l.dim]
		dy := l.dy[r*l.dim : (r+1)*l.dim]
		dx := l.dx[r*l.dim : (r+1)*l.dim]
		dy, dx = dy[:len(x)], dx[:len(x)]
		for i, v := range x {
			dx[i] = dy[i] * slopeSelect(v, ab)
		}
	}
}
