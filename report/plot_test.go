package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// decodePNG decodes a PNG and checks its size.
func decodePNG(t *testing.T, data []byte) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("PNG does not decode: %v", err)
	}
	b := img.Bounds()
	wantW := int(math.Round(float64(DefaultWidth/vg.Inch) * PNGDPI))
	wantH := int(math.Round(float64(DefaultHeight/vg.Inch) * PNGDPI))
	if b.Dx() != wantW || b.Dy() != wantH {
		t.Errorf("PNG is %dx%d, want %dx%d", b.Dx(), b.Dy(), wantW, wantH)
	}
	return img
}

// countColor counts the pixels within tol (per 8-bit channel) of c.
func countColor(img image.Image, c color.Color, tol int) int {
	cr, cg, cb, _ := c.RGBA()
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if absDiff(r>>8, cr>>8) <= tol && absDiff(g>>8, cg>>8) <= tol && absDiff(bl>>8, cb>>8) <= tol {
				n++
			}
		}
	}
	return n
}

func absDiff(a, b uint32) int {
	if a > b {
		return int(a - b)
	}
	return int(b - a)
}

// checkSVG parses an SVG document as XML and returns its text contents.
func checkSVG(t *testing.T, data []byte) string {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(data))
	var texts strings.Builder
	root := ""
	inText := false
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
			inText = tok.Name.Local == "text"
		case xml.EndElement:
			inText = false
		case xml.CharData:
			if inText {
				texts.Write(tok)
				texts.WriteByte('\n')
			}
		}
	}
	if root != "svg" {
		t.Fatalf("SVG root element is %q", root)
	}
	return texts.String()
}

func TestLinePlotPNGAndSVG(t *testing.T) {
	x := []float64{0, 1, 2, 3, 4, 5}
	fig, err := LinePlot(LineOptions{Title: "Loss <&> title", XLabel: "iteration", YLabel: "loss"},
		Series{Label: "train", X: x, Y: []float64{5, 4, 3, math.NaN(), 2, 1}},
		Series{Label: "test", X: x, Y: []float64{4, 4, 3, 3, 2, 2}, Dashed: true, Points: true},
		Series{X: x, Y: []float64{1, 2, 1, 2, 1, 2}, Faint: true})
	if err != nil {
		t.Fatal(err)
	}
	var pngBuf, svgBuf bytes.Buffer
	if err := fig.Encode(&pngBuf, "png"); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, pngBuf.Bytes())
	// Both series colors are drawn (the default cycle), the faint one as a
	// mix with white, and most of the image is white background.
	for i, c := range []color.Color{Color(0), Color(1), fade(Color(2), 0.35)} {
		if n := countColor(img, c, 8); n < 200 {
			t.Errorf("series %d: %d pixels of its color %v, want a drawn line", i, n, c)
		}
	}
	b := img.Bounds()
	if white := countColor(img, color.White, 0); white < b.Dx()*b.Dy()/2 || white == b.Dx()*b.Dy() {
		t.Errorf("%d of %d pixels white", white, b.Dx()*b.Dy())
	}

	if err := fig.Encode(&svgBuf, "svg"); err != nil {
		t.Fatal(err)
	}
	texts := checkSVG(t, svgBuf.Bytes())
	for _, want := range []string{"Loss <&> title", "iteration", "loss", "train", "test"} {
		if !strings.Contains(texts, want+"\n") {
			t.Errorf("SVG texts lack %q:\n%s", want, texts)
		}
	}
	if !bytes.Contains(svgBuf.Bytes(), []byte("font-family:'Liberation Sans',Arial")) {
		t.Error("SVG fonts have no fallback")
	}
	if err := fig.Encode(io.Discard, "pdf"); err == nil {
		t.Error("pdf accepted")
	}
}

