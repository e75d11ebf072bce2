package layers

import (
	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/internal/threads"
)

// The image-by-image path of Convolution (1-D and 2-D).
//
// Lowering the whole minibatch into one column buffer makes one large GEMM,
// but the buffer (cifar10_quick's conv2: 801 rows by 25,600 columns, 82 MB)
// streams through memory three times: written by im2col, read by the GEMM,
// and again in the backward pass. Here each thread takes whole blocks of
// images (one image, or a few when the output planes are small, so that
// each product has some 256 columns), lowers the block into a column
// buffer of its own that stays in its L2 cache, and multiplies it on its
// own (blas.SgemmSerial): per block the product is convOut/group x
// (images*ySpatial) x colRows, which the micro-kernels run near their
// peak. One-image blocks write the NCHW top directly; wider blocks go
// through a buffer of the thread (ybuf) that is scattered to the images.
//
// Backward:
//   - the bottom gradient, per block: dcol = W^T * dY in the thread's
//     buffer, summed back into the images by col2im;
//   - the weight gradient is a sum over images. So that its bits do not
//     depend on the thread count, either (when the lowering has enough rows
//     to share out) each thread owns a fixed range of the rows of dW
//     (channel, kernel offset) and adds up all blocks in order, lowering
//     only its own rows; or (few rows, as a first layer with 1 or 3 input
//     channels has) the images are cut into convPartials fixed blocks, each
//     block summed into its own partial, and the partials added in block
//     order. Either way each element of dW has one fixed sequence of
//     operations, and the blocks depend on the layer's shape only.
//   - with a bias, the row of ones under each group's lowering gives the
//     bias gradient in the same product.

// convPartials is the number of fixed image blocks of the partial-sum
// weight gradient (fewer when the minibatch is smaller).
const convPartials = 16

// convRowsMin (a variable for tests) is the number of rows (of all groups)
// of the lowering from which threads share out the rows of the weight
// gradient rather than the images.
var convRowsMin = 128

// convBlockCols is the number of columns (images x output positions) a
// block of images aims at, and convBlockBytes the most its lowering takes
// (variables for tests).
var (
	convBlockCols  = 256
	convBlockBytes = 1 << 20
)

// imagePath reports whether the layer runs image by image: a 1-D or 2-D
// convolution (not a deconvolution).
func (c *baseConv) imagePath() bool { return !c.reverse && c.is2D }

// reshapeImage sizes the buffers of the image path.
func (c *baseConv) reshapeImage() {
	P := c.ySpatial
	perImage := 4 * c.group * c.colRows * P
	c.nb = max(1, min(c.num, convBlockCols/P, convBlockBytes/max(perImage, 1)))
	c.nBlk = (c.num + c.nb - 1) / c.nb
	c.ld = c.nb * P
	c.dwRows = c.group*c.colRows >= convRowsMin
	c.nPart = 0
	if !c.dwRows {
		c.nPart = min(c.nBlk, convPartials)
		c.partT = convPartTransposed(c.convOut/c.group, c.colRows)
		c.part = resizeConvBuf(c.part, c.nPart*c.convOut*c.colRows)
	}
	c.dwb = resizeConvBuf(c.dwb, c.convOut*c.colRows)
	if c.foldBias {
		c.wb = resizeConvBuf(c.wb, c.convOut*c.colRows)
	}
	c.ensureScratch(threads.Count())
	c.c2i = c.col2imGeomFor(c.c2i)
	c.i2c = c.im2colGeomFor(c.i2c)
}

// convPartTransposed reports whether the partial weight gradients of a
// layer with m output channels per group and rows lowering rows are
// computed transposed: when that fills the micro-kernel's tiles better (a
// variable for tests, which try both).
var convPartTransposed = func(m, rows int) bool {
	mr, nr := blas.Tile()
	return tileFill(rows, m, mr, nr) > tileFill(m, rows, mr, nr)
}

