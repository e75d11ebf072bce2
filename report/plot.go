package report

import (
	"bytes"
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Figure sizes and PNG resolution.
const (
	// DefaultWidth and DefaultHeight are the size of a figure whose Width or
	// Height is zero.
	DefaultWidth  = 7.5 * vg.Inch
	DefaultHeight = 4.5 * vg.Inch
	// PNGDPI is the resolution of PNG output (7.5in x 4.5in => 1125x675).
	PNGDPI = 150
)

// ErrNoData is returned (wrapped) by the plot functions when there is
// nothing to draw.
var ErrNoData = errors.New("no data to plot")

// Figure is a chart ready to be written as PNG or SVG. Drawing a figure
// borrows its Plot's legend, so one Figure must not be encoded by two
// goroutines at once.
type Figure struct {
	// Plot is the chart. Its Legend is drawn by the Figure (boxed, in the
	// corner of the data area that covers the fewest data, or beside the
	// plot when every corner would cover some), not by Plot.Draw.
	Plot *plot.Plot
	// ColorBar, when not nil, is a color scale drawn to the right of Plot.
	ColorBar *plot.Plot
	// Width and Height are the figure's size; zero means the default.
	Width, Height vg.Length
	// LegendOutside puts the legend beside the plot even when a corner of
	// the data area is free.
	LegendOutside bool

	// data are the points the legend should avoid covering.
	data []plotter.XYs
}

// Encode draws the figure to w in format "png" or "svg".
func (f *Figure) Encode(w io.Writer, format string) (err error) {
	width, height := f.Width, f.Height
	if width <= 0 {
		width = DefaultWidth
	}
	if height <= 0 {
		height = DefaultHeight
	}
	var c vg.CanvasWriterTo
	switch strings.ToLower(strings.TrimPrefix(format, ".")) {
	case "png":
		c = vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(width, height), vgimg.UseDPI(PNGDPI))}
	case "svg":
		c = vgsvg.New(width, height)
	default:
		return fmt.Errorf("report: unsupported image format %q (want png or svg)", format)
	}
	defer func() {
		// gonum/plot panics on some degenerate inputs; report them as errors.
		if r := recover(); r != nil {
			err = fmt.Errorf("report: drawing %q: %v", f.title(), r)
		}
	}()
	f.draw(draw.New(c))
	if _, isSVG := c.(*vgsvg.Canvas); isSVG {
		var buf bytes.Buffer
		if _, err := c.WriteTo(&buf); err != nil {
			return err
		}
		_, err = w.Write(fixSVGFonts(buf.Bytes()))
		return err
	}
	_, err = c.WriteTo(w)
	return err
}

// Save writes the figure to path, as PNG or SVG by the path's extension,
// atomically (see WriteFileAtomic).
func (f *Figure) Save(path string) error {
	format := strings.ToLower(strings.TrimPrefix(filepath.Ext(path), "."))
	if format != "png" && format != "svg" {
		return fmt.Errorf("report: %s: unsupported image format (want .png or .svg)", path)
	}
	return WriteFileAtomic(path, func(w io.Writer) error { return f.Encode(w, format) })
}

func (f *Figure) title() string {
	if f.Plot == nil {
		return ""
	}
	return f.Plot.Title.Text
}

// fixSVGFonts gives the SVG's font family fallbacks: gonum names only the
// Liberation fonts, which many systems lack; Arial and Helvetica have the
// same metrics as Liberation Sans, so the text keeps its layout.
func fixSVGFonts(svg []byte) []byte {
	return bytes.ReplaceAll(svg, []byte("font-family:Liberation Sans;"),
		[]byte("font-family:'Liberation Sans',Arial,Helvetica,sans-serif;"))
}

const (
	colorBarWidth = 1.1 * vg.Inch
	legendPad     = 4 // points between legend box and its text, and its surroundings
)

