package layers

import "github.com/sparknet/sparknet/caffe/pb"

// poolGeom describes, for the AVX-512 pooling kernels, one plane's output
// rows and windows. Output (oy, ox) pools input rows [rowLo[oy], rowHi[oy])
// and, for each window column j, the input column ox*sw + start offset:
// entry tab[chunk*kw+j] of the 16 outputs of a chunk of a row gives the
// input index of its first lane's value (start, for the chunk's first
// output), the lanes of the (16, or 32 for stride 2) input values that lie
// in the row (rawLo, rawHi), and the outputs whose window column lies in
// the row (valid). div holds each output's pool size (average pooling),
// oh*nchunk*16 values; tail the lanes of a row's last chunk. The field
// order is the assembly's.
type poolGeom struct {
	w, oh, ow, kw, sw, nchunk int
	rowLo, rowHi              []int
	tab                       []poolTab
	div                       []float32
	tail                      int
}

// poolTab is one entry of poolGeom.tab.
type poolTab struct {
	start               int
	rawLo, rawHi, valid uint16
	_                   uint16
}

// poolGeomFor returns the kernels' geometry of the layer's current shape
// (old when the shape is unchanged), or nil when they do not apply: no AVX-512, or
// a horizontal stride other than 1 or 2, or STOCHASTIC pooling.
func (l *Pooling) poolGeomFor(old *poolGeom) *poolGeom {
	if !poolKernelsOK() || l.sw > 2 || l.method == pb.PoolingParameter_STOCHASTIC {
		return nil
	}
	if old != nil && old.w == l.w && old.oh == l.oh && old.ow == l.ow && len(old.rowLo) == l.oh {
		return old // the window never changes
	}
	g := &poolGeom{}
	g.w, g.oh, g.ow, g.kw, g.sw = l.w, l.oh, l.ow, l.kw, l.sw
	g.nchunk = (l.ow + 15) / 16
	g.tail = 1<<(l.ow-(g.nchunk-1)*16) - 1
	g.rowLo, g.rowHi = resizeInts(g.rowLo, l.oh), resizeInts(g.rowHi, l.oh)
	for oy := 0; oy < l.oh; oy++ {
		hs := oy*l.sh - l.ph
		g.rowLo[oy], g.rowHi[oy] = max(hs, 0), min(hs+l.kh, l.h)
	}
	n := g.nchunk * l.kw
	if cap(g.tab) < n {
		g.tab = make([]poolTab, n)
	}
	g.tab = g.tab[:n]
	for c := 0; c < g.nchunk; c++ {
		for j := 0; j < l.kw; j++ {
			e := &g.tab[c*l.kw+j]
			e.start = c*16*l.sw - l.pw + j
			e.rawLo, e.rawHi, e.valid = 0, 0, 0
			for r := 0; r < 16*l.sw; r++ {
				if ix := e.start + r; ix >= 0 && ix < l.w {
					if r < 16 {
						e.rawLo |= 1 << r
					} else {
						e.rawHi |= 1 << (r - 16)
					}
				}
			}
			for lane := 0; lane < 16; lane++ {
				ox := c*16 + lane
				if ix := ox*l.sw - l.pw + j; ox < l.ow && ix >= 0 && ix < l.w {
					e.valid |= 1 << lane
				}
			}
		}
	}
	if l.method == pb.PoolingParameter_AVE {
		n := l.oh * g.nchunk * 16
		if cap(g.div) < n {
			g.div = make([]float32, n)
		}
		g.div = g.div[:n]
		for oy := 0; oy < l.oh; oy++ {
			hs := oy*l.sh - l.ph
			he := min(hs+l.kh, l.h+l.ph)
			for i := 0; i < g.nchunk*16; i++ {
				ox := i
				d := float32(1) // lanes past the row
				if ox < l.ow {
					ws := ox*l.sw - l.pw
					we := min(ws+l.kw, l.w+l.pw)
					d = float32((he - hs) * (we - ws))
				}
				g.div[oy*g.nchunk*16+i] = d
			}
		}
	}
	return g
}

// poolBackGeom describes, for the AVX-512 average-pooling gradient, which
// outputs' windows hold each input value: input row h lies in the windows
// of output rows [oyLo[h], oyHi[h]); in chunk c (16 values) of an input
// row, lane x lies in the windows of output columns idx[(c*t+k)*16+x] for
// the k < t whose lane is set in mask[c*t+k], in increasing order. div is
// the forward geometry's pool sizes (ochunk chunks of 16 per output row,
// otail the lanes of the last). The field order is the assembly's.
type poolBackGeom struct {
	h, w, oh, ow, nchunk, t int
	oyLo, oyHi              []int
	idx                     []int32
	mask                    []uint16
	tail                    int
	ochunk, otail           int
	div                     []float32
}

// poolBackGeomFor returns the average-pooling gradient kernel's geometry
// (old when the shape is unchanged), or nil when the kernel does not apply.
func (l *Pooling) poolBackGeomFor(old *poolBackGeom) *poolBackGeom {
	if l.geom == nil || l.method != pb.PoolingParameter_AVE {
		return nil
	}
	if old != nil && old.h == l.h && old.w == l.w && old.oh == l.oh && old.ow == l.ow {
		old.div = l.geom.div
		return old // the window never changes
	}
	g := &poolBackGeom{}
	g.h, g.w, g.oh, g.ow = l.h, l.w, l.oh, l.ow
	g.nchunk = (l.w + 15) / 16
	g.tail = 1<<(l.w-(g.nchunk-1)*16) - 1
	g.t = (l.kw + l.sw - 1) / l.sw
	g.ochunk, g.otail, g.div = l.geom.nchunk, l.geom.tail, l.geom.div
	g.oyLo, g.oyHi = resizeInts(g.oyLo, l.h), resizeInts(g.oyHi, l.h)
	for h := 0; h < l.h; h++ {
		// Output rows oy with oy*sh - ph <= h < oy*sh - ph + kh.
		lo, hi := l.oh, 0
		for oy := 0; oy < l.oh; oy++ {
			if hs := oy*l.sh - l.ph; hs <= h && h < hs+l.kh {
				lo, hi = min(lo, oy), oy+1
			}
		}
		g.oyLo[h], g.oyHi[h] = min(lo, hi), hi
	}
	n := g.nchunk * g.t
	g.mask = make([]uint16, n)
	g.idx = make([]int32, n*16)
	for c := 0; c < g.nchunk; c++ {
		for lane := 0; lane < 16; lane++ {
			x := c*16 + lane
			// Output columns ox with ox*sw - pw <= x < ox*sw - pw + kw.
			var oxs []int
			for ox := 0; ox < l.ow && x < l.w; ox++ {
				if ws := ox*l.sw - l.pw; ws <= x && x < ws+l.kw {
					oxs = append(oxs, ox)
				}
			}
			for k := 0; k < g.t; k++ {
				e := c*g.t + k
				if lane == 0 {
					g.mask[e] = 0
				}
				g.idx[e*16+lane] = 0
				if k < len(oxs) {
					g.idx[e*16+lane] = int32(oxs[k])
					g.mask[e] |= 1 << lane
				}
			}
		}
	}
	return g
}