// tileFill is the share of the micro-kernel tiles (mr x nr) covering an m
// x n product that the product fills.
func tileFill(m, n, mr, nr int) float64 {
	tm, tn := (m+mr-1)/mr, (n+nr-1)/nr
	return float64(m*n) / float64(tm*mr*tn*nr)
}

// ensureScratch gives each of nt threads a column buffer for a block of
// images and, for blocks of several images, an output buffer.
func (c *baseConv) ensureScratch(nt int) {
	if len(c.scr) < nt {
		c.scr = append(c.scr, make([][]float32, nt-len(c.scr))...)
		c.yscr = append(c.yscr, make([][]float32, nt-len(c.yscr))...)
	}
	for t := range c.scr {
		c.scr[t] = resizeConvBuf(c.scr[t], c.group*c.colRows*c.ld)
		if c.nb > 1 {
			c.yscr[t] = resizeConvBuf(c.yscr[t], c.convOut*c.ld)
		}
	}
}

// block returns the first image and the number of images of block b.
func (c *baseConv) block(b int) (n0, cn int) {
	n0 = b * c.nb
	return n0, min(c.nb, c.num-n0)
}

// im2colBlock lowers images [n0, n0+cn) of x into col: group*colRows rows
// ld apart, image j's columns at j*ySpatial, the ones rows included when
// the bias is folded.
func (c *baseConv) im2colBlock(col, x []float32, n0, cn int) {
	P, Q, ld := c.ySpatial, c.imSpatial, c.ld
	for j := 0; j < cn; j++ {
		n := n0 + j
		for ch := 0; ch < c.convIn; ch++ {
			src := x[(n*c.convIn+ch)*Q : (n*c.convIn+ch+1)*Q]
			row0 := c.colRow(ch, 0)
			out := col[row0*ld+j*P:]
			if c.i2c != nil {
				im2colPlane(out, src, c.i2c, 0, c.kernelCount, ld)
				continue
			}
			for kidx := 0; kidx < c.kernelCount; kidx++ {
				c.im2colRow2D(out[kidx*ld:kidx*ld+P], src, kidx)
			}
		}
	}
	if c.foldBias {
		for g := 0; g < c.group; g++ {
			r := g*c.colRows + c.kdim
			fillOnes(col[r*ld : r*ld+cn*P])
		}
	}
}

// im2colRows lowers rows [a, b) of group g's lowering of images [n0,
// n0+cn) of x (channel-in-group, kernel offset; row kdim is the ones row)
// into dst, rows ld apart.
func (c *baseConv) im2colRows(dst, x []float32, n0, cn, g, a, b int) {
	P, Q, ld := c.ySpatial, c.imSpatial, c.ld
	kc := c.kernelCount
	for r := a; r < b; {
		if r == c.kdim {
			fillOnes(dst[(r-a)*ld : (r-a)*ld+cn*P])
			r++
			continue
		}
		cl, k0 := r/kc, r%kc
		k1 := min(kc, k0+b-r) // this channel's rows in the range
		ch := g*(c.convIn/c.group) + cl
		for j := 0; j < cn; j++ {
			n := n0 + j
			src := x[(n*c.convIn+ch)*Q : (n*c.convIn+ch+1)*Q]
			out := dst[(r-a)*ld+j*P:]
			if c.i2c != nil {
				im2colPlane(out, src, c.i2c, k0, k1, ld)
				continue
			}
			for kidx := k0; kidx < k1; kidx++ {
				c.im2colRow2D(out[(kidx-k0)*ld:(kidx-k0)*ld+P], src, kidx)
			}
		}
		r += k1 - k0
	}
}

// fillOnes sets every element of x to 1.
func fillOnes(x []float32) {
	for i := range x {
		x[i] = 1
	}
}

// gatherBlock copies the NCHW planes of images [n0, n0+cn) of y into ybuf
// (convOut rows ld apart, image j at column j*ySpatial).
func (c *baseConv) gatherBlock(ybuf, y []float32, n0, cn int) {
	P := c.ySpatial
	for j := 0; j < cn; j++ {
		for o := 0; o < c.convOut; o++ {
			copy(ybuf[o*c.ld+j*P:o*c.ld+(j+1)*P], y[((n0+j)*c.convOut+o)*P:])
		}
	}
}

