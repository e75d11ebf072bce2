package layers

import (
	"errors"
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Pooling", newPooling)
}

// floatMinNormal is C's FLT_MIN, the smallest normal float32, which Caffe
// uses as a floor for probabilities and denominators.
const floatMinNormal = 1.17549435e-38

// Pooling is Caffe's PoolingLayer over the two spatial axes of an NCHW
// blob: MAX (with an optional second top holding the argmax index within
// each plane, as Caffe's top mask), AVE (the divisor counts the padding
// inside the window, clipped at the padded border), and STOCHASTIC (TRAIN:
// one input sampled with probability proportional to its activation; TEST:
// the activation-weighted average sum(x^2)/sum(x)). global_pooling pools the
// whole plane. The output size is ceil- (or floor-) rounded as Caffe's, and
// with padding the last window must start inside the image.
type Pooling struct {
	param      *pb.PoolingParameter
	ctx        *Context
	phase      pb.Phase
	method     pb.PoolingParameter_PoolMethod
	global     bool
	kh, kw     int
	sh, sw     int
	ph, pw     int
	num, ch    int
	h, w       int
	oh, ow     int
	mask       []int32   // argmax (MAX) or sampled index (STOCHASTIC) per output
	rnd        []float32 // STOCHASTIC TRAIN: the uniform draws of a pass
	x, y, m    []float32 // operands of the running pass
	dy, dx     []float32
	fwdFn      func(lo, hi int)
	bwdFn      func(lo, hi int)
	planeGrain int
}

func newPooling(p *pb.LayerParameter, ctx *Context) (Layer, error) {
	pp := p.GetPoolingParam()
	if pp == nil {
		pp = &pb.PoolingParameter{}
	}
	l := &Pooling{param: pp, ctx: ctx, method: pp.GetPool(), global: pp.GetGlobalPooling(), phase: ctx.Phase}
	if p.Phase != nil {
		l.phase = p.GetPhase()
	}
	switch l.method {
	case pb.PoolingParameter_MAX, pb.PoolingParameter_AVE, pb.PoolingParameter_STOCHASTIC:
	default:
		return nil, fmt.Errorf("unknown pooling method %v", l.method)
	}
	hasK := pp.KernelSize != nil
	hasKHW := pp.KernelH != nil || pp.KernelW != nil
	if l.global {
		if hasK || hasKHW {
			return nil, errors.New("with global_pooling: true, the filter size cannot be specified")
		}
	} else {
		if hasK == hasKHW {
			return nil, errors.New("filter size is kernel_size OR kernel_h and kernel_w; not both")
		}
		if hasKHW && (pp.KernelH == nil || pp.KernelW == nil) {
			return nil, errors.New("for non-square filters both kernel_h and kernel_w are required")
		}
		if hasK {
			l.kh, l.kw = int(pp.GetKernelSize()), int(pp.GetKernelSize())
		} else {
			l.kh, l.kw = int(pp.GetKernelH()), int(pp.GetKernelW())
		}
		if l.kh <= 0 || l.kw <= 0 {
			return nil, errors.New("filter dimensions cannot be zero")
		}
	}
	if pp.PadH != nil || pp.PadW != nil {
		if pp.Pad != nil || pp.PadH == nil || pp.PadW == nil {
			return nil, errors.New("pad is pad OR pad_h and pad_w are required")
		}
		l.ph, l.pw = int(pp.GetPadH()), int(pp.GetPadW())
	} else {
		l.ph, l.pw = int(pp.GetPad()), int(pp.GetPad())
	}
	if pp.StrideH != nil || pp.StrideW != nil {
		if pp.Stride != nil || pp.StrideH == nil || pp.StrideW == nil {
			return nil, errors.New("stride is stride OR stride_h and stride_w are required")
		}
		l.sh, l.sw = int(pp.GetStrideH()), int(pp.GetStrideW())
	} else {
		l.sh, l.sw = int(pp.GetStride()), int(pp.GetStride())
	}
	if l.sh <= 0 || l.sw <= 0 {
		return nil, errors.New("stride must be positive")
	}
	if l.global && (l.ph != 0 || l.pw != 0 || l.sh != 1 || l.sw != 1) {
		return nil, errors.New("with global_pooling: true, only pad = 0 and stride = 1 are allowed")
	}
	if l.ph != 0 || l.pw != 0 {
		if l.method == pb.PoolingParameter_STOCHASTIC {
			return nil, errors.New("padding is implemented only for average and max pooling")
		}
		if !l.global && (l.ph >= l.kh || l.pw >= l.kw) {
			return nil, fmt.Errorf("pad (%d, %d) must be smaller than the kernel (%d, %d)", l.ph, l.pw, l.kh, l.kw)
		}
	}
	l.fwdFn = l.forwardRange
	l.bwdFn = l.backwardRange
	return l, nil
}

