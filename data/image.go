package data

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"strings"

	_ "golang.org/x/image/bmp" // registers BMP with image.Decode
)

// Image is an 8-bit image in Caffe's layout: C x H x W, channel-major, with
// color channels in BGR order (what OpenCV's decoders give Caffe).
type Image struct {
	C, H, W int
	Pix     []byte
}

// Shape returns the image's dimensions as "CxHxW".
func (m *Image) Shape() string { return fmt.Sprintf("%dx%dx%d", m.C, m.H, m.W) }

func (m *Image) resize(c, h, w int) {
	m.C, m.H, m.W = c, h, w
	n := c * h * w
	if cap(m.Pix) < n {
		m.Pix = make([]byte, n)
	}
	m.Pix = m.Pix[:n]
}

// ColorMode selects the channels an image is decoded to, as OpenCV's
// imread/imdecode flags do for Caffe.
type ColorMode int

const (
	// Native keeps the file's channels: 1 for gray, 3 (BGR) for color, 4
	// (BGRA) with alpha (IMREAD_UNCHANGED; Caffe's encoded Datum default).
	Native ColorMode = iota
	// Color gives 3 channels, BGR; gray images are replicated and alpha is
	// dropped (IMREAD_COLOR; is_color, force_color).
	Color
	// Gray gives 1 channel (IMREAD_GRAYSCALE; force_gray, -gray).
	Gray
)

// DecodeImage decodes a JPEG, PNG, GIF or BMP file held in b into dst in
// Caffe's layout. Gray values of color images are what OpenCV's decoders
// give: the JPEG's own luma plane (libjpeg), libpng's rgb_to_gray for PNG,
// and cvtColor's BT.601 luma for the others. 16-bit samples keep their
// high byte.
//
// PNG decodes exactly as OpenCV does (checked in the tests). JPEG pixels can differ
// from libjpeg-turbo's by a little: Go's IDCT rounds a few values
// differently (luma within 1) and its decoder upsamples chroma by
// replication where libjpeg filters ("fancy upsampling"), which moves color
// values by a few levels (mean 2.9, max 7 on the test image).
func DecodeImage(b []byte, mode ColorMode, dst *Image) error {
	img, format, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("decoding image: %w", err)
	}
	gray := cvGray
	if format == "png" {
		gray = pngGray
	}
	fromImage(img, mode, dst, gray)
	return nil
}

// FromImage converts a decoded image to Caffe's layout; color images are
// made gray with OpenCV's cvtColor arithmetic.
func FromImage(img image.Image, mode ColorMode, dst *Image) { fromImage(img, mode, dst, cvGray) }

func fromImage(img image.Image, mode ColorMode, dst *Image, grayOf func(r, g, b uint8) uint8) {
	r := img.Bounds()
	h, w := r.Dy(), r.Dx()
	gray, alpha := false, false
	switch m := img.(type) {
	case *image.Gray, *image.Gray16:
		gray = true
	case *image.YCbCr:
	case *image.NRGBA, *image.NRGBA64, *image.RGBA, *image.RGBA64:
		alpha = !m.(interface{ Opaque() bool }).Opaque()
	case *image.Paletted:
		alpha = !m.Opaque()
	default:
		alpha = !opaque(img)
	}
	c := 3
	switch {
	case mode == Gray || (mode == Native && gray):
		c = 1
	case mode == Native && alpha:
		c = 4
	}
	dst.resize(c, h, w)
	plane := h * w
	pix := dst.Pix
	if c == 1 {
		if y, ok := img.(*image.YCbCr); ok {
			for i := 0; i < h; i++ {
				row := y.Y[y.YOffset(r.Min.X, r.Min.Y+i):]
				copy(pix[i*w:(i+1)*w], row[:w])
			}
			return
		}
		if g, ok := img.(*image.Gray); ok {
			for i := 0; i < h; i++ {
				o := g.PixOffset(r.Min.X, r.Min.Y+i)
				copy(pix[i*w:(i+1)*w], g.Pix[o:o+w])
			}
			return
		}
	}
	switch m := img.(type) {
	case *image.YCbCr:
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				yi := m.YOffset(r.Min.X+j, r.Min.Y+i)
				ci := m.COffset(r.Min.X+j, r.Min.Y+i)
				rr, gg, bb := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				putPixel(pix, plane, c, i*w+j, rr, gg, bb, 255, grayOf)
			}
		}
	case *image.Gray:
		for i := 0; i < h; i++ {
			o := m.PixOffset(r.Min.X, r.Min.Y+i)
			for j := 0; j < w; j++ {
				v := m.Pix[o+j]
				putPixel(pix, plane, c, i*w+j, v, v, v, 255, grayOf)
			}
		}
	case *image.NRGBA:
		for i := 0; i < h; i++ {
			o := m.PixOffset(r.Min.X, r.Min.Y+i)
			for j := 0; j < w; j++ {
				p := m.Pix[o+4*j : o+4*j+4 : o+4*j+4]
				putPixel(pix, plane, c, i*w+j, p[0], p[1], p[2], p[3], grayOf)
			}
		}
	case *image.RGBA:
		// Opaque (the PNG decoder gives RGBA only for opaque images) or
		// premultiplied: un-premultiply through the color model.
		for i := 0; i < h; i++ {
			o := m.PixOffset(r.Min.X, r.Min.Y+i)
			for j := 0; j < w; j++ {
				p := m.Pix[o+4*j : o+4*j+4 : o+4*j+4]
				if p[3] == 255 {
					putPixel(pix, plane, c, i*w+j, p[0], p[1], p[2], 255, grayOf)
					continue
				}
				n := color.NRGBAModel.Convert(color.RGBA{p[0], p[1], p[2], p[3]}).(color.NRGBA)
				putPixel(pix, plane, c, i*w+j, n.R, n.G, n.B, n.A, grayOf)
			}
		}
	default:
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				n := color.NRGBA64Model.Convert(img.At(r.Min.X+j, r.Min.Y+i)).(color.NRGBA64)
				putPixel(pix, plane, c, i*w+j, uint8(n.R>>8), uint8(n.G>>8), uint8(n.B>>8), uint8(n.A>>8), grayOf)
			}
		}
	}
}