// scatterBlock is the inverse of gatherBlock.
func (c *baseConv) scatterBlock(y, ybuf []float32, n0, cn int) {
	P := c.ySpatial
	for j := 0; j < cn; j++ {
		for o := 0; o < c.convOut; o++ {
			copy(y[((n0+j)*c.convOut+o)*P:((n0+j)*c.convOut+o+1)*P], ybuf[o*c.ld+j*P:])
		}
	}
}

// yBlock returns where block n0 of y is as a convOut x (cn*ySpatial)
// matrix, and its leading dimension: y itself for one image, else the
// thread's ybuf (gathered from y when gather is set).
func (c *baseConv) yBlock(chunk int, y []float32, n0, cn int, gather bool) ([]float32, int) {
	if c.nb == 1 {
		return y[n0*c.convOut*c.ySpatial:], c.ySpatial
	}
	ybuf := c.yscr[chunk]
	if gather {
		c.gatherBlock(ybuf, y, n0, cn)
	}
	return ybuf, c.ld
}

// forwardBlocks runs the forward pass of blocks [lo, hi) on thread chunk.
func (c *baseConv) forwardBlocks(chunk, lo, hi int) {
	col := c.scr[chunk]
	m := c.convOut / c.group
	wk := c.colRows
	w, x, y := c.argW, c.argX, c.argY
	for b := lo; b < hi; b++ {
		n0, cn := c.block(b)
		c.im2colBlock(col, x, n0, cn)
		yb, ldy := c.yBlock(chunk, y, n0, cn, false)
		for g := 0; g < c.group; g++ {
			blas.SgemmSerial(false, false, m, cn*c.ySpatial, wk, 1,
				w[g*m*wk:], wk,
				col[g*wk*c.ld:], c.ld,
				0, yb[g*m*ldy:], ldy)
		}
		if c.nb > 1 {
			c.scatterBlock(y, yb, n0, cn)
		}
	}
}

// forwardImage is the image path's Forward for one bottom.
func (c *baseConv) forwardImage(w, x, y []float32) {
	pool := threads.Default()
	c.ensureScratch(pool.Threads())
	c.argW, c.argX, c.argY = w, x, y
	pool.Run(c.nBlk, 0, c.fwdImgFn)
	c.argW, c.argX, c.argY = nil, nil, nil
}

// backwardImage is the image path's Backward for one bottom: data x and
// gradient dx, top gradient dy.
func (c *baseConv) backwardImage(x, dx, dy []float32, wantW, wantB, wantX bool) {
	pool := threads.Default()
	c.ensureScratch(pool.Threads())
	c.argX, c.argY, c.argDX = x, dy, dx
	switch {
	case wantW && c.dwRows:
		pool.Run(c.group*c.colRows, 0, c.dwRowsFn)
		c.addWeightGradT(c.dwb, wantB)
	case wantW:
		pool.Run(c.nPart, 0, c.dwPartFn)
		c.sumPartials()
		if c.partT {
			c.addWeightGradT(c.dwb, wantB)
		} else {
			c.addWeightGrad(c.dwb, wantB)
		}
	case wantB:
		threads.For(c.convOut, 1, c.biasImgFn)
	}
	if wantX {
		c.transposeWeights()
		pool.Run(c.nBlk, 0, c.dxImgFn)
	}
	c.argX, c.argY, c.argDX = nil, nil, nil
}

