package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

// baseConv is the engine shared by Convolution and Deconvolution (Caffe's
// BaseConvolutionLayer), with one difference in strategy: Caffe lowers one
// image at a time and runs one small GEMM per image; baseConv lowers the
// whole minibatch into one column buffer and runs one GEMM per group.
//
// Terms: the "image side" X is the blob im2col reads (the bottom of a
// convolution, the top of a deconvolution), with convIn channels; the
// "column side" Y is the blob the GEMM produces (the top of a convolution,
// the bottom of a deconvolution), with convOut channels and ySpatial
// positions per image. The weights are convOut x convIn/group x kernel.
//
// Buffers (all allocated by Reshape), for a chunk of images (the whole
// minibatch unless its columns exceed convColBudget):
//   - col: for each group g, kdim rows (channel-in-group, kernel offset)
//     over chunk*ySpatial columns (image, output position), then, for a
//     convolution with a bias, one row of ones, so that the bias is the
//     last column of the packed weights wb and the GEMM adds it.
//   - ybuf: convOut rows over chunk*ySpatial columns: the GEMM's output (or
//     input) before it is scattered to (or gathered from) the NCHW blob.
type baseConv struct {
	typ     string
	param   *pb.ConvolutionParameter
	ctx     *Context
	reverse bool // Deconvolution

	channelAxis, numSpatial     int
	kernel, stride, pad, dil    []int
	channels, numOutput, group  int
	convIn, convOut             int
	biasTerm                    bool
	weight, bias                *tensor.Blob
	blobs                       []*tensor.Blob
	paramProp                   [2]bool
	kernelCount                 int // product of kernel dims
	kdim                        int // convIn/group * kernelCount
	foldBias                    bool
	colRows                     int // rows per group in col: kdim (+1 with foldBias)
	num                         int // images in the minibatch
	imShape, outShape, topShape []int
	imSpatial, ySpatial         int
	is2D                        bool
	h, w, oh, ow                int // 2-D geometry (image and column side)
	kh, kw, sh, sw, ph, pw      int
	dh, dw                      int
	// For kernel row i (column j), the output rows (columns) whose input
	// row (column) is inside the image: [ohLo[i], ohHi[i]).
	ohLo, ohHi, owLo, owHi []int

	col, ybuf, wb, dwb []float32
	wt                 []float32 // the image path's transposed weights
	chunk, ld          int       // images per chunk; row stride of col and ybuf
	colValid           bool      // col holds the lowering of the whole last forward's X

	// Operands of the running parallel pass, and the pre-bound range
	// functions (bound once, so that passes do not allocate).
	argX, argBias []float32
	n0, cn        int // the images of the running pass
	im2colFn      func(lo, hi int)
	col2imFn      func(lo, hi int)
	scatterFn     func(lo, hi int)
	gatherFn      func(lo, hi int)

	// The image path (conv_image.go): per-thread column buffers of one
	// image, how the weight gradient is shared out (rows, or nPart fixed
	// blocks of images with their partial sums in part), the operands of
	// the running pass and the pre-bound region functions.
	scr, yscr                             [][]float32
	nb, nBlk                              int // images per block, blocks
	dwRows                                bool
	nPart                                 int
	partT                                 bool // partials transposed (see weightGradPartials)
	part                                  []float32
	argW, argY, argDX                     []float32
	fwdImgFn, dwRowsFn, dwPartFn, dxImgFn func(chunk, lo, hi int)
	biasImgFn, sumPartFn                  func(lo, hi int)
	c2i                                   *col2imGeom // nil: col2im row by row
	i2c                                   *im2colGeom // nil: im2col row by row
}