func opaque(img image.Image) bool {
	if o, ok := img.(interface{ Opaque() bool }); ok {
		return o.Opaque()
	}
	return true
}

// putPixel stores one pixel at index k of each plane: B, G, R (and A), or
// the gray value.
func putPixel(pix []byte, plane, c, k int, r, g, b, a uint8, grayOf func(r, g, b uint8) uint8) {
	switch c {
	case 1:
		pix[k] = grayOf(r, g, b)
	case 3:
		pix[k], pix[plane+k], pix[2*plane+k] = b, g, r
	default:
		pix[k], pix[plane+k], pix[2*plane+k], pix[3*plane+k] = b, g, r, a
	}
}

// cvGray is OpenCV's BGR2GRAY in fixed point (cvtColor, 14 bits).
func cvGray(r, g, b uint8) uint8 {
	return uint8((uint32(r)*4899 + uint32(g)*9617 + uint32(b)*1868 + 8192) >> 14)
}

// pngGray is libpng's rgb_to_gray with the coefficients OpenCV's PNG
// decoder sets (0.299, 0.587, stored by libpng as 9797/32768 and
// 19234/32768; truncated): what
// imread(IMREAD_GRAYSCALE) gives for a color PNG.
func pngGray(r, g, b uint8) uint8 {
	return uint8((uint32(r)*9797 + uint32(g)*19234 + uint32(b)*3737) >> 15)
}

// ToImage converts a 1- or 3-channel Caffe image (BGR) to a Go image for
// encoding.
func (m *Image) ToImage() (image.Image, error) {
	plane := m.H * m.W
	switch m.C {
	case 1:
		g := image.NewGray(image.Rect(0, 0, m.W, m.H))
		copy(g.Pix, m.Pix[:plane])
		return g, nil
	case 3, 4:
		o := image.NewNRGBA(image.Rect(0, 0, m.W, m.H))
		for k := 0; k < plane; k++ {
			a := uint8(255)
			if m.C == 4 {
				a = m.Pix[3*plane+k]
			}
			o.Pix[4*k], o.Pix[4*k+1], o.Pix[4*k+2], o.Pix[4*k+3] = m.Pix[2*plane+k], m.Pix[plane+k], m.Pix[k], a
		}
		return o, nil
	}
	return nil, fmt.Errorf("cannot encode a %d-channel image", m.C)
}

// EncodeImage encodes m as format ("jpg", "jpeg", "png", "gif"; case
// ignored), as cv::imencode does for convert_imageset -encoded. JPEG uses
// quality 95, OpenCV's default.
func EncodeImage(m *Image, format string) ([]byte, error) {
	img, err := m.ToImage()
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	switch strings.ToLower(format) {
	case "jpg", "jpeg":
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 95})
	case "png":
		err = png.Encode(&buf, img)
	case "gif":
		err = gif.Encode(&buf, img, nil)
	default:
		return nil, fmt.Errorf("unsupported encode type %q (want jpg, png or gif)", format)
	}
	if err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadImageFile reads and decodes an image file as Caffe's