// weightGradRows computes rows [lo, hi) (over all groups) of the
// transposed weight gradient of the whole minibatch into dwb (group*colRows
// x convOut/group): for each block of images, the block's lowering of
// those rows, then for each group's part of the range dwb[rows] +=
// col[rows] * dY^T, block after block.
func (c *baseConv) weightGradRows(chunk, lo, hi int) {
	col := c.scr[chunk]
	m := c.convOut / c.group
	x, dy := c.argX, c.argY
	for blk := 0; blk < c.nBlk; blk++ {
		n0, cn := c.block(blk)
		yb, ldy := c.yBlock(chunk, dy, n0, cn, true)
		for g := lo / c.colRows; g*c.colRows < hi; g++ {
			a := max(lo, g*c.colRows) - g*c.colRows // rows [a, b) of group g
			b := min(hi, (g+1)*c.colRows) - g*c.colRows
			if a >= b {
				continue
			}
			seg := col[(g*c.colRows+a-lo)*c.ld:]
			c.im2colRows(seg, x, n0, cn, g, a, b)
			var beta float32 = 1
			if blk == 0 {
				beta = 0
			}
			// The lowering is read in place; only dY (m rows) is packed.
			blas.SgemmSerial(false, true, b-a, m, cn*c.ySpatial, 1,
				seg, c.ld,
				yb[g*m*ldy:], ldy,
				beta, c.dwb[(g*c.colRows+a)*m:], m)
		}
	}
}

// weightGradPartials computes the partial weight gradients of partial
// blocks [lo, hi): partial i sums image blocks [i*nBlk/nPart,
// (i+1)*nBlk/nPart). Each partial is convOut x colRows or, when partT,
// transposed (group*colRows x convOut/group, as weightGradRows): the
// orientation whose sizes fill the micro-kernel's tiles better.
func (c *baseConv) weightGradPartials(chunk, lo, hi int) {
	col := c.scr[chunk]
	m := c.convOut / c.group
	wk := c.colRows
	x, dy := c.argX, c.argY
	size := c.convOut * wk
	for i := lo; i < hi; i++ {
		part := c.part[i*size : (i+1)*size]
		b0, b1 := i*c.nBlk/c.nPart, (i+1)*c.nBlk/c.nPart
		for blk := b0; blk < b1; blk++ {
			n0, cn := c.block(blk)
			c.im2colBlock(col, x, n0, cn)
			yb, ldy := c.yBlock(chunk, dy, n0, cn, true)
			var beta float32 = 1
			if blk == b0 {
				beta = 0
			}
			for g := 0; g < c.group; g++ {
				if c.partT {
					blas.SgemmSerial(false, true, wk, m, cn*c.ySpatial, 1,
						col[g*wk*c.ld:], c.ld,
						yb[g*m*ldy:], ldy,
						beta, part[g*wk*m:], m)
					continue
				}
				blas.SgemmSerial(false, true, m, wk, cn*c.ySpatial, 1,
					yb[g*m*ldy:], ldy,
					col[g*wk*c.ld:], c.ld,
					beta, part[g*m*wk:], wk)
			}
		}
	}
}

// sumPartials sets dwb to the sum of the partials, in block order.
func (c *baseConv) sumPartials() {
	threads.For(len(c.dwb), 1<<12, c.sumPartFn)
}

func (c *baseConv) sumPartialsRange(lo, hi int) {
	size := len(c.dwb)
	dst := c.dwb[lo:hi]
	copy(dst, c.part[lo:hi])
	for i := 1; i < c.nPart; i++ {
		convAdd(dst, c.part[i*size+lo:i*size+hi])
	}
}

// addWeightGrad adds dwb (convOut x colRows) to the weight gradient and,
// when wantB, its ones column to the bias gradient.
func (c *baseConv) addWeightGrad(dwb []float32, wantB bool) {
	k := c.kdim
	wd := c.weight.Diff
	for o := 0; o < c.convOut; o++ {
		row := dwb[o*c.colRows : (o+1)*c.colRows]
		convAdd(wd[o*k:(o+1)*k], row[:k])
		if wantB {
			c.bias.Diff[o] += row[k]
		}
	}
}