// initConv reads the ConvolutionParameter. Shapes are checked by setup.
func (c *baseConv) initConv(typ string, p *pb.LayerParameter, ctx *Context, reverse bool) error {
	c.typ, c.ctx, c.reverse = typ, ctx, reverse
	c.param = p.GetConvolutionParam()
	if c.param == nil {
		c.param = &pb.ConvolutionParameter{}
	}
	c.numOutput = int(c.param.GetNumOutput())
	if c.numOutput <= 0 {
		return errors.New("convolution_param.num_output must be positive")
	}
	c.group = int(c.param.GetGroup())
	if c.group <= 0 {
		return errors.New("convolution_param.group must be positive")
	}
	if c.numOutput%c.group != 0 {
		return fmt.Errorf("num_output %d is not a multiple of group %d", c.numOutput, c.group)
	}
	c.biasTerm = c.param.GetBiasTerm()
	c.paramProp = [2]bool{true, true}
	c.im2colFn = c.im2colRange
	c.col2imFn = c.col2imRange
	c.scatterFn = c.scatterRange
	c.gatherFn = c.gatherRange
	c.fwdImgFn = c.forwardBlocks
	c.dwRowsFn = c.weightGradRows
	c.dwPartFn = c.weightGradPartials
	c.dxImgFn = c.dataGradBlocks
	c.biasImgFn = c.biasGradImages
	c.sumPartFn = c.sumPartialsRange
	return nil
}

// Arity: one or more bottoms, each with its own top (weights are shared).
func (c *baseConv) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: -1, EqualBottomTop: true}
}

// Type returns the Caffe type name.
func (c *baseConv) Type() string { return c.typ }

// Params returns the weights and, with bias_term, the bias.
func (c *baseConv) Params() []*tensor.Blob { return c.blobs }

// SetParamPropagateDown turns the gradient of parameter i on or off.
func (c *baseConv) SetParamPropagateDown(i int, on bool) {
	if i >= 0 && i < len(c.paramProp) {
		c.paramProp[i] = on
	}
}

// spatialParam resolves one of pad/stride/dilation/kernel_size: the _h/_w
// pair (2-D only), or the repeated field given once or once per axis.
func spatialParam(name string, vals []uint32, hasHW bool, hv, wv uint32, n int, def int, required bool) ([]int, error) {
	out := make([]int, n)
	if hasHW {
		if n != 2 {
			return nil, fmt.Errorf("%s_h & %s_w can only be used for 2D convolution (got %d spatial axes)", name, name, n)
		}
		if len(vals) != 0 {
			return nil, fmt.Errorf("either %s or %s_h/w should be specified; not both", name, name)
		}
		out[0], out[1] = int(hv), int(wv)
		return out, nil
	}
	switch {
	case len(vals) == 0 && !required:
		for i := range out {
			out[i] = def
		}
	case len(vals) == 1 || (len(vals) == n && n > 0):
		for i := range out {
			if len(vals) == 1 {
				out[i] = int(vals[0])
			} else {
				out[i] = int(vals[i])
			}
		}
	default:
		return nil, fmt.Errorf("%s must be specified once, or once per spatial dimension (%s specified %d times; %d spatial dims)", name, name, len(vals), n)
	}
	return out, nil
}

