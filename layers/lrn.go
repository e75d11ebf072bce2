package layers

import (
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("LRN", newLRN)
}

// LRN is local response normalisation (lrn_param) over 4-D N x C x H x W
// blobs, with Caffe's numerics:
//
//   - ACROSS_CHANNELS: y = x (k + alpha/n sum_{c' in window} x_c'^2)^-beta,
//     the window being local_size channels centred on c; the sums are
//     computed with Caffe's sliding window (add the head, subtract the tail).
//   - WITHIN_CHANNEL: y = x (1 + alpha a)^-beta, where a is the average of
//     x^2 over a local_size x local_size window zero-padded at the borders
//     (always divided by local_size^2), as Caffe's split, square, average
//     pooling, power and product sub-layers compute it; k is not used.
type LRN struct {
	size, prePad      int
	alpha, beta, k    float32
	region            pb.LRNParameter_NormRegion
	num, channels     int
	height, width, hw int

	// ACROSS_CHANNELS: scale = k + alpha/n sum x^2, pw = scale^-beta.
	// WITHIN_CHANNEL: scale = the pooled average a, pw = (1 + alpha a)^-beta.
	scale, pw []float32
	// Backward scratch. ACROSS_CHANNELS: t1 holds the running window sums
	// of the ratios (one plane per image), t2 the ratios dy y / scale.
	// WITHIN_CHANNEL: t1 holds the pooled average's gradient, t2 the
	// squared input's.
	t1, t2 []float32
	saved  []float32 // the bottom values when running in place
	power  Power     // WITHIN_CHANNEL's (1 + alpha a)^-beta

	blocks               int // ACROSS: spatial blocks per image
	x, y, dy, dx         []float32
	fwdAcross, bwdAcross func(lo, hi int)
	fwdWithin, bwdWithin func(lo, hi int)
}

// lrnBlock is the number of spatial positions one ACROSS_CHANNELS work
// unit covers.
const lrnBlock = 512

func newLRN(p *pb.LayerParameter, ctx *Context) (Layer, error) {
	lp := p.GetLrnParam()
	l := &LRN{
		size:   int(lp.GetLocalSize()),
		alpha:  lp.GetAlpha(),
		beta:   lp.GetBeta(),
		k:      lp.GetK(),
		region: lp.GetNormRegion(),
	}
	if l.size%2 != 1 {
		return nil, fmt.Errorf("local_size must be odd, got %d", l.size)
	}
	switch l.region {
	case pb.LRNParameter_ACROSS_CHANNELS, pb.LRNParameter_WITHIN_CHANNEL:
	default:
		return nil, fmt.Errorf("unknown norm_region %d", l.region)
	}
	l.prePad = (l.size - 1) / 2
	l.power = Power{power: -l.beta, scale: l.alpha, shift: 1, diffScale: -l.beta * l.alpha}
	l.fwdAcross, l.bwdAcross = l.forwardAcross, l.backwardAcross
	l.fwdWithin, l.bwdWithin = l.forwardWithin, l.backwardWithin
	return l, nil
}

// Type returns "LRN".
func (l *LRN) Type() string { return "LRN" }

// Arity is one bottom and one top.
func (l *LRN) Arity() Arity { return Exact(1, 1) }

// Params returns nil.
func (l *LRN) Params() []*tensor.Blob { return nil }

// Setup has nothing to check beyond the parameters.
func (l *LRN) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape checks for a 4-D bottom and sizes the top and the buffers.
func (l *LRN) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if b.NumAxes() != 4 {
		return fmt.Errorf("input must have 4 axes (num, channels, height, width), got shape %s", b.ShapeString())
	}
	l.num, l.channels, l.height, l.width = b.Dim(0), b.Dim(1), b.Dim(2), b.Dim(3)
	l.hw = l.height * l.width
	top[0].ReshapeLike(b)
	n := b.Count()
	if b == top[0] {
		l.saved = growFloats(l.saved, n)
	}
	l.scale = growFloats(l.scale, n)
	l.pw = growFloats(l.pw, n)
	if l.region == pb.LRNParameter_ACROSS_CHANNELS {
		l.t1 = growFloats(l.t1, l.num*l.hw)
		l.t2 = growFloats(l.t2, n)
		l.blocks = (l.hw + lrnBlock - 1) / lrnBlock
	} else {
		l.t1 = growFloats(l.t1, n)
		l.t2 = growFloats(l.t2, n)
	}
	return nil
}