// addWeightGradT adds dwt, the transposed gradient (group*colRows x
// convOut/group), to the weight gradient and, when wantB, its ones rows to
// the bias gradient.
func (c *baseConv) addWeightGradT(dwt []float32, wantB bool) {
	k := c.kdim
	m := c.convOut / c.group
	wd := c.weight.Diff
	for g := 0; g < c.group; g++ {
		t := dwt[g*c.colRows*m : (g+1)*c.colRows*m]
		for o := 0; o < m; o++ {
			row := wd[(g*m+o)*k : (g*m+o+1)*k]
			for r := range row {
				row[r] += t[r*m+o]
			}
			if wantB {
				c.bias.Diff[g*m+o] += t[k*m+o]
			}
		}
	}
}

// biasGradImages adds to the bias gradient of channels [lo, hi) the sum of
// the top gradient over every image and position, in that order.
func (c *baseConv) biasGradImages(lo, hi int) {
	P := c.ySpatial
	dy := c.argY
	for o := lo; o < hi; o++ {
		var s float32
		for n := 0; n < c.num; n++ {
			for _, v := range dy[(n*c.convOut+o)*P : (n*c.convOut+o+1)*P] {
				s += v
			}
		}
		c.bias.Diff[o] += s
	}
}

// transposeWeights sets wt to each group's weights transposed (kdim x
// convOut/group), so that the bottom gradient's products read them in
// place rather than packing a transpose per block.
func (c *baseConv) transposeWeights() {
	k := c.kdim
	m := c.convOut / c.group
	c.wt = resizeConvBuf(c.wt, c.convOut*k)
	w := c.weight.Data
	for g := 0; g < c.group; g++ {
		wg, tg := w[g*m*k:(g+1)*m*k], c.wt[g*k*m:(g+1)*k*m]
		for o := 0; o < m; o++ {
			for r, v := range wg[o*k : (o+1)*k] {
				tg[r*m+o] = v
			}
		}
	}
}

// dataGradBlocks computes the bottom gradient of blocks [lo, hi): per
// block dcol = W^T * dY in the thread's buffer (W^T from transposeWeights),
// then col2im image by image.
func (c *baseConv) dataGradBlocks(chunk, lo, hi int) {
	col := c.scr[chunk]
	P, Q, ld := c.ySpatial, c.imSpatial, c.ld
	m := c.convOut / c.group
	k := c.kdim
	wt := c.wt
	dx, dy := c.argDX, c.argY
	for b := lo; b < hi; b++ {
		n0, cn := c.block(b)
		yb, ldy := c.yBlock(chunk, dy, n0, cn, true)
		for g := 0; g < c.group; g++ {
			blas.SgemmSerial(false, false, k, cn*P, m, 1,
				wt[g*k*m:], m,
				yb[g*m*ldy:], ldy,
				0, col[g*c.colRows*ld:], ld)
		}
		for j := 0; j < cn; j++ {
			n := n0 + j
			for ch := 0; ch < c.convIn; ch++ {
				dst := dx[(n*c.convIn+ch)*Q : (n*c.convIn+ch+1)*Q]
				src := col[c.colRow(ch, 0)*ld+j*P:]
				if c.c2i != nil {
					col2imPlane(dst, src, c.c2i, ld)
					continue
				}
				clear(dst)
				for kidx := 0; kidx < c.kernelCount; kidx++ {
					c.col2imRow2D(dst, src[kidx*ld:kidx*ld+P], kidx)
				}
			}
		}
	}
}

// col2imGeom describes, for the AVX-512 col2im of a stride-1 convolution,
// how the kh*kw column rows of a channel (each oh x ow values, plane apart)
// sum into its h x w plane: output row y takes, for each kernel row i with
// oy = y+ph-i*dh in [0, oh), and each kernel column j, the values
// col[i*kw+j][oy][x+off[j]], for the lanes of mask[j*nchunk+chunk] (16
// values per chunk; tail is the lanes of the last chunk). The field order
// is the assembly's.
type col2imGeom struct {
	h, w, oh, ow, kh, kw, ph, dh, plane, nchunk int
	off                                         []int    // kw offsets pw - j*dw
	mask                                        []uint16 // kw*nchunk lane masks
	tail                                        int
}