// setup is Caffe's BaseConvolutionLayer::LayerSetUp.
func (c *baseConv) setup(bottom, top []*tensor.Blob) error {
	cp := c.param
	axis, err := bottom[0].CheckAxis(int(cp.GetAxis()))
	if err != nil {
		return fmt.Errorf("convolution_param.axis: %w", err)
	}
	c.channelAxis = axis
	c.numSpatial = bottom[0].NumAxes() - axis - 1
	if c.numSpatial < 1 {
		return fmt.Errorf("bottom of shape %s has no spatial axes after the channel axis %d", bottom[0].ShapeString(), axis)
	}
	n := c.numSpatial
	hasKHW := cp.KernelH != nil || cp.KernelW != nil
	if hasKHW && (cp.KernelH == nil || cp.KernelW == nil) {
		return errors.New("for non-square filters both kernel_h and kernel_w are required")
	}
	if c.kernel, err = spatialParam("kernel_size", cp.GetKernelSize(), hasKHW, cp.GetKernelH(), cp.GetKernelW(), n, 0, true); err != nil {
		return err
	}
	for i, k := range c.kernel {
		if k <= 0 {
			return fmt.Errorf("kernel size along spatial axis %d must be positive, got %d", i, k)
		}
	}
	if c.stride, err = spatialParam("stride", cp.GetStride(), cp.StrideH != nil || cp.StrideW != nil, cp.GetStrideH(), cp.GetStrideW(), n, 1, false); err != nil {
		return err
	}
	for i, s := range c.stride {
		if s <= 0 {
			return fmt.Errorf("stride along spatial axis %d must be positive, got %d", i, s)
		}
	}
	if c.pad, err = spatialParam("pad", cp.GetPad(), cp.PadH != nil || cp.PadW != nil, cp.GetPadH(), cp.GetPadW(), n, 0, false); err != nil {
		return err
	}
	if c.dil, err = spatialParam("dilation", cp.GetDilation(), false, 0, 0, n, 1, false); err != nil {
		return err
	}
	for i, d := range c.dil {
		if d <= 0 {
			return fmt.Errorf("dilation along spatial axis %d must be positive, got %d", i, d)
		}
	}
	c.channels = bottom[0].Dim(axis)
	if c.channels%c.group != 0 {
		return fmt.Errorf("input channels %d are not a multiple of group %d", c.channels, c.group)
	}
	if c.reverse {
		c.convOut, c.convIn = c.channels, c.numOutput
	} else {
		c.convOut, c.convIn = c.numOutput, c.channels
	}
	wshape := append([]int{c.convOut, c.convIn / c.group}, c.kernel...)
	c.weight = tensor.New(wshape...)
	if err := Fill(c.weight, cp.GetWeightFiller(), c.ctx.Rand); err != nil {
		return fmt.Errorf("weight_filler: %w", err)
	}
	c.blobs = []*tensor.Blob{c.weight}
	if c.biasTerm {
		c.bias = tensor.New(c.numOutput)
		if err := Fill(c.bias, cp.GetBiasFiller(), c.ctx.Rand); err != nil {
			return fmt.Errorf("bias_filler: %w", err)
		}
		c.blobs = append(c.blobs, c.bias)
	}
	c.kernelCount = 1
	for _, k := range c.kernel {
		c.kernelCount *= k
	}
	c.kdim = c.convIn / c.group * c.kernelCount
	c.foldBias = c.biasTerm && !c.reverse
	c.colRows = c.kdim
	if c.foldBias {
		c.colRows++
	}
	c.imShape = make([]int, n)
	c.outShape = make([]int, n)
	c.topShape = make([]int, axis+1+n)
	// 1-D convolutions run on the 2-D path with a unit height.
	c.is2D = n <= 2
	return nil
}