// Type returns "Pooling".
func (l *Pooling) Type() string { return "Pooling" }

// Arity: one bottom; one top, or two for MAX (the mask).
func (l *Pooling) Arity() Arity {
	maxTop := 1
	if l.method == pb.PoolingParameter_MAX {
		maxTop = 2
	}
	return Arity{ExactBottom: 1, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: maxTop}
}

// Params returns nil: pooling has no parameters.
func (l *Pooling) Params() []*tensor.Blob { return nil }

// Setup checks the bottom.
func (l *Pooling) Setup(bottom, top []*tensor.Blob) error {
	if bottom[0].NumAxes() != 4 {
		return fmt.Errorf("input must have 4 axes (num, channels, height, width), got shape %s", bottom[0].ShapeString())
	}
	return nil
}

// pooledSize is Caffe's output size: rounded up (CEIL) or down, and with
// padding, clipped so that the last window starts inside the image.
func pooledSize(in, k, pad, stride int, mode pb.PoolingParameter_RoundMode) int {
	f := float64(float32(in+2*pad-k) / float32(stride))
	var out int
	if mode == pb.PoolingParameter_FLOOR {
		out = int(math.Floor(f)) + 1
	} else {
		out = int(math.Ceil(f)) + 1
	}
	if pad > 0 && (out-1)*stride >= in+pad {
		out--
	}
	return out
}

// Reshape sizes the top(s) and the index buffer.
func (l *Pooling) Reshape(bottom, top []*tensor.Blob) error {
	b := bottom[0]
	if b.NumAxes() != 4 {
		return fmt.Errorf("input must have 4 axes (num, channels, height, width), got shape %s", b.ShapeString())
	}
	l.num, l.ch, l.h, l.w = b.Dim(0), b.Dim(1), b.Dim(2), b.Dim(3)
	if l.global {
		l.kh, l.kw = l.h, l.w
	}
	if l.h+2*l.ph < l.kh || l.w+2*l.pw < l.kw {
		return fmt.Errorf("kernel %dx%d is larger than the padded input %dx%d", l.kh, l.kw, l.h+2*l.ph, l.w+2*l.pw)
	}
	mode := l.param.GetRoundMode()
	l.oh = pooledSize(l.h, l.kh, l.ph, l.sh, mode)
	l.ow = pooledSize(l.w, l.kw, l.pw, l.sw, mode)
	if l.oh <= 0 || l.ow <= 0 {
		return fmt.Errorf("pooling gives an empty output %dx%d", l.oh, l.ow)
	}
	top[0].Reshape(l.num, l.ch, l.oh, l.ow)
	if len(top) > 1 {
		top[1].Reshape(l.num, l.ch, l.oh, l.ow)
	}
	n := l.num * l.ch * l.oh * l.ow
	if l.method != pb.PoolingParameter_AVE {
		if cap(l.mask) < n {
			l.mask = make([]int32, n)
		}
		l.mask = l.mask[:n]
	}
	if l.method == pb.PoolingParameter_STOCHASTIC {
		if cap(l.rnd) < n {
			l.rnd = make([]float32, n)
		}
		l.rnd = l.rnd[:n]
	}
	l.planeGrain = max(1, (1<<13)/max(1, l.oh*l.ow*l.kh*l.kw))
	return nil
}

// Forward pools every plane, in parallel over planes.
func (l *Pooling) Forward(bottom, top []*tensor.Blob) {
	l.x, l.y = bottom[0].Data, top[0].Data
	l.m = nil
	if len(top) > 1 {
		l.m = top[1].Data
	}
	if l.method == pb.PoolingParameter_STOCHASTIC && l.phase == pb.Phase_TRAIN {
		// Draw sequentially so the result does not depend on the thread count.
		for i := range l.rnd {
			l.rnd[i] = float32(l.ctx.Rand.Float64())
		}
	}
	threads.For(l.num*l.ch, l.planeGrain, l.fwdFn)
}

// Backward routes (MAX, STOCHASTIC) or spreads (AVE) the top gradient.
func (l *Pooling) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.dy, l.dx = top[0].Diff, bottom[0].Diff
	threads.For(l.num*l.ch, l.planeGrain, l.bwdFn)
}