// col2imGeomFor returns the geometry of the layer's stride-1 col2im (old
// when it still fits), or nil when the AVX-512 plane kernel does not apply.
func (c *baseConv) col2imGeomFor(old *col2imGeom) *col2imGeom {
	if !planeKernelsOK() || c.sh != 1 || c.sw != 1 {
		return nil
	}
	if old != nil && old.h == c.h && old.w == c.w && old.oh == c.oh && old.ow == c.ow {
		return old // the kernel geometry never changes
	}
	g := &col2imGeom{h: c.h, w: c.w, oh: c.oh, ow: c.ow, kh: c.kh, kw: c.kw, ph: c.ph, dh: c.dh,
		plane: c.oh * c.ow, nchunk: (c.w + 15) / 16}
	g.off = make([]int, c.kw)
	g.mask = make([]uint16, c.kw*g.nchunk)
	for j := 0; j < c.kw; j++ {
		g.off[j] = c.pw - j*c.dw
		for ch := 0; ch < g.nchunk; ch++ {
			var m uint16
			for l := 0; l < 16; l++ {
				x := ch*16 + l
				if ox := x + g.off[j]; x < c.w && ox >= 0 && ox < c.ow {
					m |= 1 << l
				}
			}
			g.mask[j*g.nchunk+ch] = m
		}
	}
	g.tail = 1<<(c.w-(g.nchunk-1)*16) - 1
	return g
}

// im2colGeom describes, for the AVX-512 im2col, how a channel plane (h x
// w) is lowered: output row (oy, ox) of kernel offset (i, j) reads
// src[oy*sh - ph + i*dh][ox*sw + off[j]], for the lanes of
// mask[j*nchunk+chunk] (16 values per chunk of an output row; tail is the
// lanes of the last chunk); output rows outside [ohLo[i], ohHi[i]) are zero.
// The field order is the assembly's.
type im2colGeom struct {
	h, w, oh, ow, kw, sh, sw, ph, dh, plane, nchunk int
	pitch                                           int      // sh*w*4: bytes between the input rows of successive output rows
	off                                             []int    // kw offsets j*dw - pw
	mask                                            []uint16 // kw*nchunk lane masks
	ohLo, ohHi                                      []int    // per kernel row, the output rows inside the image
	tail                                            int
}

// im2colGeomFor returns the geometry of the layer's im2col (old when it
// still fits), or nil when the AVX-512 plane kernel does not apply.
func (c *baseConv) im2colGeomFor(old *im2colGeom) *im2colGeom {
	if !planeKernelsOK() || c.sw*16*((c.ow+15)/16) > 1<<24 {
		return nil
	}
	if old != nil && old.h == c.h && old.w == c.w && old.oh == c.oh && old.ow == c.ow {
		old.ohLo, old.ohHi = c.ohLo, c.ohHi
		return old // the kernel geometry never changes
	}
	g := &im2colGeom{h: c.h, w: c.w, oh: c.oh, ow: c.ow, kw: c.kw, sh: c.sh, sw: c.sw, ph: c.ph, dh: c.dh,
		plane: c.oh * c.ow, nchunk: (c.ow + 15) / 16, pitch: 4 * c.sh * c.w, ohLo: c.ohLo, ohHi: c.ohHi}
	g.off = make([]int, c.kw)
	g.mask = make([]uint16, c.kw*g.nchunk)
	for j := 0; j < c.kw; j++ {
		g.off[j] = j*c.dw - c.pw
		for ch := 0; ch < g.nchunk; ch++ {
			var m uint16
			for l := 0; l < 16; l++ {
				ox := ch*16 + l
				if ix := ox*c.sw + g.off[j]; ox < c.ow && ix >= 0 && ix < c.w {
					m |= 1 << l
				}
			}
			g.mask[j*g.nchunk+ch] = m
		}
	}
	g.tail = 1<<(c.ow-(g.nchunk-1)*16) - 1
	return g
}
