package report

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Grid is a table of values with labelled rows and columns, e.g. speedup
// with rows K (workers) and columns tau.
type Grid struct {
	// Rows and Cols label the rows (y axis, first row on top) and the
	// columns (x axis, first column on the left).
	Rows, Cols []string
	// Values[r][c] is the value of row r, column c; NaN marks a missing cell.
	Values [][]float64
}

// HeatOptions are the texts and colors of a heat map.
type HeatOptions struct {
	// Title is the plot's title.
	Title string
	// XLabel names the columns, YLabel the rows, ValueLabel the values (the
	// color bar's label).
	XLabel, YLabel, ValueLabel string
	// Format prints a cell's value inside it (fmt verb, default "%.3g");
	// "-" prints nothing.
	Format string
	// Diverging colors values below Center blue and above it red, white at
	// Center (e.g. speedup around 1). Otherwise colors run dark to light
	// with the value (viridis-like).
	Diverging bool
	Center    float64
	// Width and Height are the figure's size; zero means the default.
	Width, Height vg.Length
}

// HeatMap draws g as colored cells with their values printed in them and a
// color bar. It returns an error wrapping ErrNoData when no cell holds a
// finite value.
func HeatMap(opt HeatOptions, g Grid) (*Figure, error) {
	if len(g.Rows) == 0 || len(g.Cols) == 0 {
		return nil, fmt.Errorf("report: heat map %q: %w", opt.Title, ErrNoData)
	}
	if len(g.Values) != len(g.Rows) {
		return nil, fmt.Errorf("report: heat map %q: %d row labels but %d rows of values", opt.Title, len(g.Rows), len(g.Values))
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for r, row := range g.Values {
		if len(row) != len(g.Cols) {
			return nil, fmt.Errorf("report: heat map %q: row %d (%s) has %d values, want %d (one per column)", opt.Title, r, g.Rows[r], len(row), len(g.Cols))
		}
		for _, v := range row {
			if isFinite(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	if lo > hi {
		return nil, fmt.Errorf("report: heat map %q: %w", opt.Title, ErrNoData)
	}
	cmap := heatColors(opt, lo, hi)

	p := newPlot(opt.Title, opt.XLabel, opt.YLabel)
	p.X.Padding, p.Y.Padding = 0, 0
	nr, nc := len(g.Rows), len(g.Cols)
	xt := make([]plot.Tick, nc)
	for c, l := range g.Cols {
		xt[c] = plot.Tick{Value: float64(c), Label: l}
	}
	yt := make([]plot.Tick, nr)
	for r, l := range g.Rows {
		yt[r] = plot.Tick{Value: float64(nr - 1 - r), Label: l}
	}
	p.X.Tick.Marker = plot.ConstantTicks(xt)
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	format := opt.Format
	if format == "" {
		format = "%.3g"
	}
	p.Add(&cells{grid: g, cmap: cmap, format: format, face: sans(10)})

	bar := newPlot("", "", opt.ValueLabel)
	bar.HideX()
	bar.Add(&plotter.ColorBar{ColorMap: cmap, Vertical: true})
	bar.Y.Padding = 0

	return &Figure{Plot: p, ColorBar: bar, Width: opt.Width, Height: opt.Height}, nil
}

// heatColors returns the color map over [lo, hi] (widened when needed so
// it is not empty and, when diverging, holds Center inside).
func heatColors(opt HeatOptions, lo, hi float64) palette.ColorMap {
	if opt.Diverging {
		c := opt.Center
		margin := 0.05 * (math.Max(hi, c) - math.Min(lo, c))
		if margin == 0 {
			margin = math.Max(0.5*math.Abs(c), 0.5)
		}
		inner := moreland.SmoothBlueRed()
		inner.SetMin(0)
		inner.SetMax(1)
		return &diverging{inner: inner, lo: math.Min(lo, c-margin), center: c, hi: math.Max(hi, c+margin)}
	}
	if hi == lo {
		d := math.Max(0.5*math.Abs(lo), 0.5)
		lo, hi = lo-d, hi+d
	}
	m, err := moreland.NewLuminance([]color.Color{
		color.NRGBA{0x44, 0x01, 0x54, 0xff}, color.NRGBA{0x3b, 0x52, 0x8b, 0xff},
		color.NRGBA{0x21, 0x91, 0x8c, 0xff}, color.NRGBA{0x5e, 0xc9, 0x62, 0xff},
		color.NRGBA{0xfd, 0xe7, 0x25, 0xff},
	})
	if err != nil {
		m = moreland.Kindlmann()
	}
	m.SetMin(lo)
	m.SetMax(hi)
	return m
}

// cells is the heat map's plotter: one filled square per cell with its
// value printed in a color that stands out on it.
type cells struct {
	grid   Grid
	cmap   palette.ColorMap
	format string
	face   font.Font
}

// Plot implements plot.Plotter.
func (h *cells) Plot(c draw.Canvas, p *plot.Plot) {
	trX, trY := p.Transforms(&c)
	nr := len(h.grid.Rows)
	missing := color.Gray{Y: 235}
	for r, row := range h.grid.Values {
		y := float64(nr - 1 - r)
		for col, v := range row {
			x := float64(col)
			rect := vg.Rectangle{
				Min: vg.Point{X: trX(x - 0.5), Y: trY(y - 0.5)},
				Max: vg.Point{X: trX(x + 0.5), Y: trY(y + 0.5)},
			}
			fill := color.Color(missing)
			if isFinite(v) {
				v = math.Min(math.Max(v, h.cmap.Min()), h.cmap.Max())
				if cc, err := h.cmap.At(v); err == nil {
					fill = cc
				}
			}
			c.FillPolygon(fill, rectPath(rect))
			c.StrokeLines(draw.LineStyle{Color: color.White, Width: vg.Points(1)}, append(rectPath(rect), rect.Min))
			label := "n/a"
			if isFinite(row[col]) {
				if h.format == "-" {
					continue
				}
				label = fmt.Sprintf(h.format, row[col])
			}
			sty := text.Style{
				Color:   textColorOn(fill),
				Font:    h.face,
				XAlign:  draw.XCenter,
				YAlign:  draw.YCenter,
				Handler: p.TextHandler,
			}
			c.FillText(sty, vg.Point{X: (rect.Min.X + rect.Max.X) / 2, Y: (rect.Min.Y + rect.Max.Y) / 2}, label)
		}
	}
}

// DataRange implements plot.DataRanger.
func (h *cells) DataRange() (xmin, xmax, ymin, ymax float64) {
	return -0.5, float64(len(h.grid.Cols)) - 0.5, -0.5, float64(len(h.grid.Rows)) - 0.5
}

// textColorOn returns black or white, whichever reads better on bg.
func textColorOn(bg color.Color) color.Color {
	r, g, b, _ := bg.RGBA()
	lum := (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 0xffff
	if lum < 0.55 {
		return color.White
	}
	return color.Black
}

// diverging maps [lo, center] onto the blue half of a symmetric diverging
// map and [center, hi] onto its red half, so Center is white however
// unevenly the values lie around it. (moreland's own converge point
// oversaturates when it is not mid-range.)
type diverging struct {
	inner          palette.ColorMap // over [0, 1], white at 0.5
	lo, center, hi float64
}

// At implements palette.ColorMap.
func (d *diverging) At(v float64) (color.Color, error) {
	switch {
	case v < d.lo:
		return nil, palette.ErrUnderflow
	case v > d.hi || math.IsNaN(v):
		return nil, palette.ErrOverflow
	}
	var t float64
	if v < d.center {
		t = 0.5 * (v - d.lo) / (d.center - d.lo)
	} else {
		t = 0.5 + 0.5*(v-d.center)/(d.hi-d.center)
	}
	return d.inner.At(math.Min(math.Max(t, 0), 1))
}

// Min implements palette.ColorMap.
func (d *diverging) Min() float64 { return d.lo }

// Max implements palette.ColorMap.
func (d *diverging) Max() float64 { return d.hi }

// SetMin implements palette.ColorMap.
func (d *diverging) SetMin(v float64) { d.lo = v }

// SetMax implements palette.ColorMap.
func (d *diverging) SetMax(v float64) { d.hi = v }

// Alpha implements palette.ColorMap.
func (d *diverging) Alpha() float64 { return d.inner.Alpha() }

// SetAlpha implements palette.ColorMap.
func (d *diverging) SetAlpha(a float64) { d.inner.SetAlpha(a) }

// Palette implements palette.ColorMap: n colors evenly over [Min, Max].
func (d *diverging) Palette(n int) palette.Palette {
	cs := make([]color.Color, n)
	for i := range cs {
		v := d.lo
		if n > 1 {
			v += (d.hi - d.lo) * float64(i) / float64(n-1)
		}
		cs[i], _ = d.At(v)
	}
	return colors(cs)
}

type colors []color.Color

// Colors implements palette.Palette.
func (c colors) Colors() []color.Color { return c }
