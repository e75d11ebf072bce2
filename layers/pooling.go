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
	fwdFn      func(chunk, lo, hi int)
	bwdFn      func(lo, hi int)
	planeGrain int
	scratch    [][]int64     // per thread: the separable passes' rows
	geom       *poolGeom     // the AVX-512 kernels' tables; nil: portable code
	bgeom      *poolBackGeom // the AVX-512 average gradient's; nil: portable code
	gs         [][]float32   // per thread: its scratch
	aveBwdFn   func(chunk, lo, hi int)
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
	l.aveBwdFn = l.aveBackwardRange
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
	l.geom = l.poolGeomFor(l.geom)
	l.bgeom = l.poolBackGeomFor(l.bgeom)
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
	planes := l.num * l.ch
	pool := threads.Default()
	if l.method == pb.PoolingParameter_MAX && l.geom == nil {
		// Per-thread rows for maxPlane (allocated once per thread count).
		nt := pool.Threads()
		if len(l.scratch) < nt {
			l.scratch = append(l.scratch, make([][]int64, nt-len(l.scratch))...)
		}
		n := (l.h + 1) * l.ow
		for t := range l.scratch[:nt] {
			if len(l.scratch[t]) < n {
				l.scratch[t] = make([]int64, n)
			}
		}
	}
	pool.Run(planes, max(1, planes/l.planeGrain), l.fwdFn)
}

// Backward routes (MAX, STOCHASTIC) or spreads (AVE) the top gradient.
func (l *Pooling) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	l.dy, l.dx = top[0].Diff, bottom[0].Diff
	if l.bgeom != nil {
		pool := threads.Default()
		nt := pool.Threads()
		if len(l.gs) < nt {
			l.gs = append(l.gs, make([][]float32, nt-len(l.gs))...)
		}
		for t := range l.gs[:nt] {
			l.gs[t] = resizeConvBuf(l.gs[t], l.oh*l.ow)
		}
		planes := l.num * l.ch
		pool.Run(planes, max(1, planes/l.planeGrain), l.aveBwdFn)
		return
	}
	threads.For(l.num*l.ch, l.planeGrain, l.bwdFn)
}

// aveBackwardRange computes the average-pooling gradient of planes
// [lo, hi) with the AVX-512 kernel.
func (l *Pooling) aveBackwardRange(chunk, lo, hi int) {
	H, W, OH, OW := l.h, l.w, l.oh, l.ow
	gs := l.gs[chunk]
	for pl := lo; pl < hi; pl++ {
		poolAveBack(l.dx[pl*H*W:(pl+1)*H*W], l.dy[pl*OH*OW:(pl+1)*OH*OW], gs, l.bgeom)
	}
}

func (l *Pooling) forwardRange(chunk, lo, hi int) {
	H, W, OH, OW := l.h, l.w, l.oh, l.ow
	for pl := lo; pl < hi; pl++ {
		x := l.x[pl*H*W : (pl+1)*H*W]
		y := l.y[pl*OH*OW : (pl+1)*OH*OW]
		if l.method == pb.PoolingParameter_MAX {
			mask := l.mask[pl*OH*OW : (pl+1)*OH*OW]
			if l.geom != nil {
				poolMaxPlane(y, x, mask, l.geom)
			} else {
				l.maxPlane(x, y, mask, l.scratch[chunk])
			}
			if l.m != nil {
				m := l.m[pl*OH*OW : (pl+1)*OH*OW]
				for i, v := range mask {
					m[i] = float32(v)
				}
			}
			continue
		}
		switch l.method {
		case pb.PoolingParameter_AVE:
			if l.geom != nil {
				poolAvePlane(y, x, l.geom)
				continue
			}
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

// maxPlane max-pools one plane in two separable passes: the maximum of
// every window row for each input row, then the maximum of those over the
// window's rows. Each pass has independent outputs, which keeps the
// processor busy where one window at a time would wait on a chain of
// comparisons. Rows are scanned top to bottom and columns left to right
// with strict comparisons, so ties go to the first element in row-major
// order and NaNs never win, as in Caffe's scan.
//
// A candidate is the pair (value, index) packed into an int64 (value bits
// high, index low) so that selecting it is an integer conditional move
// rather than an unpredictable branch.
func (l *Pooling) maxPlane(x, y []float32, mask []int32, sc []int64) {
	H, W, OH, OW := l.h, l.w, l.oh, l.ow
	hp := sc[:H*OW]
	bk := sc[H*OW : H*OW+OW]
	for iy := 0; iy < H; iy++ {
		poolRowMax(x[iy*W:(iy+1)*W], hp[iy*OW:(iy+1)*OW], iy*W, l.kw, l.sw, l.pw)
	}
	for oy := 0; oy < OH; oy++ {
		hs := oy*l.sh - l.ph
		he := min(hs+l.kh, H)
		hs = max(hs, 0)
		if hs >= he {
			// Without padding, a ceil-rounded last window may start
			// below the image: Caffe leaves it at -FLT_MAX, index -1.
			for i := range bk {
				bk[i] = poolNone
			}
		} else {
			copy(bk, hp[hs*OW:(hs+1)*OW])
		}
		for iy := hs + 1; iy < he; iy++ {
			poolMaxInto(bk, hp[iy*OW:(iy+1)*OW])
		}
		yr, mr := y[oy*OW:(oy+1)*OW], mask[oy*OW:(oy+1)*OW]
		yr, mr = yr[:len(bk)], mr[:len(bk)]
		for ox, b := range bk {
			yr[ox], mr[ox] = math.Float32frombits(uint32(b>>32)), int32(b)
		}
	}
}

// poolNone is the candidate -FLT_MAX at index -1, Caffe's initial maximum.
var poolNone = int64(math.Float32bits(-math.MaxFloat32))<<32 | 0xffffffff

// poolRowMax sets out[ox] to the first maximum of the window row
// [ox*sw-pw, ox*sw-pw+kw) of row (clipped to it), whose first element has
// index base in the plane.
func poolRowMax(row []float32, out []int64, base, kw, sw, pw int) {
	W := len(row)
	ws := -pw
	for ox := range out {
		lo, hi := max(ws, 0), min(ws+kw, W)
		b := poolNone
		bv := float32(-math.MaxFloat32)
		for ix := lo; ix < hi; ix++ {
			v := row[ix]
			c := int64(math.Float32bits(v))<<32 | int64(uint32(base+ix))
			if v > bv {
				b = c
			}
			bv = math.Float32frombits(uint32(b >> 32))
		}
		out[ox] = b
		ws += sw
	}
}

// poolMaxInto replaces each dst candidate by the src one if its value is
// greater.
func poolMaxInto(dst, src []int64) {
	src = src[:len(dst)]
	for i, b := range dst {
		c := src[i]
		if math.Float32frombits(uint32(c>>32)) > math.Float32frombits(uint32(b>>32)) {
			b = c
		}
		dst[i] = b
	}
}

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
