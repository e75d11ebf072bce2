package data

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// golden holds OpenCV 4.6's results (testdata/gen_opencv_golden.py).
type golden struct {
	OpenCV string `json:"opencv"`
	Resize []struct {
		C, H, W, NH, NW int
		Out             []int
	} `json:"resize"`
	PNG struct{ Color, Gray []int } `json:"color.png"`
	JPG struct{ Color, Gray []int } `json:"color.jpg"`
}

func loadGolden(t *testing.T) golden {
	t.Helper()
	b, err := os.ReadFile("testdata/opencv_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return g
}

// TestResizeMatchesOpenCV compares ResizeBilinear with cv::resize
// (INTER_LINEAR) on up- and down-scales, gray and color: bit for bit.
func TestResizeMatchesOpenCV(t *testing.T) {
	g := loadGolden(t)
	if len(g.Resize) < 8 {
		t.Fatalf("golden file has %d resize cases", len(g.Resize))
	}
	for _, c := range g.Resize {
		src := &Image{C: c.C, H: c.H, W: c.W, Pix: make([]byte, c.C*c.H*c.W)}
		for k := 0; k < c.C; k++ {
			for y := 0; y < c.H; y++ {
				for x := 0; x < c.W; x++ {
					src.Pix[(k*c.H+y)*c.W+x] = byte((k*37 + y*11 + x*7 + x*y*3) % 256)
				}
			}
		}
		var dst Image
		ResizeBilinear(src, c.NH, c.NW, &dst)
		if dst.C != c.C || dst.H != c.NH || dst.W != c.NW || len(c.Out) != len(dst.Pix) {
			t.Fatalf("%s -> %dx%d: got %s", src.Shape(), c.NH, c.NW, dst.Shape())
		}
		for i, v := range c.Out {
			if int(dst.Pix[i]) != v {
				t.Errorf("%s -> %dx%d: element %d = %d, OpenCV %s gives %d", src.Shape(), c.NH, c.NW, i, dst.Pix[i], g.OpenCV, v)
				break
			}
		}
	}
}

// TestDecodeMatchesOpenCV compares decoding with imread in color and gray:
// PNG exactly; JPEG within the small differences of Go's decoder and
// libjpeg-turbo's (IDCT rounding, chroma upsampling).
func TestDecodeMatchesOpenCV(t *testing.T) {
	g := loadGolden(t)
	for _, c := range []struct {
		file           string
		color, gray    []int
		maxColor, mean float64
		// grayOff is how many gray pixels may be off by one.
		grayOff int
	}{
		{"color.png", g.PNG.Color, g.PNG.Gray, 0, 0, 0},
		// Go's IDCT rounds a few values differently from libjpeg-turbo's,
		// and it upsamples chroma by replication where libjpeg filters.
		{"color.jpg", g.JPG.Color, g.JPG.Gray, 8, 3.5, len(g.JPG.Gray) / 40},
	} {
		b, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			t.Fatal(err)
		}
		var img Image
		if err := DecodeImage(b, Color, &img); err != nil {
			t.Fatal(err)
		}
		if img.C != 3 || len(img.Pix) != len(c.color) {
			t.Fatalf("%s: decoded %s, %d values; OpenCV has %d", c.file, img.Shape(), len(img.Pix), len(c.color))
		}
		worst, sum := 0.0, 0.0
		for i, v := range c.color {
			d := float64(int(img.Pix[i]) - v)
			if d < 0 {
				d = -d
			}
			worst, sum = max(worst, d), sum+d
		}
		if mean := sum / float64(len(c.color)); worst > c.maxColor || mean > c.mean {
			t.Errorf("%s color (BGR): max |difference| %v, mean %.3f from OpenCV; want <= %v, <= %v", c.file, worst, mean, c.maxColor, c.mean)
		}
		if err := DecodeImage(b, Gray, &img); err != nil {
			t.Fatal(err)
		}
		bad := 0
		for i, v := range c.gray {
			if d := int(img.Pix[i]) - v; d != 0 {
				bad++
				if d < -1 || d > 1 {
					t.Errorf("%s gray: pixel %d = %d, OpenCV gives %d", c.file, i, img.Pix[i], v)
				}
			}
		}
		if bad > c.grayOff {
			t.Errorf("%s gray: %d of %d pixels differ from OpenCV's, want at most %d", c.file, bad, len(c.gray), c.grayOff)
		}
	}
}

func TestDecodeChannels(t *testing.T) {
	// A 2x1 NRGBA PNG: opaque red, half-transparent green.
	m := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	m.Set(0, 0, color.NRGBA{255, 0, 0, 255})
	m.Set(1, 0, color.NRGBA{0, 200, 0, 128})
	var buf bytes.Buffer
	png.Encode(&buf, m)
	var img Image
	if err := DecodeImage(buf.Bytes(), Native, &img); err != nil {
		t.Fatal(err)
	}
	// BGRA planes.
	want := []byte{0, 0, 0, 200, 255, 0, 255, 128}
	if img.C != 4 || !bytes.Equal(img.Pix, want) {
		t.Errorf("Native: %s %v, want 4x1x2 %v", img.Shape(), img.Pix, want)
	}
	DecodeImage(buf.Bytes(), Color, &img)
	if want := []byte{0, 0, 0, 200, 255, 0}; img.C != 3 || !bytes.Equal(img.Pix, want) {
		t.Errorf("Color: %s %v, want %v", img.Shape(), img.Pix, want)
	}
	// Gray PNG: Native keeps one channel, Color replicates it.
	gm := image.NewGray(image.Rect(0, 0, 3, 1))
	gm.Pix = []byte{5, 100, 250}
	buf.Reset()
	png.Encode(&buf, gm)
	DecodeImage(buf.Bytes(), Native, &img)
	if img.C != 1 || !bytes.Equal(img.Pix, gm.Pix) {
		t.Errorf("gray Native: %s %v", img.Shape(), img.Pix)
	}
	DecodeImage(buf.Bytes(), Color, &img)
	if want := []byte{5, 100, 250, 5, 100, 250, 5, 100, 250}; img.C != 3 || !bytes.Equal(img.Pix, want) {
		t.Errorf("gray Color: %s %v", img.Shape(), img.Pix)
	}
	if err := DecodeImage([]byte("not an image"), Color, &img); err == nil || !strings.Contains(err.Error(), "decoding image") {
		t.Errorf("garbage: err = %v", err)
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	src := &Image{C: 3, H: 2, W: 3, Pix: []byte{1, 2, 3, 4, 5, 6, 10, 20, 30, 40, 50, 60, 100, 110, 120, 130, 140, 150}}
	b, err := EncodeImage(src, "PNG")
	if err != nil {
		t.Fatal(err)
	}
	var back Image
	if err := DecodeImage(b, Native, &back); err != nil {
		t.Fatal(err)
	}
	if back.Shape() != src.Shape() || !bytes.Equal(back.Pix, src.Pix) {
		t.Errorf("PNG round trip: %s %v, want %s %v", back.Shape(), back.Pix, src.Shape(), src.Pix)
	}
	if _, err := EncodeImage(src, "tiff"); err == nil {
		t.Error("EncodeImage accepted tiff")
	}
}