// reshape is Caffe's BaseConvolutionLayer::Reshape with whole-batch buffers.
func (c *baseConv) reshape(bottom, top []*tensor.Blob) error {
	b0 := bottom[0]
	if b0.NumAxes() != c.channelAxis+1+c.numSpatial {
		return fmt.Errorf("bottom has %d axes, want %d (the number of axes may not change)", b0.NumAxes(), c.channelAxis+1+c.numSpatial)
	}
	if b0.Dim(c.channelAxis) != c.channels {
		return fmt.Errorf("bottom has %d channels on axis %d, want %d (input size incompatible with convolution kernel)", b0.Dim(c.channelAxis), c.channelAxis, c.channels)
	}
	for i := 1; i < len(bottom); i++ {
		if !tensor.SameShape(b0, bottom[i]) {
			return fmt.Errorf("all bottoms must have the same shape: bottom 0 is %s, bottom %d is %s", b0.ShapeString(), i, bottom[i].ShapeString())
		}
	}
	shape := b0.Shape()
	c.num = b0.CountRange(0, c.channelAxis)
	copy(c.topShape, shape[:c.channelAxis])
	c.topShape[c.channelAxis] = c.numOutput
	for i := 0; i < c.numSpatial; i++ {
		in := shape[c.channelAxis+1+i]
		ext := c.dil[i]*(c.kernel[i]-1) + 1
		var out int
		if c.reverse {
			out = c.stride[i]*(in-1) + ext - 2*c.pad[i]
		} else {
			out = (in+2*c.pad[i]-ext)/c.stride[i] + 1
			if in+2*c.pad[i] < ext {
				out = 0
			}
		}
		if out <= 0 {
			return fmt.Errorf("spatial axis %d: input size %d, pad %d, kernel extent %d and stride %d give an empty output", i, in, c.pad[i], ext, c.stride[i])
		}
		c.topShape[c.channelAxis+1+i] = out
		if c.reverse {
			c.imShape[i], c.outShape[i] = out, in
		} else {
			c.imShape[i], c.outShape[i] = in, out
		}
	}
	for _, t := range top {
		t.Reshape(c.topShape...)
	}
	c.imSpatial, c.ySpatial = 1, 1
	for i := 0; i < c.numSpatial; i++ {
		c.imSpatial *= c.imShape[i]
		c.ySpatial *= c.outShape[i]
	}
	if c.is2D {
		if c.numSpatial == 2 {
			c.h, c.w, c.oh, c.ow = c.imShape[0], c.imShape[1], c.outShape[0], c.outShape[1]
			c.kh, c.kw, c.sh, c.sw = c.kernel[0], c.kernel[1], c.stride[0], c.stride[1]
			c.ph, c.pw, c.dh, c.dw = c.pad[0], c.pad[1], c.dil[0], c.dil[1]
		} else {
			c.h, c.w, c.oh, c.ow = 1, c.imShape[0], 1, c.outShape[0]
			c.kh, c.kw, c.sh, c.sw = 1, c.kernel[0], 1, c.stride[0]
			c.ph, c.pw, c.dh, c.dw = 0, c.pad[0], 1, c.dil[0]
		}
		c.ohLo, c.ohHi = resizeInts(c.ohLo, c.kh), resizeInts(c.ohHi, c.kh)
		for i := 0; i < c.kh; i++ {
			c.ohLo[i], c.ohHi[i] = validRange(i*c.dh-c.ph, c.sh, c.h, c.oh)
		}
		c.owLo, c.owHi = resizeInts(c.owLo, c.kw), resizeInts(c.owHi, c.kw)
		for j := 0; j < c.kw; j++ {
			c.owLo[j], c.owHi[j] = validRange(j*c.dw-c.pw, c.sw, c.w, c.ow)
		}
	}
	if c.imagePath() {
		c.reshapeImage()
		return nil
	}
	// Images per chunk: the whole batch when its columns fit convColCache
	// (they are then kept from Forward to Backward), else as many as keep
	// the column buffer within convColBudget values (at least one).
	perImage := c.group * c.colRows * c.ySpatial
	c.chunk = c.num
	if perImage*c.num > convColCache {
		c.chunk = max(1, min(c.num, convColBudget/max(perImage, 1)))
	}
	c.ld = c.chunk * c.ySpatial
	colLen := c.group * c.colRows * c.ld
	if len(c.col) != colLen {
		c.col = resizeConvBuf(c.col, colLen)
		if c.foldBias {
			for g := 0; g < c.group; g++ {
				ones := c.col[(g*c.colRows+c.kdim)*c.ld : (g*c.colRows+c.kdim+1)*c.ld]
				for i := range ones {
					ones[i] = 1
				}
			}
		}
	}
	c.colValid = false
	c.ybuf = resizeConvBuf(c.ybuf, c.convOut*c.ld)
	if c.foldBias {
		c.wb = resizeConvBuf(c.wb, c.convOut*c.colRows)
		c.dwb = resizeConvBuf(c.dwb, c.convOut*c.colRows)
	}
	return nil
}

// convColCache is the largest column buffer (in values, 128 MiB) a
// convolution keeps for its whole minibatch, so that Backward reuses the
// columns of Forward; convColBudget bounds the chunks of images a bigger
// minibatch is lowered in, so that big batches of big images do not need
// gigabytes of columns. (Variables for tests.)
var (
	convColCache  = 1 << 25
	convColBudget = 1 << 21
)

// resizeInts returns s with length n, reusing its array when it fits.
func resizeInts(s []int, n int) []int {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]int, n)
}