// draw draws the figure on c.
func (f *Figure) draw(c draw.Canvas) {
	p := f.Plot
	main := c
	if f.ColorBar != nil {
		main = draw.Crop(c, 0, -colorBarWidth, 0, 0)
	}
	// Take the legend out of p while it draws; the figure places it.
	legend := p.Legend
	p.Legend = plot.NewLegend()
	defer func() { p.Legend = legend }()

	hasLegend := legend.Rectangle(c).Size().X > 0
	var size vg.Point
	if hasLegend {
		size = legend.Rectangle(c).Size()
		size.X += 2 * legendPad
		size.Y += 2 * legendPad
	}
	outside := hasLegend && f.LegendOutside
	var box vg.Rectangle
	if hasLegend && !outside {
		dataC := p.DataCanvas(main)
		var ok bool
		box, ok = f.freeCorner(dataC, size)
		outside = !ok
	}
	if outside {
		main = draw.Crop(main, 0, -(size.X + 2*legendPad), 0, 0)
		dataC := p.DataCanvas(main)
		box = vg.Rectangle{
			Min: vg.Point{X: main.Max.X + legendPad, Y: dataC.Max.Y - size.Y},
			Max: vg.Point{X: main.Max.X + legendPad + size.X, Y: dataC.Max.Y},
		}
	}
	p.Draw(main)
	if hasLegend {
		drawLegend(c, legend, box)
	}
	if f.ColorBar != nil {
		dataC := p.DataCanvas(main)
		bar := draw.Crop(c, c.Max.X-c.Min.X-colorBarWidth, 0, 0, 0)
		bar.Min.Y, bar.Max.Y = dataC.Min.Y-f.ColorBar.X.Padding, dataC.Max.Y
		f.ColorBar.Draw(bar)
	}
}

// freeCorner returns the corner box of size inside dataC that the fewest
// data segments cross, trying top right, bottom right, top left, bottom
// left; ok is false when every corner is crossed.
func (f *Figure) freeCorner(dataC draw.Canvas, size vg.Point) (box vg.Rectangle, ok bool) {
	trX, trY := f.Plot.Transforms(&dataC)
	const (
		inset  = 2 // between the data area's edge and the box
		margin = 3 // line width and dot radius: keep them off the box
	)
	best := -1
	for _, corner := range [4][2]bool{{true, true}, {true, false}, {false, true}, {false, false}} {
		right, top := corner[0], corner[1]
		var r vg.Rectangle
		if right {
			r.Max.X = dataC.Max.X - inset
			r.Min.X = r.Max.X - size.X
		} else {
			r.Min.X = dataC.Min.X + inset
			r.Max.X = r.Min.X + size.X
		}
		if top {
			r.Max.Y = dataC.Max.Y - inset
			r.Min.Y = r.Max.Y - size.Y
		} else {
			r.Min.Y = dataC.Min.Y + inset
			r.Max.Y = r.Min.Y + size.Y
		}
		if r.Min.X < dataC.Min.X || r.Min.Y < dataC.Min.Y {
			return vg.Rectangle{}, false // the legend does not fit inside
		}
		grown := vg.Rectangle{
			Min: vg.Point{X: r.Min.X - margin, Y: r.Min.Y - margin},
			Max: vg.Point{X: r.Max.X + margin, Y: r.Max.Y + margin},
		}
		n := 0
		for _, xys := range f.data {
			prev := vg.Point{X: trX(xys[0].X), Y: trY(xys[0].Y)}
			if len(xys) == 1 && segmentHits(prev, prev, grown) {
				n++
			}
			for _, p := range xys[1:] {
				q := vg.Point{X: trX(p.X), Y: trY(p.Y)}
				if segmentHits(prev, q, grown) {
					n++
				}
				prev = q
			}
		}
		if best < 0 || n < best {
			best, box = n, r
		}
	}
	return box, best == 0
}

// segmentHits reports whether the segment a-b meets r (Liang-Barsky
// clipping).
func segmentHits(a, b vg.Point, r vg.Rectangle) bool {
	t0, t1 := 0.0, 1.0
	clip := func(p, q float64) bool {
		if p == 0 {
			return q >= 0
		}
		t := q / p
		if p < 0 {
			if t > t1 {
				return false
			}
			t0 = math.Max(t0, t)
		} else {
			if t < t0 {
				return false
			}
			t1 = math.Min(t1, t)
		}
		return true
	}
	dx, dy := float64(b.X-a.X), float64(b.Y-a.Y)
	return clip(-dx, float64(a.X-r.Min.X)) && clip(dx, float64(r.Max.X-a.X)) &&
		clip(-dy, float64(a.Y-r.Min.Y)) && clip(dy, float64(r.Max.Y-a.Y))
}

// drawLegend draws l boxed in box.
func drawLegend(c draw.Canvas, l plot.Legend, box vg.Rectangle) {
	c.FillPolygon(color.NRGBA{R: 255, G: 255, B: 255, A: 230}, rectPath(box))
	c.StrokeLines(draw.LineStyle{Color: color.Gray{Y: 190}, Width: vg.Points(0.6)}, append(rectPath(box), box.Min))
	l.Top, l.Left = true, true
	l.XOffs, l.YOffs = 0, 0
	inner := c
	inner.Rectangle = vg.Rectangle{
		Min: vg.Point{X: box.Min.X + legendPad, Y: box.Min.Y + legendPad},
		Max: vg.Point{X: box.Max.X - legendPad, Y: box.Max.Y - legendPad},
	}
	l.Draw(inner)
}