func TestLinePlotErrors(t *testing.T) {
	_, err := LinePlot(LineOptions{Title: "empty"}, Series{X: []float64{1}, Y: []float64{math.NaN()}})
	if !errors.Is(err, ErrNoData) {
		t.Errorf("all-NaN series: %v, want ErrNoData", err)
	}
	_, err = LinePlot(LineOptions{Title: "log", LogY: true}, Series{X: []float64{1, 2}, Y: []float64{0, -1}})
	if !errors.Is(err, ErrNoData) {
		t.Errorf("non-positive values on a log axis: %v, want ErrNoData", err)
	}
	_, err = LinePlot(LineOptions{}, Series{Label: "bad", X: []float64{1, 2}, Y: []float64{1}})
	if err == nil || !strings.Contains(err.Error(), `series "bad" has 2 x values and 1 y values`) {
		t.Errorf("ragged series: %v", err)
	}
}

func TestSaveByExtensionAtomically(t *testing.T) {
	fig, err := LinePlot(LineOptions{Title: "t"}, Series{Label: "a", X: []float64{0, 1}, Y: []float64{0, 1}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, name := range []string{"f.png", "f.svg", "F.PNG"} {
		if err := fig.Save(filepath.Join(dir, name)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "f.png"))
	decodePNG(t, data)
	data, _ = os.ReadFile(filepath.Join(dir, "f.svg"))
	checkSVG(t, data)
	if err := fig.Save(filepath.Join(dir, "f.pdf")); err == nil || !strings.Contains(err.Error(), "unsupported image format") {
		t.Errorf("f.pdf: %v", err)
	}
	// A failed write leaves the old file and no temporary file behind.
	old, _ := os.ReadFile(filepath.Join(dir, "f.svg"))
	err = WriteFileAtomic(filepath.Join(dir, "f.svg"), func(w io.Writer) error {
		io.WriteString(w, "partial")
		return errors.New("boom")
	})
	if err == nil {
		t.Error("WriteFileAtomic hid the write error")
	}
	now, _ := os.ReadFile(filepath.Join(dir, "f.svg"))
	if !bytes.Equal(old, now) {
		t.Error("failed atomic write changed the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want f.png f.svg F.PNG only", names)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "f.png")); fi.Mode().Perm() != 0o644 {
		t.Errorf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestLegendAvoidsData(t *testing.T) {
	canvas := draw.New(vgimg.New(DefaultWidth, DefaultHeight))
	// A curve that rises and stays high: the top corners are taken, the
	// bottom right is free.
	x := []float64{0, 1, 2, 3, 4, 10}
	y := []float64{0, 0.6, 0.85, 0.9, 0.9, 0.9}
	fig, err := LinePlot(LineOptions{}, Series{Label: "accuracy", X: x, Y: y})
	if err != nil {
		t.Fatal(err)
	}
	dataC := fig.Plot.DataCanvas(canvas)
	size := vg.Point{X: 60, Y: 20}
	box, ok := fig.freeCorner(dataC, size)
	if !ok || box.Max.X != dataC.Max.X-2 || box.Min.Y != dataC.Min.Y+2 {
		t.Errorf("legend box %v (ok %v), want the bottom right of %v", box, ok, dataC.Rectangle)
	}
	// A zig-zag over the whole area leaves no corner free.
	var zx, zy []float64
	for i := range 41 {
		zx = append(zx, float64(i))
		zy = append(zy, float64(i%2))
	}
	fig, err = LinePlot(LineOptions{}, Series{Label: "noise", X: zx, Y: zy})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := fig.freeCorner(fig.Plot.DataCanvas(canvas), size); ok {
		t.Error("found a free corner in a filled plot")
	}
}

func TestSegmentHits(t *testing.T) {
	r := vg.Rectangle{Min: vg.Point{X: 0, Y: 0}, Max: vg.Point{X: 10, Y: 10}}
	for _, tc := range []struct {
		a, b vg.Point
		want bool
	}{
		{vg.Point{X: -5, Y: 5}, vg.Point{X: 15, Y: 5}, true},    // crosses through
		{vg.Point{X: 2, Y: 2}, vg.Point{X: 3, Y: 3}, true},      // inside
		{vg.Point{X: -5, Y: 11}, vg.Point{X: 15, Y: 11}, false}, // above
		{vg.Point{X: -5, Y: 4}, vg.Point{X: 4, Y: -5}, false},   // cuts past the corner
		{vg.Point{X: -5, Y: 6}, vg.Point{X: 6, Y: -5}, true},    // cuts the corner
		{vg.Point{X: 5, Y: 5}, vg.Point{X: 5, Y: 5}, true},      // a point inside
	} {
		if got := segmentHits(tc.a, tc.b, r); got != tc.want {
			t.Errorf("segmentHits(%v, %v) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	labels := func(lo, hi float64) string {
		var out []string
		for _, tk := range (niceTicks{}).Ticks(lo, hi) {
			if tk.Label != "" {
				out = append(out, tk.Label)
			}
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		lo, hi float64
		want   string
	}{
		{0, 2000, "0 500 1000 1500 2000"},
		{0.1, 0.9, "0.2 0.4 0.6 0.8"},
		{0.0009, 0.01, "0.002 0.004 0.006 0.008 0.010"},
		{-1, 1, "-1.0 -0.5 0.0 0.5 1.0"},
		{0, 12, "0 2 4 6 8 10 12"},
		{0, 15, "0.0 2.5 5.0 7.5 10.0 12.5 15.0"},
	} {
		if got := labels(tc.lo, tc.hi); got != tc.want {
			t.Errorf("ticks(%g, %g) = %q, want %q", tc.lo, tc.hi, got, tc.want)
		}
	}
}

func TestHeatMap(t *testing.T) {
	g := Grid{
		Rows: []string{"1", "4", "16"},
		Cols: []string{"1", "10", "100"},
		Values: [][]float64{
			{1, 1.2, math.NaN()},
			{0.5, 2.5, 3.4},
			{0.25, 3.9, 7.5},
		},
	}
	fig, err := HeatMap(HeatOptions{Title: "speedup", XLabel: "tau", YLabel: "K", ValueLabel: "speedup", Format: "%.2f", Diverging: true, Center: 1}, g)
	if err != nil {
		t.Fatal(err)
	}
	var pngBuf, svgBuf bytes.Buffer
	if err := fig.Encode(&pngBuf, "png"); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, pngBuf.Bytes())
	if fig.ColorBar == nil {
		t.Error("heat map has no color bar")
	}
	// The extreme cells take the ends of the color map, the centre value
	// its middle; each fills a cell's worth of pixels.
	m := heatColors(HeatOptions{Diverging: true, Center: 1}, 0.25, 7.5)
	for _, v := range []float64{0.25, 1, 7.5} {
		c, err := m.At(v)
		if err != nil {
			t.Fatal(err)
		}
		if n := countColor(img, c, 2); n < 2000 {
			t.Errorf("value %g: %d pixels of its color, want a filled cell", v, n)
		}
	}
	if n := countColor(img, color.Gray{Y: 235}, 0); n < 2000 {
		t.Errorf("missing cell: %d pixels of its gray", n)
	}
	if err := fig.Encode(&svgBuf, "svg"); err != nil {
		t.Fatal(err)
	}
	texts := checkSVG(t, svgBuf.Bytes())
	for _, want := range []string{"7.50", "0.25", "n/a", "tau", "K", "speedup", "100", "16"} {
		if !strings.Contains(texts, want+"\n") {
			t.Errorf("heat map SVG lacks text %q", want)
		}
	}
}

func TestHeatColors(t *testing.T) {
	// Diverging: the centre maps to the middle of the symmetric map however
	// uneven the range, the ends to its ends.
	d := heatColors(HeatOptions{Diverging: true, Center: 1}, 0.5, 9).(*diverging)
	mid, _ := d.inner.At(0.5)
	lo, _ := d.inner.At(0)
	hi, _ := d.inner.At(1)
	for _, tc := range []struct {
		v    float64
		want color.Color
	}{{1, mid}, {d.Min(), lo}, {d.Max(), hi}} {
		got, err := d.At(tc.v)
		if err != nil || !sameColor(got, tc.want) {
			t.Errorf("At(%g) = %v, %v; want %v", tc.v, got, err, tc.want)
		}
	}
	if d.Min() > 0.5 || d.Max() < 9 || !(d.Min() < 1 && 1 < d.Max()) {
		t.Errorf("range [%g, %g] does not hold the data and the centre", d.Min(), d.Max())
	}
	if _, err := d.At(d.Max() + 1); err == nil {
		t.Error("value above the range accepted")
	}
	// A centre outside the data and a constant grid still give a range.
	d = heatColors(HeatOptions{Diverging: true, Center: 1}, 2, 2).(*diverging)
	if !(d.Min() < 1 && d.Max() >= 2) {
		t.Errorf("range [%g, %g], want it around 1 and 2", d.Min(), d.Max())
	}
	s := heatColors(HeatOptions{}, 3, 3)
	if !(s.Min() < 3 && s.Max() > 3) {
		t.Errorf("constant sequential range [%g, %g]", s.Min(), s.Max())
	}
	dark, _ := s.At(s.Min())
	light, _ := s.At(s.Max())
	if luminance(dark) >= luminance(light) {
		t.Error("sequential map does not run dark to light")
	}
}

func sameColor(a, b color.Color) bool {
	ar, ag, ab, aa := a.RGBA()
	br, bg, bb, ba := b.RGBA()
	return ar == br && ag == bg && ab == bb && aa == ba
}

func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return 0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)
}

func TestHeatMapErrors(t *testing.T) {
	for _, tc := range []struct {
		g    Grid
		want string
	}{
		{Grid{Rows: []string{"a"}, Cols: []string{"x", "y"}, Values: [][]float64{{1}}}, "row 0 (a) has 1 values, want 2"},
		{Grid{Rows: []string{"a", "b"}, Cols: []string{"x"}, Values: [][]float64{{1}}}, "2 row labels but 1 rows"},
		{Grid{Rows: []string{"a"}, Cols: []string{"x"}, Values: [][]float64{{math.NaN()}}}, ErrNoData.Error()},
		{Grid{}, ErrNoData.Error()},
	} {
		_, err := HeatMap(HeatOptions{Title: "h"}, tc.g)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.g, err, tc.want)
		}
	}
}

func TestDecimate(t *testing.T) {
	var xys plotter.XYs
	for i := range 10000 {
		y := math.Sin(float64(i) / 300)
		if i == 4321 {
			y = 5 // a spike must survive
		}
		if i == 7777 {
			y = -5
		}
		xys = append(xys, plotter.XY{X: float64(i), Y: y})
	}
	got := decimate(xys, 500)
	if len(got) > 2000 || len(got) < 1000 {
		t.Fatalf("%d points kept of 10000", len(got))
	}
	if got[0] != xys[0] || got[len(got)-1] != xys[len(xys)-1] {
		t.Error("end points lost")
	}
	seen := map[float64]bool{}
	for i, p := range got {
		if i > 0 && p.X <= got[i-1].X {
			t.Fatalf("points out of order at %d", i)
		}
		seen[p.Y] = true
	}
	if !seen[5] || !seen[-5] {
		t.Error("spikes lost")
	}
	if short := xys[:2000]; len(decimate(short, 500)) != 2000 {
		t.Error("a short line was thinned")
	}
}

// svgTexts renders fig as SVG and returns its texts, one per line.
func svgTexts(t *testing.T, fig *Figure) string {
	t.Helper()
	var buf bytes.Buffer
	if err := fig.Encode(&buf, "svg"); err != nil {
		t.Fatal(err)
	}
	return checkSVG(t, buf.Bytes())
}

func TestRunFigureLabels(t *testing.T) {
	parse := func(log string) *Run {
		h, err := ParseHistory(strings.NewReader(log), "m")
		if err != nil {
			t.Fatal(err)
		}
		return &Run{Name: "r", History: h}
	}
	var b strings.Builder
	for it := 0; it <= 100; it++ {
		fmt.Fprintf(&b, `{"iter":%d,"wall_s":%d,"lr":0.1,"loss":%g}`+"\n", it, it*3, 2-float64(it)/100)
	}
	train := b.String()
	// The writer's "test_loss" beside a "loss" output is the same curve:
	// drawn once. Alone, it reads as "test loss".
	both := parse(train + `{"iter":100,"wall_s":300,"test_net":0,"accuracy":0.5,"loss":1,"test_loss":1}` + "\n")
	fig, err := LossFigure([]*Run{both}, ByIteration)
	if err != nil {
		t.Fatal(err)
	}
	texts := svgTexts(t, fig)
	if strings.Count(texts, "test loss\n") != 1 || strings.Contains(texts, "test_loss") {
		t.Errorf("loss figure legend:\n%s", texts)
	}
	for _, want := range []string{"train (raw)\n", "train (smoothed)\n", "Loss vs iteration\n"} {
		if !strings.Contains(texts, want) {
			t.Errorf("loss figure lacks %q", want)
		}
	}
	alone := parse(train + `{"iter":100,"wall_s":300,"test_net":1,"test_loss":1}` + "\n")
	fig, err = LossFigure([]*Run{alone}, ByWallTime)
	if err != nil {
		t.Fatal(err)
	}
	texts = svgTexts(t, fig)
	// 300 s is shown in minutes.
	for _, want := range []string{"test net1/loss\n", "wall time (min)\n", "Loss vs wall time\n"} {
		if !strings.Contains(texts, want) {
			t.Errorf("loss figure lacks %q:\n%s", want, texts)
		}
	}
	// Several runs are labelled by name.
	other := parse(train + `{"iter":100,"wall_s":300,"test_net":0,"accuracy":0.7}` + "\n")
	other.Name = "other"
	fig, err = AccuracyFigure([]*Run{both, other}, ByIteration, 0.6)
	if err != nil {
		t.Fatal(err)
	}
	texts = svgTexts(t, fig)
	for _, want := range []string{"r\n", "other\n", "target 0.6\n", "test accuracy\n"} {
		if !strings.Contains(texts, want) {
			t.Errorf("accuracy figure lacks %q:\n%s", want, texts)
		}
	}
	if _, err := AccuracyFigure([]*Run{parse(train)}, ByIteration, 0); !errors.Is(err, ErrNoData) {
		t.Errorf("accuracy figure of a run without tests: %v", err)
	}
}

func TestTimeUnit(t *testing.T) {
	for _, tc := range []struct {
		s    float64
		div  float64
		unit string
	}{{10, 1, "s"}, {179, 1, "s"}, {180, 60, "min"}, {3 * 3600, 3600, "h"}} {
		if div, unit := timeUnit(tc.s); div != tc.div || unit != tc.unit {
			t.Errorf("timeUnit(%g) = %g %s, want %g %s", tc.s, div, unit, tc.div, tc.unit)
		}
	}
}

// An axis spanning a few ulps of a large value used to loop forever.
func TestNiceTicksTinyRangeTerminates(t *testing.T) {
	for _, lo := range []float64{1, 1e10, 1e17, -3e20} {
		hi := math.Nextafter(math.Nextafter(lo, math.Inf(1)), math.Inf(1))
		done := make(chan []plot.Tick, 1)
		go func() { done <- niceTicks{}.Ticks(lo, hi) }()
		select {
		case ticks := <-done:
			if len(ticks) > 100 {
				t.Errorf("lo %g: %d ticks", lo, len(ticks))
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("lo %g: Ticks did not return", lo)
		}
	}
}