// resizeConvBuf returns s with length n, reusing its array when it fits.
func resizeConvBuf(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

// packWeights copies the weights, and the bias as an extra column, into wb.
func (c *baseConv) packWeights() []float32 {
	w := c.weight.Data
	if !c.foldBias {
		return w
	}
	k := c.kdim
	b := c.bias.Data
	for o := 0; o < c.convOut; o++ {
		copy(c.wb[o*(k+1):o*(k+1)+k], w[o*k:(o+1)*k])
		c.wb[o*(k+1)+k] = b[o]
	}
	return c.wb
}

// The GEMMs below work on the current chunk of cn images: its columns are
// the first cn*ySpatial of each row of col and ybuf (row stride ld).

// forwardGEMM computes ybuf = W * col for every group (with foldBias the
// bias is included). w is packWeights' result.
func (c *baseConv) forwardGEMM(w []float32, cn int) {
	n := cn * c.ySpatial
	m := c.convOut / c.group
	wk := c.colRows
	for g := 0; g < c.group; g++ {
		blas.Sgemm(false, false, m, n, wk, 1,
			w[g*m*wk:], wk,
			c.col[g*c.colRows*c.ld:], c.ld,
			0, c.ybuf[g*m*c.ld:], c.ld)
	}
}

// weightGradGEMM accumulates dW += dY * col^T for every group, where ybuf
// holds dY; with foldBias, the ones row gives the bias gradient as well
// (added when wantB).
func (c *baseConv) weightGradGEMM(cn int, wantB bool) {
	n := cn * c.ySpatial
	m := c.convOut / c.group
	k := c.kdim
	if !c.foldBias {
		for g := 0; g < c.group; g++ {
			blas.Sgemm(false, true, m, k, n, 1,
				c.ybuf[g*m*c.ld:], c.ld,
				c.col[g*c.colRows*c.ld:], c.ld,
				1, c.weight.Diff[g*m*k:], k)
		}
		return
	}
	kk := k + 1
	for g := 0; g < c.group; g++ {
		blas.Sgemm(false, true, m, kk, n, 1,
			c.ybuf[g*m*c.ld:], c.ld,
			c.col[g*c.colRows*c.ld:], c.ld,
			0, c.dwb[g*m*kk:], kk)
	}
	wd, bd := c.weight.Diff, c.bias.Diff
	for o := 0; o < c.convOut; o++ {
		row := c.dwb[o*kk : (o+1)*kk]
		dst := wd[o*k : (o+1)*k]
		for i, v := range row[:k] {
			dst[i] += v
		}
		if wantB {
			bd[o] += row[k]
		}
	}
}

// biasGrad adds the row sums of ybuf (dY) to the bias gradient.
func (c *baseConv) biasGrad(cn int) {
	n := cn * c.ySpatial
	for o := 0; o < c.convOut; o++ {
		var s float32
		for _, v := range c.ybuf[o*c.ld : o*c.ld+n] {
			s += v
		}
		c.bias.Diff[o] += s
	}
}

// colGEMM computes col = W^T * ybuf for every group (the first kdim rows of
// each group; the ones row is left alone).
func (c *baseConv) colGEMM(cn int) {
	n := cn * c.ySpatial
	m := c.convOut / c.group
	k := c.kdim
	w := c.weight.Data
	for g := 0; g < c.group; g++ {
		blas.Sgemm(true, false, k, n, m, 1,
			w[g*m*k:], k,
			c.ybuf[g*m*c.ld:], c.ld,
			0, c.col[g*c.colRows*c.ld:], c.ld)
	}
	c.colValid = false
}

// yGEMM computes ybuf = W * col without the bias (deconvolution backward).
func (c *baseConv) yGEMM(cn int) {
	n := cn * c.ySpatial
	m := c.convOut / c.group
	k := c.kdim
	w := c.weight.Data
	for g := 0; g < c.group; g++ {
		blas.Sgemm(false, false, m, n, k, 1,
			w[g*m*k:], k,
			c.col[g*c.colRows*c.ld:], c.ld,
			0, c.ybuf[g*m*c.ld:], c.ld)
	}
}

// Grains: the minimum work per parallel chunk, in tasks.
func convGrain(taskLen int) int {
	g := (1 << 13) / max(taskLen, 1)
	return max(g, 1)
}

// im2col lowers images [n0, n0+cn) of x (each convIn x imShape) into col.
func (c *baseConv) im2col(x []float32, n0, cn int) {
	c.argX, c.n0, c.cn = x, n0, cn
	threads.For(c.convIn*cn, convGrain(c.kernelCount*c.ySpatial), c.im2colFn)
}

// col2im sums col back into images [n0, n0+cn) of x (overwriting them),
// adding bias[channel] to every element when bias is not nil.
func (c *baseConv) col2im(x, bias []float32, n0, cn int) {
	c.argX, c.argBias, c.n0, c.cn = x, bias, n0, cn
	threads.For(c.convIn*cn, convGrain(c.kernelCount*c.ySpatial), c.col2imFn)
}

// scatter copies ybuf into images [n0, n0+cn) of y (NCHW).
func (c *baseConv) scatter(y []float32, n0, cn int) {
	c.argX, c.n0, c.cn = y, n0, cn
	threads.For(c.convOut*cn, convGrain(c.ySpatial), c.scatterFn)
}

// gather copies images [n0, n0+cn) of y (NCHW) into ybuf.
func (c *baseConv) gather(y []float32, n0, cn int) {
	c.argX, c.n0, c.cn = y, n0, cn
	threads.For(c.convOut*cn, convGrain(c.ySpatial), c.gatherFn)
}

// colRow returns the col row of input channel ch (0..convIn) and kernel
// offset kidx.
func (c *baseConv) colRow(ch, kidx int) int {
	cg := c.convIn / c.group
	g := ch / cg
	return g*c.colRows + (ch-g*cg)*c.kernelCount + kidx
}

// im2colRange lowers tasks [lo, hi): task t is image n0 + t%cn of channel
// t/cn.
func (c *baseConv) im2colRange(lo, hi int) {
	for t := lo; t < hi; t++ {
		ch, j := t/c.cn, t%c.cn
		n := c.n0 + j
		src := c.argX[(n*c.convIn+ch)*c.imSpatial : (n*c.convIn+ch+1)*c.imSpatial]
		row0 := c.colRow(ch, 0)
		if c.is2D {
			c.im2col2D(src, row0, j*c.ySpatial, c.ld)
		} else {
			c.im2colND(src, row0, j*c.ySpatial, c.ld)
		}
	}
}

func (c *baseConv) im2col2D(src []float32, row0, colOff, ld int) {
	n := c.oh * c.ow
	for kidx := 0; kidx < c.kernelCount; kidx++ {
		r := row0 + kidx
		c.im2colRow2D(c.col[r*ld+colOff:r*ld+colOff+n], src, kidx)
	}
}

// im2colRow2D fills dst (oh*ow values) with the row of kernel offset kidx
// of the lowering of one channel plane src: dst[oy*ow+ox] is the input at
// (oy*sh - ph + i*dh, ox*sw - pw + j*dw), or 0 outside the image.
func (c *baseConv) im2colRow2D(dst, src []float32, kidx int) {
	W, OH, OW := c.w, c.oh, c.ow
	i, j := kidx/c.kw, kidx%c.kw
	hOff := i*c.dh - c.ph
	wOff := j*c.dw - c.pw
	lo, hi := c.ohLo[i], c.ohHi[i]
	owLo, owHi := c.owLo[j], c.owHi[j]
	if owLo >= owHi {
		lo, hi = 0, 0
	}
	if lo > 0 {
		clear(dst[:lo*OW])
	}
	if hi < OH {
		clear(dst[hi*OW:])
	}
	// Each output row reads one input row (every sw-th value), with
	// zeros where the window hangs over the left or right.
	if hi > lo {
		at := (lo*c.sh+hOff)*W + owLo*c.sw + wOff
		copyRows(dst[lo*OW:hi*OW], src[at:], hi-lo, OW, owLo, owHi, c.sh*W, c.sw)
	}
}

// copyRowsGo is the portable copyRows, unrolled for the short rows of
// small images.
func copyRowsGo(dst, src []float32, rows, ow, lo, hi, pitch, stride int) {
	n := hi - lo
	if stride != 1 {
		for r := 0; r < rows; r++ {
			d := dst[r*ow : (r+1)*ow]
			clear(d[:lo])
			s := src[r*pitch:]
			for k := range d[lo:hi] {
				d[lo+k] = s[k*stride]
			}
			clear(d[hi:])
		}
		return
	}
	if lo == 0 && hi == ow {
		switch {
		case n >= 64:
			for r := 0; r < rows; r++ {
				copy(dst[r*n:(r+1)*n], src[r*pitch:r*pitch+n])
			}
			return
		case n == 8:
			for r := 0; r < rows; r++ {
				d, s := (*[8]float32)(dst[r*8:]), (*[8]float32)(src[r*pitch:])
				d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
				d[4], d[5], d[6], d[7] = s[4], s[5], s[6], s[7]
			}
			return
		}
	}
	for r := 0; r < rows; r++ {
		d := dst[r*ow : (r+1)*ow]
		for k := range d[:lo] {
			d[k] = 0
		}
		convCopy(d[lo:hi], src[r*pitch:r*pitch+n])
		for k := range d[hi:] {
			d[hi+k] = 0
		}
	}
}

// convCopy copies src into dst (of the same length). Short rows, the
// common case of im2col, are copied by unrolled moves rather than by a call
// to memmove.
func convCopy(dst, src []float32) {
	n := len(dst)
	if n >= 64 {
		copy(dst, src)
		return
	}
	src = src[:n]
	k := 0
	for ; k+8 <= n; k += 8 {
		d, s := (*[8]float32)(dst[k:]), (*[8]float32)(src[k:])
		d[0], d[1], d[2], d[3] = s[0], s[1], s[2], s[3]
		d[4], d[5], d[6], d[7] = s[4], s[5], s[6], s[7]
	}
	for ; k < n; k++ {
		dst[k] = src[k]
	}
}

// convAdd adds src to dst (of the same length), unrolled by eight.
func convAdd(dst, src []float32) {
	n := len(dst)
	src = src[:n]
	k := 0
	for ; k+8 <= n; k += 8 {
		d, s := (*[8]float32)(dst[k:]), (*[8]float32)(src[k:])
		d[0] += s[0]
		d[1] += s[1]
		d[2] += s[2]
		d[3] += s[3]
		d[4] += s[4]
		d[5] += s[5]
		d[6] += s[6]
		d[7] += s[7]
	}
	for ; k < n; k++ {
		dst[k] += src[k]
	}
}

// validRange returns [lo, hi) of output positions o in [0, n) with
// 0 <= o*stride + off < size.
func validRange(off, stride, size, n int) (lo, hi int) {
	// o*stride + off >= 0  <=>  o >= ceil(-off/stride)
	if off < 0 {
		lo = (-off + stride - 1) / stride
	}
	// o*stride + off <= size-1  <=>  o <= floor((size-1-off)/stride)
	if size-1-off < 0 {
		return 0, 0
	}
	hi = (size-1-off)/stride + 1
	hi = min(hi, n)
	if lo > hi {
		lo = hi
	}
	return lo, hi
}

// im2colND is the general N-d lowering of one channel of one image.
func (c *baseConv) im2colND(src []float32, row0, colOff, np int) {
	ns := c.numSpatial
	var kposArr, oposArr [tensor.MaxAxes]int
	kpos, opos := kposArr[:ns], oposArr[:ns]
	clear(kpos)
	for kidx := 0; kidx < c.kernelCount; kidx++ {
		r := row0 + kidx
		dst := c.col[r*np+colOff : r*np+colOff+c.ySpatial]
		clear(opos)
		for o := range dst {
			idx, ok := 0, true
			for d := 0; d < ns; d++ {
				p := opos[d]*c.stride[d] - c.pad[d] + kpos[d]*c.dil[d]
				if p < 0 || p >= c.imShape[d] {
					ok = false
					break
				}
				idx = idx*c.imShape[d] + p
			}
			if ok {
				dst[o] = src[idx]
			} else {
				dst[o] = 0
			}
			incIndex(opos, c.outShape)
		}
		incIndex(kpos, c.kernel)
	}
}

// incIndex advances a row-major multi-index within shape.
func incIndex(pos, shape []int) {
	for d := len(pos) - 1; d >= 0; d-- {
		pos[d]++
		if pos[d] < shape[d] {
			return
		}
		pos[d] = 0
	}
}

// col2imRange accumulates tasks [lo, hi) as im2colRange lays them out.
func (c *baseConv) col2imRange(lo, hi int) {
	for t := lo; t < hi; t++ {
		ch, j := t/c.cn, t%c.cn
		n := c.n0 + j
		dst := c.argX[(n*c.convIn+ch)*c.imSpatial : (n*c.convIn+ch+1)*c.imSpatial]
		var b float32
		if c.argBias != nil {
			b = c.argBias[ch]
		}
		for i := range dst {
			dst[i] = b
		}
		row0 := c.colRow(ch, 0)
		if c.is2D {
			c.col2im2D(dst, row0, j*c.ySpatial, c.ld)
		} else {
			c.col2imND(dst, row0, j*c.ySpatial, c.ld)
		}
	}
}

func (c *baseConv) col2im2D(dst []float32, row0, colOff, ld int) {
	n := c.oh * c.ow
	for kidx := 0; kidx < c.kernelCount; kidx++ {
		r := row0 + kidx
		c.col2imRow2D(dst, c.col[r*ld+colOff:r*ld+colOff+n], kidx)
	}
}

// col2imRow2D adds src, the column row of kernel offset kidx (oh*ow
// values), to the channel plane dst: the transpose of im2colRow2D.
func (c *baseConv) col2imRow2D(dst, src []float32, kidx int) {
	W, OW := c.w, c.ow
	sh, sw := c.sh, c.sw
	i, j := kidx/c.kw, kidx%c.kw
	hOff := i*c.dh - c.ph
	ohLo, ohHi := c.ohLo[i], c.ohHi[i]
	wOff := j*c.dw - c.pw
	owLo, owHi := c.owLo[j], c.owHi[j]
	if owLo >= owHi || ohLo >= ohHi {
		return
	}
	n := owHi - owLo
	if sw == 1 {
		at := (ohLo*sh+hOff)*W + wOff + owLo
		addRows(dst[at:], src[ohLo*OW+owLo:], ohHi-ohLo, n, sh*W, OW)
		return
	}
	for oy := ohLo; oy < ohHi; oy++ {
		s := src[oy*OW+owLo : oy*OW+owHi]
		drow := dst[(oy*sh+hOff)*W:][:W]
		ix := owLo*sw + wOff
		for _, v := range s {
			drow[ix] += v
			ix += sw
		}
	}
}

// addRowsGo is the portable addRows (the transpose of copyRows).
func addRowsGo(dst, src []float32, rows, n, dpitch, spitch int) {
	if n == 8 {
		for r := 0; r < rows; r++ {
			d, s := (*[8]float32)(dst[r*dpitch:]), (*[8]float32)(src[r*spitch:])
			d[0] += s[0]
			d[1] += s[1]
			d[2] += s[2]
			d[3] += s[3]
			d[4] += s[4]
			d[5] += s[5]
			d[6] += s[6]
			d[7] += s[7]
		}
		return
	}
	for r := 0; r < rows; r++ {
		convAdd(dst[r*dpitch:r*dpitch+n], src[r*spitch:r*spitch+n])
	}
}

func (c *baseConv) col2imND(dst []float32, row0, colOff, np int) {
	ns := c.numSpatial
	var kposArr, oposArr [tensor.MaxAxes]int
	kpos, opos := kposArr[:ns], oposArr[:ns]
	clear(kpos)
	for kidx := 0; kidx < c.kernelCount; kidx++ {
		r := row0 + kidx
		src := c.col[r*np+colOff : r*np+colOff+c.ySpatial]
		clear(opos)
		for o := range src {
			idx, ok := 0, true
			for d := 0; d < ns; d++ {
				p := opos[d]*c.stride[d] - c.pad[d] + kpos[d]*c.dil[d]
				if p < 0 || p >= c.imShape[d] {
					ok = false
					break
				}
				idx = idx*c.imShape[d] + p
			}
			if ok {
				dst[idx] += src[o]
			}
			incIndex(opos, c.outShape)
		}
		incIndex(kpos, c.kernel)
	}
}

// scatterRange copies ybuf rows into NCHW planes: task t is image
// n0 + t/convOut, channel t%convOut.
func (c *baseConv) scatterRange(lo, hi int) {
	P, base := c.ySpatial, c.n0*c.convOut
	for t := lo; t < hi; t++ {
		j, ch := t/c.convOut, t%c.convOut
		copy(c.argX[(base+t)*P:(base+t+1)*P], c.ybuf[ch*c.ld+j*P:ch*c.ld+(j+1)*P])
	}
}

// gatherRange is the inverse of scatterRange.
func (c *baseConv) gatherRange(lo, hi int) {
	P, base := c.ySpatial, c.n0*c.convOut
	for t := lo; t < hi; t++ {
		j, ch := t/c.convOut, t%c.convOut
		copy(c.ybuf[ch*c.ld+j*P:ch*c.ld+(j+1)*P], c.argX[(base+t)*P:(base+t+1)*P])
	}
}