// ReadImageToCVMat does: in color (BGR, 3 channels) or gray, resized with
// bilinear interpolation to height x width when both are positive.
func ReadImageFile(path string, height, width int, isColor bool, dst, scratch *Image) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	mode := Gray
	if isColor {
		mode = Color
	}
	if height > 0 && width > 0 {
		if err := DecodeImage(b, mode, scratch); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		ResizeBilinear(scratch, height, width, dst)
		return nil
	}
	if err := DecodeImage(b, mode, dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// Interpolation weights are fixed-point with 11 fractional bits, as
// OpenCV's INTER_RESIZE_COEF_BITS.
const (
	resizeCoefBits  = 11
	resizeCoefScale = 1 << resizeCoefBits
)

// ResizeBilinear resizes src to height x width into dst with OpenCV's
// INTER_LINEAR for 8-bit images (cv::resize's default, which Caffe uses):
// pixel centres aligned ((d + 0.5) * scale - 0.5), borders clamped, 11-bit
// fixed-point weights, and OpenCV's rounding of the vertical pass.
func ResizeBilinear(src *Image, height, width int, dst *Image) {
	dst.resize(src.C, height, width)
	if src.H == height && src.W == width {
		copy(dst.Pix, src.Pix)
		return
	}
	xofs, xa := linearCoeffs(src.W, width, true)
	yofs, ya := linearCoeffs(src.H, height, false)
	row0 := make([]int32, width)
	row1 := make([]int32, width)
	hresize := func(srow []byte, out []int32) {
		for x := 0; x < width; x++ {
			sx := xofs[x]
			out[x] = int32(srow[sx[0]])*xa[2*x] + int32(srow[sx[1]])*xa[2*x+1]
		}
	}
	for c := 0; c < src.C; c++ {
		splane := src.Pix[c*src.H*src.W : (c+1)*src.H*src.W]
		dplane := dst.Pix[c*height*width : (c+1)*height*width]
		prev0, prev1 := -1, -1
		for y := 0; y < height; y++ {
			sy := yofs[y]
			// Reuse horizontally resized rows when consecutive output
			// rows share source rows.
			switch {
			case sy[0] == prev0 && sy[1] == prev1:
			case sy[0] == prev1:
				row0, row1 = row1, row0
				hresize(splane[sy[1]*src.W:(sy[1]+1)*src.W], row1)
			default:
				hresize(splane[sy[0]*src.W:(sy[0]+1)*src.W], row0)
				hresize(splane[sy[1]*src.W:(sy[1]+1)*src.W], row1)
			}
			prev0, prev1 = sy[0], sy[1]
			b0, b1 := ya[2*y], ya[2*y+1]
			out := dplane[y*width : (y+1)*width]
			for x := range out {
				// OpenCV's 8-bit vertical pass (VResizeLinear<uchar>,
				// SIMD and scalar alike): each term shifted down before
				// the sum, then rounded to 2 more bits.
				v := (((row0[x]>>4)*b0)>>16 + ((row1[x]>>4)*b1)>>16 + 2) >> 2
				out[x] = uint8(min(max(v, 0), 255))
			}
		}
	}
}

// linearCoeffs returns, for each of dn output positions, the two source
// positions and their fixed-point weights, as OpenCV's resize sets them up
// for INTER_LINEAR: a float source coordinate (d + 0.5) * scale - 0.5;
// horizontally, positions outside the image are clamped to the border with
// weights (1, 0) (clamp); vertically, the weights are kept and the rows
// clipped to the image.
func linearCoeffs(sn, dn int, clamp bool) ([][2]int, []int32) {
	scale := 1 / (float64(dn) / float64(sn))
	ofs := make([][2]int, dn)
	a := make([]int32, 2*dn)
	for d := 0; d < dn; d++ {
		f := float32((float64(d)+0.5)*scale - 0.5)
		s := int(floor32(f))
		f -= float32(s)
		if clamp {
			if s < 0 {
				f, s = 0, 0
			}
			if s >= sn-1 {
				f, s = 0, sn-1
			}
		}
		ofs[d] = [2]int{min(max(s, 0), sn-1), min(max(s+1, 0), sn-1)}
		a[2*d] = int32(round32((1 - f) * resizeCoefScale))
		a[2*d+1] = int32(round32(f * resizeCoefScale))
	}
	return ofs, a
}

func floor32(f float32) float32 {
	i := float32(int64(f))
	if i > f {
		i--
	}
	return i
}

// round32 rounds half to even, as cvRound does.
func round32(f float32) float32 {
	i := floor32(f)
	d := f - i
	switch {
	case d > 0.5:
		return i + 1
	case d < 0.5:
		return i
	}
	if int64(i)%2 == 0 {
		return i
	}
	return i + 1
}
