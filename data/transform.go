package data

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

// Transformer is Caffe's DataTransformer (src/caffe/data_transformer.cpp):
// it turns an example's C x H x W values into the float input of the net,
// cropping, mirroring, subtracting a mean and scaling, in Caffe's order:
//
//	out = (value - mean) * scale
//
// where mean is the mean file's element at the same (uncropped) position,
// or the channel's mean_value, or 0. Random choices follow Caffe's order:
// first whether to mirror (when mirror is set, in either phase), then the
// crop offsets (random in TRAIN, centred in TEST).
//
// A Transformer holds no per-call state and is safe for concurrent use.
type Transformer struct {
	scale      float32
	mirror     bool
	crop       int
	train      bool
	mode       ColorMode
	meanFile   string
	mean       []float32
	meanShape  [3]int
	meanValues []float32
}

// NewTransformer checks p and loads its mean file (a BlobProto of shape
// 1 x C x H x W, as compute_image_mean writes). A nil p transforms nothing
// (scale 1, no crop, no mean).
func NewTransformer(p *pb.TransformationParameter, phase pb.Phase) (*Transformer, error) {
	t := &Transformer{
		scale:  p.GetScale(),
		mirror: p.GetMirror(),
		crop:   int(p.GetCropSize()),
		train:  phase == pb.Phase_TRAIN,
		mode:   Native,
	}
	switch {
	case p.GetForceColor() && p.GetForceGray():
		return nil, errors.New("transform_param: force_color and force_gray cannot both be set")
	case p.GetForceColor():
		t.mode = Color
	case p.GetForceGray():
		t.mode = Gray
	}
	t.meanValues = p.GetMeanValue()
	if p.GetMeanFile() != "" {
		if len(t.meanValues) > 0 {
			return nil, errors.New("transform_param: cannot specify mean_file and mean_value at the same time")
		}
		if err := t.loadMean(p.GetMeanFile()); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (t *Transformer) loadMean(path string) error {
	bp, err := caffe.LoadBlobProto(path)
	if err != nil {
		return fmt.Errorf("transform_param: mean_file: %w", err)
	}
	shape, err := caffe.BlobShape(bp)
	if err != nil {
		return fmt.Errorf("transform_param: mean_file %s: %w", path, err)
	}
	// Caffe reads the mean into a 4-D blob and uses its channels, height
	// and width; accept 1xCxHxW and CxHxW.
	if len(shape) == 4 && shape[0] == 1 {
		shape = shape[1:]
	}
	if len(shape) != 3 {
		return fmt.Errorf("transform_param: mean_file %s has shape %v, want 1 x C x H x W", path, shape)
	}
	n := shape[0] * shape[1] * shape[2]
	data := bp.GetData()
	if len(data) == 0 && len(bp.GetDoubleData()) == n {
		data = make([]float32, n)
		for i, v := range bp.GetDoubleData() {
			data[i] = float32(v)
		}
	}
	if len(data) != n {
		return fmt.Errorf("transform_param: mean_file %s: shape %v needs %d values, the file holds %d", path, shape, n, len(data))
	}
	t.meanFile, t.mean, t.meanShape = path, data, [3]int{shape[0], shape[1], shape[2]}
	return nil
}

// DecodeMode returns how encoded images are decoded: Color with
// force_color, Gray with force_gray, else Native.
func (t *Transformer) DecodeMode() ColorMode { return t.mode }

// OutputShape returns the shape of the transformed example for an input of
// c x h x w, or an error when the crop does not fit or the mean does not
// match.
func (t *Transformer) OutputShape(c, h, w int) (oc, oh, ow int, err error) {
	if c <= 0 || h <= 0 || w <= 0 {
		return 0, 0, 0, fmt.Errorf("example has shape %dx%dx%d; every dimension must be positive", c, h, w)
	}
	if t.crop > 0 && (t.crop > h || t.crop > w) {
		return 0, 0, 0, fmt.Errorf("crop_size %d is larger than the %dx%d image", t.crop, h, w)
	}
	if t.mean != nil && (t.meanShape != [3]int{c, h, w}) {
		return 0, 0, 0, fmt.Errorf("mean_file %s has shape %dx%dx%d, but the data is %dx%dx%d", t.meanFile,
			t.meanShape[0], t.meanShape[1], t.meanShape[2], c, h, w)
	}
	if n := len(t.meanValues); n > 1 && n != c {
		return 0, 0, 0, fmt.Errorf("transform_param has %d mean_value entries for %d channels: give one, or one per channel", n, c)
	}
	if t.crop > 0 {
		return c, t.crop, t.crop, nil
	}
	return c, h, w, nil
}

// Transform writes the transformed example into dst, which must hold the
// OutputShape's count, drawing its random choices from r (nil: no mirror,
// centred crop).
func (t *Transformer) Transform(ex *Example, dst []float32, r *rand.Rand) error {
	c, h, w := ex.C, ex.H, ex.W
	_, oh, ow, err := t.OutputShape(c, h, w)
	if err != nil {
		return err
	}
	if len(dst) < c*oh*ow {
		return fmt.Errorf("internal error: output buffer of %d values for a %dx%dx%d example", len(dst), c, oh, ow)
	}
	mirror := t.mirror && r != nil && r.IntN(2) == 1
	hoff, woff := 0, 0
	if t.crop > 0 {
		if t.train && r != nil {
			hoff = r.IntN(h - t.crop + 1)
			woff = r.IntN(w - t.crop + 1)
		} else {
			hoff, woff = (h-t.crop)/2, (w-t.crop)/2
		}
	}
	var u8 []byte
	var f32 []float32
	switch {
	case ex.U8 != nil:
		u8 = ex.U8
		if len(u8) != c*h*w {
			return fmt.Errorf("example has %d bytes of data, want %dx%dx%d = %d", len(u8), c, h, w, c*h*w)
		}
	default:
		f32 = ex.F32
		if len(f32) != c*h*w {
			return fmt.Errorf("example has %d float values, want %dx%dx%d = %d", len(f32), c, h, w, c*h*w)
		}
	}
	scale := t.scale
	for ch := 0; ch < c; ch++ {
		var mv float32
		switch len(t.meanValues) {
		case 0:
		case 1:
			mv = t.meanValues[0]
		default:
			mv = t.meanValues[ch]
		}
		for y := 0; y < oh; y++ {
			si := (ch*h+hoff+y)*w + woff
			out := dst[(ch*oh+y)*ow : (ch*oh+y+1)*ow]
			var mrow []float32
			if t.mean != nil {
				mrow = t.mean[si : si+ow]
			}
			switch {
			case u8 != nil:
				row := u8[si : si+ow]
				transformRow(row, mrow, mv, scale, out, mirror)
			default:
				row := f32[si : si+ow]
				transformRow(row, mrow, mv, scale, out, mirror)
			}
		}
	}
	return nil
}

// transformRow computes (v - mean) * scale for one row, reversed when
// mirroring; mrow (per element) takes precedence over mv (per channel).
func transformRow[T byte | float32](row []T, mrow []float32, mv, scale float32, out []float32, mirror bool) {
	n := len(out)
	row = row[:n]
	switch {
	case mrow != nil && mirror:
		mrow = mrow[:n]
		for x, v := range row {
			out[n-1-x] = (float32(v) - mrow[x]) * scale
		}
	case mrow != nil:
		mrow = mrow[:n]
		for x, v := range row {
			out[x] = (float32(v) - mrow[x]) * scale
		}
	case mirror:
		for x, v := range row {
			out[n-1-x] = (float32(v) - mv) * scale
		}
	default:
		for x, v := range row {
			out[x] = (float32(v) - mv) * scale
		}
	}
}