// Forward normalises the bottom.
func (l *LRN) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	if bottom[0] == top[0] {
		copy(l.saved, l.x)
		l.x = l.saved
	}
	if l.region == pb.LRNParameter_ACROSS_CHANNELS {
		parallelRows(l.num*l.blocks, l.channels*lrnBlock, l.fwdAcross)
	} else {
		parallelRows(l.num*l.channels, l.hw*l.size*l.size, l.fwdWithin)
	}
	l.x, l.y = nil, nil
}

// Backward computes the bottom gradient.
func (l *LRN) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.x, l.y, l.dy, l.dx = bottom[0].Data, top[0].Data, top[0].Diff, bottom[0].Diff
	if bottom[0] == top[0] {
		l.x = l.saved
	}
	if l.region == pb.LRNParameter_ACROSS_CHANNELS {
		parallelRows(l.num*l.blocks, l.channels*lrnBlock, l.bwdAcross)
	} else {
		parallelRows(l.num*l.channels, l.hw*l.size*l.size, l.bwdWithin)
	}
	l.x, l.y, l.dy, l.dx = nil, nil, nil, nil
}

// unit returns the image and the spatial range [s0, s1) of ACROSS_CHANNELS
// work unit u.
func (l *LRN) unit(u int) (n, s0, s1 int) {
	n = u / l.blocks
	s0 = (u % l.blocks) * lrnBlock
	return n, s0, min(s0+lrnBlock, l.hw)
}

func (l *LRN) forwardAcross(lo, hi int) {
	aos := l.alpha / float32(l.size)
	C, hw := l.channels, l.hw
	for u := lo; u < hi; u++ {
		n, s0, s1 := l.unit(u)
		base := n * C * hw
		row := func(buf []float32, c int) []float32 {
			off := base + c*hw
			return buf[off+s0 : off+s1]
		}
		// The first channel's scale: k plus the window's head.
		sc := row(l.scale, 0)
		for i := range sc {
			sc[i] = l.k
		}
		for c := 0; c < l.size; c++ {
			src := c - l.prePad
			if src < 0 || src >= C {
				continue
			}
			x := row(l.x, src)
			x = x[:len(sc)]
			for i, v := range x {
				sc[i] += aos * (v * v)
			}
		}
		// Slide the window: copy, add the head, subtract the tail.
		for c := 1; c < C; c++ {
			prev, cur := row(l.scale, c-1), row(l.scale, c)
			cur = cur[:len(prev)]
			copy(cur, prev)
			if head := c + l.prePad; head < C {
				x := row(l.x, head)
				x = x[:len(cur)]
				for i, v := range x {
					cur[i] += aos * (v * v)
				}
			}
			if tail := c - 1 - l.prePad; tail >= 0 {
				x := row(l.x, tail)
				x = x[:len(cur)]
				for i, v := range x {
					cur[i] += -aos * (v * v)
				}
			}
		}
		for c := 0; c < C; c++ {
			sc, pw, x, y := row(l.scale, c), row(l.pw, c), row(l.x, c), row(l.y, c)
			pw, x, y = pw[:len(sc)], x[:len(sc)], y[:len(sc)]
			for i, s := range sc {
				p := powf(s, -l.beta)
				pw[i] = p
				y[i] = p * x[i]
			}
		}
	}
}