func (l *Pooling) forwardRange(lo, hi int) {
	H, W, OH, OW := l.h, l.w, l.oh, l.ow
	for pl := lo; pl < hi; pl++ {
		x := l.x[pl*H*W : (pl+1)*H*W]
		y := l.y[pl*OH*OW : (pl+1)*OH*OW]
		switch l.method {
		case pb.PoolingParameter_MAX:
			mask := l.mask[pl*OH*OW : (pl+1)*OH*OW]
			// Output columns [fx0, fx1) have windows inside the image
			// horizontally; they take the unrolled path when narrow.
			fx0, fx1 := l.fullCols()
			for oy := 0; oy < OH; oy++ {
				hs := oy*l.sh - l.ph
				he := min(hs+l.kh, H)
				hs = max(hs, 0)
				yr, mr := y[oy*OW:(oy+1)*OW], mask[oy*OW:(oy+1)*OW]
				ox := 0
				for ; ox < OW; ox++ {
					if ox >= fx0 && ox < fx1 && (l.kw == 2 || l.kw == 3) {
						break
					}
					ws := ox*l.sw - l.pw
					yr[ox], mr[ox] = maxWindow(x, W, hs, he, max(ws, 0), min(ws+l.kw, W))
				}
				if ox < fx1 {
					switch l.kw {
					case 2:
						maxRows2(x, W, hs, he, ox*l.sw-l.pw, l.sw, yr[ox:fx1], mr[ox:fx1])
					case 3:
						maxRows3(x, W, hs, he, ox*l.sw-l.pw, l.sw, yr[ox:fx1], mr[ox:fx1])
					}
					ox = fx1
				}
				for ; ox < OW; ox++ {
					ws := ox*l.sw - l.pw
					yr[ox], mr[ox] = maxWindow(x, W, hs, he, max(ws, 0), min(ws+l.kw, W))
				}
			}
			if l.m != nil {
				m := l.m[pl*OH*OW : (pl+1)*OH*OW]
				for i, v := range mask {
					m[i] = float32(v)
				}
			}
		case pb.PoolingParameter_AVE:
			for oy := 0; oy < OH; oy++ {
				hs := oy*l.sh - l.ph
				he := min(hs+l.kh, H+l.ph)
				for ox := 0; ox < OW; ox++ {
					ws := ox*l.sw - l.pw
					we := min(ws+l.kw, W+l.pw)
					size := float32((he - hs) * (we - ws))
					h0, h1 := max(hs, 0), min(he, H)
					w0, w1 := max(ws, 0), min(we, W)
					var s float32
					for iy := h0; iy < h1; iy++ {
						for _, v := range x[iy*W+w0 : iy*W+w1] {
							s += v
						}
					}
					y[oy*OW+ox] = s / size
				}
			}
		case pb.PoolingParameter_STOCHASTIC:
			train := l.phase == pb.Phase_TRAIN
			for oy := 0; oy < OH; oy++ {
				hs := oy * l.sh
				he := min(hs+l.kh, H)
				for ox := 0; ox < OW; ox++ {
					ws := ox * l.sw
					we := min(ws+l.kw, W)
					o := oy*OW + ox
					if train {
						y[o], l.mask[pl*OH*OW+o] = stochasticSample(x, W, hs, he, ws, we, l.rnd[pl*OH*OW+o])
						continue
					}
					// Caffe starts the sum at FLT_MIN to avoid 0/0.
					sum, sq := float32(floatMinNormal), float32(0)
					for iy := hs; iy < he; iy++ {
						for _, v := range x[iy*W+ws : iy*W+we] {
							sum += v
							sq += v * v
						}
					}
					y[o] = sq / sum
				}
			}
		}
	}
}

// fullCols returns the output columns whose windows lie inside the image
// horizontally.
func (l *Pooling) fullCols() (lo, hi int) {
	lo = (l.pw + l.sw - 1) / l.sw
	if l.w-l.kw+l.pw < 0 {
		return 0, 0
	}
	hi = min((l.w-l.kw+l.pw)/l.sw+1, l.ow)
	return min(lo, hi), hi
}

// maxWindow returns the maximum of x over rows [hs, he) and columns
// [ws, we) of a plane of width W, and its index in the plane.
//
// Comparisons use order keys instead of floats, so that the argmax compiles
// to conditional moves rather than unpredictable branches. Ties keep the
// first maximum and NaNs never win, as in Caffe.
func maxWindow(x []float32, W, hs, he, ws, we int) (float32, int32) {
	bk, bi := poolMinKey, int32(-1)
	for iy := hs; iy < he; iy++ {
		base := int32(iy*W + ws)
		for k, v := range x[iy*W+ws : iy*W+we] {
			kv, idx := poolKey(v), base+int32(k)
			if kv > bk {
				bk, bi = kv, idx
			}
		}
	}
	return poolKeyValue(bk), bi
}

