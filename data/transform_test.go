package data

import (
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

func f32(v float32) *float32 { return &v }
func u32(v uint32) *uint32   { return &v }
func bp(v bool) *bool        { return &v }

// example3x4x5 has value 100*c + 10*h + w at (c, h, w).
func example3x4x5() *Example {
	ex := &Example{C: 3, H: 4, W: 5, U8: make([]byte, 60), Label: 2}
	for c := 0; c < 3; c++ {
		for h := 0; h < 4; h++ {
			for w := 0; w < 5; w++ {
				ex.U8[(c*4+h)*5+w] = byte(c*100 + h*10 + w)
			}
		}
	}
	return ex
}

func TestTransformArithmetic(t *testing.T) {
	ex := example3x4x5()
	at := func(c, h, w int) float32 { return float32(c*100 + h*10 + w) }
	cases := []struct {
		name string
		p    *pb.TransformationParameter
		want func(c, h, w int) float32
	}{
		{"identity", nil, at},
		{"scale", &pb.TransformationParameter{Scale: f32(0.00390625)}, func(c, h, w int) float32 { return at(c, h, w) * 0.00390625 }},
		{"one mean", &pb.TransformationParameter{Scale: f32(0.5), MeanValue: []float32{7.25}},
			func(c, h, w int) float32 { return (at(c, h, w) - 7.25) * 0.5 }},
		{"channel means", &pb.TransformationParameter{Scale: f32(2), MeanValue: []float32{104, 117, 123}},
			func(c, h, w int) float32 { return (at(c, h, w) - []float32{104, 117, 123}[c]) * 2 }},
	}
	for _, c := range cases {
		tr, err := NewTransformer(c.p, pb.Phase_TEST)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]float32, 60)
		if err := tr.Transform(ex, out, rand.New(rand.NewPCG(1, 2))); err != nil {
			t.Fatal(err)
		}
		for ch := 0; ch < 3; ch++ {
			for h := 0; h < 4; h++ {
				for w := 0; w < 5; w++ {
					if got, want := out[(ch*4+h)*5+w], c.want(ch, h, w); got != want {
						t.Fatalf("%s: out(%d,%d,%d) = %v, want %v", c.name, ch, h, w, got, want)
					}
				}
			}
		}
	}
	// Float data takes the same path.
	fex := &Example{C: 1, H: 1, W: 3, F32: []float32{0.5, -2, 8}}
	tr, _ := NewTransformer(&pb.TransformationParameter{Scale: f32(3), MeanValue: []float32{1}}, pb.Phase_TRAIN)
	out := make([]float32, 3)
	if err := tr.Transform(fex, out, nil); err != nil || out[0] != -1.5 || out[1] != -9 || out[2] != 21 {
		t.Errorf("float data: %v %v", out, err)
	}
}

func TestTransformCropMirror(t *testing.T) {
	ex := example3x4x5()
	// TEST: centre crop, offsets ((4-2)/2, (5-2)/2) = (1, 1).
	tr, err := NewTransformer(&pb.TransformationParameter{CropSize: u32(2)}, pb.Phase_TEST)
	if err != nil {
		t.Fatal(err)
	}
	c, h, w, err := tr.OutputShape(3, 4, 5)
	if err != nil || c != 3 || h != 2 || w != 2 {
		t.Fatalf("OutputShape = %d %d %d %v", c, h, w, err)
	}
	out := make([]float32, 12)
	if err := tr.Transform(ex, out, rand.New(rand.NewPCG(1, 1))); err != nil {
		t.Fatal(err)
	}
	want := []float32{11, 12, 21, 22, 111, 112, 121, 122, 211, 212, 221, 222}
	for i := range want {
		if out[i] != want[i] {
			t.Fatalf("centre crop = %v, want %v", out, want)
		}
	}
	// TRAIN: random crop and mirror. Every draw must be a valid crop of
	// the image (mirrored or not), and both mirror states and several
	// offsets must occur.
	tr, _ = NewTransformer(&pb.TransformationParameter{CropSize: u32(3), Mirror: bp(true)}, pb.Phase_TRAIN)
	r := rand.New(rand.NewPCG(3, 4))
	seen := map[[3]int]bool{}
	out = make([]float32, 27)
	for range 200 {
		if err := tr.Transform(ex, out, r); err != nil {
			t.Fatal(err)
		}
		// out(0, 0, 0) is 10*hoff + woff, or 10*hoff + woff + 2 mirrored.
		v := int(out[0])
		hoff := v / 10
		mirrored := int(out[2]) < v
		woff := v % 10
		if mirrored {
			woff -= 2
		}
		if hoff < 0 || hoff > 1 || woff < 0 || woff > 2 {
			t.Fatalf("crop offset (%d, %d) out of range", hoff, woff)
		}
		for ch := 0; ch < 3; ch++ {
			for y := 0; y < 3; y++ {
				for x := 0; x < 3; x++ {
					sx := woff + x
					if mirrored {
						sx = woff + 2 - x
					}
					if got, want := out[(ch*3+y)*3+x], float32(ch*100+(hoff+y)*10+sx); got != want {
						t.Fatalf("crop (%d,%d) mirrored=%v: out(%d,%d,%d) = %v, want %v", hoff, woff, mirrored, ch, y, x, got, want)
					}
				}
			}
		}
		m := 0
		if mirrored {
			m = 1
		}
		seen[[3]int{hoff, woff, m}] = true
	}
	if len(seen) != 2*3*2 {
		t.Errorf("200 draws gave %d of the 12 (offset, mirror) combinations", len(seen))
	}
}