func rectPath(r vg.Rectangle) []vg.Point {
	return []vg.Point{r.Min, {X: r.Max.X, Y: r.Min.Y}, r.Max, {X: r.Min.X, Y: r.Max.Y}}
}

// sans returns the sans-serif face at size points.
func sans(size vg.Length) font.Font {
	return font.Font{Typeface: "Liberation", Variant: "Sans", Size: size}
}

// newPlot returns a plot with the report's fonts and a light grid.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font = sans(13)
	p.Title.Padding = vg.Points(6)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font = sans(11)
		a.Tick.Label.Font = sans(9.5)
	}
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	p.Legend.TextStyle.Font = sans(10)
	p.Legend.Padding = vg.Points(1)
	return p
}

// niceTicks labels about six round values (1, 2, 2.5 or 5 times a power
// of ten) with unlabelled minor ticks halfway between.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || !isFinite(lo) || !isFinite(hi) {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	step, decimals := niceStep((hi - lo) / 6)
	half := step / 2
	first, last := math.Ceil(lo/half), math.Floor(hi/half)
	// A range of a few ulps of a large value puts k beyond 2^53, where k++
	// no longer moves; such axes get the default ticks.
	if !(last-first <= 64) || math.Abs(first) > 1<<52 || math.Abs(last) > 1<<52 {
		return plot.DefaultTicks{}.Ticks(lo, hi)
	}
	var ticks []plot.Tick
	for i := 0; first+float64(i) <= last; i++ {
		k := first + float64(i)
		v := k * half
		if math.Mod(k, 2) != 0 {
			ticks = append(ticks, plot.Tick{Value: v})
			continue
		}
		if v == 0 {
			v = 0 // no "-0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return ticks
}

// niceStep rounds raw up to 1, 2, 2.5 or 5 times a power of ten and
// returns the decimals its multiples need.
func niceStep(raw float64) (step float64, decimals int) {
	exp := math.Floor(math.Log10(raw))
	pow := math.Pow(10, exp)
	mant := 10.0
	for _, m := range []float64{1, 2, 2.5, 5} {
		if raw <= m*pow*(1+1e-9) {
			mant = m
			break
		}
	}
	decimals = max(0, -int(exp))
	if mant == 2.5 {
		decimals = max(0, 1-int(exp))
	}
	if mant == 10 && exp < 0 {
		decimals--
	}
	return mant * pow, decimals
}

func addGrid(p *plot.Plot) {
	g := plotter.NewGrid()
	g.Vertical = draw.LineStyle{Color: color.Gray{Y: 225}, Width: vg.Points(0.5)}
	g.Horizontal = g.Vertical
	p.Add(g)
}

// palette10 is the Tableau 10 palette, the default color cycle.
var palette10 = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// Color returns the i-th color of the report's color cycle (it repeats
// after 10).
func Color(i int) color.Color {
	return palette10[((i%len(palette10))+len(palette10))%len(palette10)]
}

// fade mixes c with white: a=1 is c, a=0 is white.
func fade(c color.Color, a float64) color.Color {
	r, g, b, _ := c.RGBA()
	mix := func(v uint32) uint8 { return uint8(math.Round(float64(v>>8)*a + 255*(1-a))) }
	return color.RGBA{R: mix(r), G: mix(g), B: mix(b), A: 255}
}

// Series is one labelled curve of a line plot.
type Series struct {
	// Label is the legend entry; "" leaves the series out of the legend.
	Label string
	// X and Y are the points; non-finite points (and non-positive ones on
	// a log axis) are skipped.
	X, Y []float64
	// Color is the line color; nil picks the series' index in the color
	// cycle.
	Color color.Color
	// Dashed draws a dashed line.
	Dashed bool
	// Points marks every point with a dot.
	Points bool
	// Faint draws a thin, light line: raw values under a smoothed curve.
	Faint bool
}

// LineOptions are the titles and axes of a line plot.
type LineOptions struct {
	// Title, XLabel and YLabel are the plot's texts.
	Title, XLabel, YLabel string
	// LogX and LogY use log scales.
	LogX, LogY bool
	// YMin and YMax fix the y range when YMax > YMin.
	YMin, YMax float64
	// HLines are horizontal reference lines (e.g. a target accuracy), drawn
	// thin, gray and dashed, with their labels in the legend.
	HLines []HLine
	// Width and Height are the figure's size; zero means the default.
	Width, Height vg.Length
}

// decimateBuckets bounds the points a line is drawn with: a figure's data
// area is about 1000 pixels wide at PNGDPI, so 4 points per 2 pixels keep
// every visible detail.
const decimateBuckets = 500

// decimate thins a long line for drawing: it splits the points into
// buckets of consecutive points and keeps, in order, each bucket's first,
// lowest, highest and last point, so the drawn envelope (spikes
// included) is unchanged. Lines of at most 4*buckets points are returned
// as they are.
func decimate(xys plotter.XYs, buckets int) plotter.XYs {
	n := len(xys)
	if n <= 4*buckets {
		return xys
	}
	out := make(plotter.XYs, 0, 4*buckets)
	for b := range buckets {
		lo, hi := b*n/buckets, (b+1)*n/buckets
		iMin, iMax := lo, lo
		for i := lo; i < hi; i++ {
			if xys[i].Y < xys[iMin].Y {
				iMin = i
			}
			if xys[i].Y > xys[iMax].Y {
				iMax = i
			}
		}
		keep := [4]int{lo, min(iMin, iMax), max(iMin, iMax), hi - 1}
		for k, i := range keep {
			if k == 0 || i != keep[k-1] {
				out = append(out, xys[i])
			}
		}
	}
	return out
}

// HLine is a horizontal reference line.
type HLine struct {
	// Y is the line's value.
	Y float64
	// Label is its legend entry ("" for none).
	Label string
}

// LinePlot draws series as lines on one set of axes. It returns an error
// wrapping ErrNoData when no series has a point to draw.
func LinePlot(opt LineOptions, series ...Series) (*Figure, error) {
	p := newPlot(opt.Title, opt.XLabel, opt.YLabel)
	if opt.LogX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	if opt.LogY {
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	}
	addGrid(p)
	fig := &Figure{Plot: p, Width: opt.Width, Height: opt.Height}
	xmin, xmax := math.Inf(1), math.Inf(-1)
	for i, s := range series {
		if len(s.X) != len(s.Y) {
			return nil, fmt.Errorf("report: series %q has %d x values and %d y values", s.Label, len(s.X), len(s.Y))
		}
		xys := make(plotter.XYs, 0, len(s.X))
		for j, x := range s.X {
			y := s.Y[j]
			if !isFinite(x) || !isFinite(y) || (opt.LogX && x <= 0) || (opt.LogY && y <= 0) {
				continue
			}
			xys = append(xys, plotter.XY{X: x, Y: y})
			xmin, xmax = math.Min(xmin, x), math.Max(xmax, x)
		}
		if len(xys) == 0 {
			continue
		}
		xys = decimate(xys, decimateBuckets)
		col := s.Color
		if col == nil {
			col = Color(i)
		}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("report: series %q: %w", s.Label, err)
		}
		line.Color = col
		line.Width = vg.Points(1.6)
		if s.Faint {
			line.Color = fade(col, 0.35)
			line.Width = vg.Points(0.8)
		}
		if s.Dashed {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		thumbs := []plot.Thumbnailer{line}
		if s.Points || len(xys) == 1 {
			sc, err := plotter.NewScatter(xys)
			if err != nil {
				return nil, fmt.Errorf("report: series %q: %w", s.Label, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: line.Color, Radius: vg.Points(2.2), Shape: draw.CircleGlyph{}}
			p.Add(sc)
			thumbs = append(thumbs, sc)
		}
		if s.Label != "" {
			p.Legend.Add(s.Label, thumbs...)
		}
		fig.data = append(fig.data, xys)
	}
	if len(fig.data) == 0 {
		return nil, fmt.Errorf("report: %q: %w", opt.Title, ErrNoData)
	}
	for _, h := range opt.HLines {
		if !isFinite(h.Y) || (opt.LogY && h.Y <= 0) {
			continue
		}
		xys := plotter.XYs{{X: xmin, Y: h.Y}, {X: xmax, Y: h.Y}}
		line, err := plotter.NewLine(xys)
		if err != nil {
			return nil, fmt.Errorf("report: reference line %q: %w", h.Label, err)
		}
		line.Color = color.Gray{Y: 110}
		line.Width = vg.Points(0.9)
		line.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
		p.Add(line)
		if h.Label != "" {
			p.Legend.Add(h.Label, line)
		}
		fig.data = append(fig.data, xys)
	}
	if opt.YMax > opt.YMin {
		p.Y.Min, p.Y.Max = opt.YMin, opt.YMax
	}
	return fig, nil
}