// maxRows2 is maxWindow for consecutive windows two columns wide, the first
// starting at column ws, stride sw apart, all inside the image.
func maxRows2(x []float32, W, hs, he, ws, sw int, y []float32, mask []int32) {
	for i := range y {
		bk, bi := poolMinKey, int32(-1)
		for iy := hs; iy < he; iy++ {
			off := iy*W + ws
			r := x[off : off+2]
			k0, k1 := poolKey(r[0]), poolKey(r[1])
			i0 := int32(off)
			if k0 > bk {
				bk, bi = k0, i0
			}
			if k1 > bk {
				bk, bi = k1, i0+1
			}
		}
		y[i], mask[i] = poolKeyValue(bk), bi
		ws += sw
	}
}

// maxRows3 is maxRows2 for windows three columns wide.
func maxRows3(x []float32, W, hs, he, ws, sw int, y []float32, mask []int32) {
	for i := range y {
		bk, bi := poolMinKey, int32(-1)
		for iy := hs; iy < he; iy++ {
			off := iy*W + ws
			r := x[off : off+3]
			k0, k1, k2 := poolKey(r[0]), poolKey(r[1]), poolKey(r[2])
			i0 := int32(off)
			if k0 > bk {
				bk, bi = k0, i0
			}
			if k1 > bk {
				bk, bi = k1, i0+1
			}
			if k2 > bk {
				bk, bi = k2, i0+2
			}
		}
		y[i], mask[i] = poolKeyValue(bk), bi
		ws += sw
	}
}

// poolKey maps a float32 to an int32 with the same order (for non-NaN
// values, -0 equal to +0), so that maxima can be found with integer
// conditional moves. NaN maps below every number.
func poolKey(v float32) int32 {
	b := int32(math.Float32bits(v + 0)) // -0 + 0 = +0
	k := b ^ ((b >> 31) & 0x7fffffff)
	if k > 0x7f800000 { // positive NaN
		k = math.MinInt32
	}
	return k
}

// poolKeyValue inverts poolKey.
func poolKeyValue(k int32) float32 {
	return math.Float32frombits(uint32(k ^ ((k >> 31) & 0x7fffffff)))
}

// poolMinKey is the key of -FLT_MAX, Caffe's initial maximum.
var poolMinKey = poolKey(-math.MaxFloat32)

// stochasticSample picks the first window element where the running sum
// reaches u times the window sum (Caffe's stochastic pooling kernel).
func stochasticSample(x []float32, W, hs, he, ws, we int, u float32) (float32, int32) {
	var sum float32
	for iy := hs; iy < he; iy++ {
		for _, v := range x[iy*W+ws : iy*W+we] {
			sum += v
		}
	}
	thres := u * sum
	sum = 0
	for iy := hs; iy < he; iy++ {
		for ix := ws; ix < we; ix++ {
			sum += x[iy*W+ix]
			if sum >= thres {
				return x[iy*W+ix], int32(iy*W + ix)
			}
		}
	}
	// Rounding can leave the threshold above the final sum: take the last.
	return x[(he-1)*W+we-1], int32((he-1)*W + we - 1)
}

func (l *Pooling) backwardRange(lo, hi int) {
	H, W, OH, OW := l.h, l.w, l.oh, l.ow
	for pl := lo; pl < hi; pl++ {
		dx := l.dx[pl*H*W : (pl+1)*H*W]
		dy := l.dy[pl*OH*OW : (pl+1)*OH*OW]
		clear(dx)
		switch l.method {
		case pb.PoolingParameter_MAX, pb.PoolingParameter_STOCHASTIC:
			if l.method == pb.PoolingParameter_STOCHASTIC && l.phase != pb.Phase_TRAIN {
				// Caffe defines no TEST-phase backward for stochastic
				// pooling; no gradient flows.
				continue
			}
			mask := l.mask[pl*OH*OW : (pl+1)*OH*OW]
			for i, g := range dy {
				if idx := mask[i]; idx >= 0 {
					dx[idx] += g
				}
			}
		case pb.PoolingParameter_AVE:
			for oy := 0; oy < OH; oy++ {
				hs := oy*l.sh - l.ph
				he := min(hs+l.kh, H+l.ph)
				for ox := 0; ox < OW; ox++ {
					ws := ox*l.sw - l.pw
					we := min(ws+l.kw, W+l.pw)
					g := dy[oy*OW+ox] / float32((he-hs)*(we-ws))
					h0, h1 := max(hs, 0), min(he, H)
					w0, w1 := max(ws, 0), min(we, W)
					for iy := h0; iy < h1; iy++ {
						row := dx[iy*W+w0 : iy*W+w1]
						for i := range row {
							row[i] += g
						}
					}
				}
			}
		}
	}
}