func TestTransformMeanFile(t *testing.T) {
	dir := t.TempDir()
	mean := make([]float32, 60)
	for i := range mean {
		mean[i] = float32(i) * 0.5
	}
	one, c3, h4, w5 := int32(1), int32(3), int32(4), int32(5)
	path := filepath.Join(dir, "mean.binaryproto")
	if err := caffe.WriteBinary(path, &pb.BlobProto{Num: &one, Channels: &c3, Height: &h4, Width: &w5, Data: mean}); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTransformer(&pb.TransformationParameter{MeanFile: &path, Scale: f32(0.25), CropSize: u32(2)}, pb.Phase_TEST)
	if err != nil {
		t.Fatal(err)
	}
	ex := example3x4x5()
	out := make([]float32, 12)
	if err := tr.Transform(ex, out, nil); err != nil {
		t.Fatal(err)
	}
	// The mean is taken at the uncropped position of each output value.
	for ch := 0; ch < 3; ch++ {
		for y := 0; y < 2; y++ {
			for x := 0; x < 2; x++ {
				si := (ch*4+1+y)*5 + 1 + x
				want := (float32(ex.U8[si]) - mean[si]) * 0.25
				if got := out[(ch*2+y)*2+x]; got != want {
					t.Fatalf("out(%d,%d,%d) = %v, want %v", ch, y, x, got, want)
				}
			}
		}
	}
	// A mean of the wrong shape is an error naming the file and shapes.
	_, _, _, err = tr.OutputShape(1, 28, 28)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "3x4x5") || !strings.Contains(err.Error(), "1x28x28") {
		t.Errorf("wrong-shape mean: err = %v", err)
	}
	missing := filepath.Join(dir, "none.binaryproto")
	if _, err := NewTransformer(&pb.TransformationParameter{MeanFile: &missing}, pb.Phase_TEST); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing mean file: err = %v", err)
	}
}

func TestTransformErrors(t *testing.T) {
	mf := "m.binaryproto"
	for _, c := range []struct {
		p    *pb.TransformationParameter
		want string
	}{
		{&pb.TransformationParameter{ForceColor: bp(true), ForceGray: bp(true)}, "force_color and force_gray"},
		{&pb.TransformationParameter{MeanFile: &mf, MeanValue: []float32{1}}, "mean_file and mean_value"},
	} {
		if _, err := NewTransformer(c.p, pb.Phase_TRAIN); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewTransformer(%v): err = %v, want %q", c.p, err, c.want)
		}
	}
	tr, _ := NewTransformer(&pb.TransformationParameter{CropSize: u32(30)}, pb.Phase_TRAIN)
	if _, _, _, err := tr.OutputShape(1, 28, 28); err == nil || !strings.Contains(err.Error(), "crop_size 30 is larger than the 28x28 image") {
		t.Errorf("crop too large: err = %v", err)
	}
	tr, _ = NewTransformer(&pb.TransformationParameter{MeanValue: []float32{1, 2}}, pb.Phase_TRAIN)
	if _, _, _, err := tr.OutputShape(3, 2, 2); err == nil || !strings.Contains(err.Error(), "2 mean_value entries for 3 channels") {
		t.Errorf("mean_value count: err = %v", err)
	}
	tr, _ = NewTransformer(nil, pb.Phase_TRAIN)
	ex := &Example{C: 1, H: 2, W: 2, U8: []byte{1, 2, 3}}
	if err := tr.Transform(ex, make([]float32, 4), nil); err == nil || !strings.Contains(err.Error(), "3 bytes") {
		t.Errorf("3 bytes for a 1x2x2 example: err = %v", err)
	}
}