func (l *LRN) backwardAcross(lo, hi int) {
	C, hw := l.channels, l.hw
	crv := float32(2 * float64(l.alpha) * float64(l.beta) / float64(l.size))
	for u := lo; u < hi; u++ {
		n, s0, s1 := l.unit(u)
		base := n * C * hw
		row := func(buf []float32, c int) []float32 {
			off := base + c*hw
			return buf[off+s0 : off+s1]
		}
		// ratio_c = dy_c y_c / scale_c, kept in t2; dx starts as dy scale^-beta.
		for c := 0; c < C; c++ {
			dy, y, sc, pw, r, dx := row(l.dy, c), row(l.y, c), row(l.scale, c), row(l.pw, c), row(l.t2, c), row(l.dx, c)
			y, sc, pw, r, dx = y[:len(dy)], sc[:len(dy)], pw[:len(dy)], r[:len(dy)], dx[:len(dy)]
			for i, g := range dy {
				r[i] = g * y[i] / sc[i]
				dx[i] = g * pw[i]
			}
		}
		// ratio(p) is the ratio of channel p - prePad, zero outside [0, C).
		acc := l.t1[n*hw+s0 : n*hw+s1]
		clear(acc)
		for p := 0; p < l.size-1; p++ {
			if c := p - l.prePad; c >= 0 && c < C {
				r := row(l.t2, c)
				r = r[:len(acc)]
				for i, v := range r {
					acc[i] += v
				}
			}
		}
		for c := 0; c < C; c++ {
			if h := c + l.size - 1 - l.prePad; h < C {
				r := row(l.t2, h)
				r = r[:len(acc)]
				for i, v := range r {
					acc[i] += v
				}
			}
			x, dx := row(l.x, c), row(l.dx, c)
			x, dx = x[:len(acc)], dx[:len(acc)]
			for i, a := range acc {
				dx[i] += -crv * (x[i] * a)
			}
			if t := c - l.prePad; t >= 0 {
				r := row(l.t2, t)
				r = r[:len(acc)]
				for i, v := range r {
					acc[i] -= v
				}
			}
		}
	}
}

// window returns the clipped pooling window of output position o along an
// axis of length n: [max(o - pad, 0), min(o - pad + size, n)).
func (l *LRN) window(o, n int) (int, int) {
	s := o - l.prePad
	return max(s, 0), min(s+l.size, n)
}

func (l *LRN) forwardWithin(lo, hi int) {
	H, W, hw := l.height, l.width, l.hw
	poolSize := float32(l.size * l.size)
	for pl := lo; pl < hi; pl++ {
		off := pl * hw
		x, a, pw, y := l.x[off:off+hw], l.scale[off:off+hw], l.pw[off:off+hw], l.y[off:off+hw]
		for h := 0; h < H; h++ {
			h0, h1 := l.window(h, H)
			for w := 0; w < W; w++ {
				w0, w1 := l.window(w, W)
				var s float32
				for hh := h0; hh < h1; hh++ {
					for _, v := range x[hh*W+w0 : hh*W+w1] {
						s += v * v
					}
				}
				a[h*W+w] = s / poolSize
			}
		}
		l.power.forward(a, pw)
		pw = pw[:len(x)]
		y = y[:len(x)]
		for i, v := range x {
			y[i] = v * pw[i]
		}
	}
}

func (l *LRN) backwardWithin(lo, hi int) {
	H, W, hw := l.height, l.width, l.hw
	poolSize := float32(l.size * l.size)
	for pl := lo; pl < hi; pl++ {
		off := pl * hw
		x, a, pw := l.x[off:off+hw], l.scale[off:off+hw], l.pw[off:off+hw]
		dy, dx := l.dy[off:off+hw], l.dx[off:off+hw]
		pd, sd := l.t1[off:off+hw], l.t2[off:off+hw]
		// Product: d(power output) = x dy.
		for i, v := range x {
			pd[i] = v * dy[i]
		}
		// Power: d(pooled) in place.
		l.power.backward(a, pw, pd, pd)
		// Average pooling: spread each gradient over its window.
		clear(sd)
		for h := 0; h < H; h++ {
			h0, h1 := l.window(h, H)
			for w := 0; w < W; w++ {
				w0, w1 := l.window(w, W)
				g := pd[h*W+w] / poolSize
				for hh := h0; hh < h1; hh++ {
					row := sd[hh*W+w0 : hh*W+w1]
					for i := range row {
						row[i] += g
					}
				}
			}
		}
		// Square and split: dx = pw dy + 2 x d(square).
		for i, v := range x {
			dx[i] = pw[i]*dy[i] + sd[i]*(2*v)
		}
	}
}
