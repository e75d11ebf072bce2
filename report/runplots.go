package report

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// XAxis chooses what a run figure plots against.
type XAxis int

const (
	// ByIteration plots against the global iteration.
	ByIteration XAxis = iota
	// ByWallTime plots against the wall time since the start of solving
	// (in s, min or h, whichever suits the longest run).
	ByWallTime
)

// Smooth smooths y with a moving window of 2*half+1 points. Where the
// window is whole this is the centered moving average. Near the ends,
// where it is cut short, the value is the least-squares line through the
// window's points, taken at the point: unbiased on a trend (a loss falling
// steeply at the start is not bent up or down) and far less noisy than the
// raw end point. Non-finite values are left out; a window without any
// gives NaN. half <= 0 returns a copy of y.
func Smooth(y []float64, half int) []float64 {
	out := make([]float64, len(y))
	if half <= 0 {
		copy(out, y)
		return out
	}
	// Prefix sums over the finite values: count, sum j, sum j^2, sum y,
	// sum j*y (j is the index).
	n := len(y)
	cnt := make([]float64, n+1)
	sj := make([]float64, n+1)
	sjj := make([]float64, n+1)
	sy := make([]float64, n+1)
	sjy := make([]float64, n+1)
	for j, v := range y {
		cnt[j+1], sj[j+1], sjj[j+1], sy[j+1], sjy[j+1] = cnt[j], sj[j], sjj[j], sy[j], sjy[j]
		if isFinite(v) {
			f := float64(j)
			cnt[j+1]++
			sj[j+1] += f
			sjj[j+1] += f * f
			sy[j+1] += v
			sjy[j+1] += f * v
		}
	}
	for i := range y {
		lo, hi := max(0, i-half), min(n, i+half+1)
		k := cnt[hi] - cnt[lo]
		if k == 0 {
			out[i] = math.NaN()
			continue
		}
		mean := (sy[hi] - sy[lo]) / k
		if hi-lo == 2*half+1 || k < 2 {
			out[i] = mean
			continue
		}
		// Moments about x = i, so the fitted line's intercept is the value.
		fi := float64(i)
		s1 := sj[hi] - sj[lo] - k*fi
		s2 := sjj[hi] - sjj[lo] - 2*fi*(sj[hi]-sj[lo]) + k*fi*fi
		sxy := sjy[hi] - sjy[lo] - fi*(sy[hi]-sy[lo])
		den := k*s2 - s1*s1
		if den <= 0 {
			out[i] = mean
			continue
		}
		slope := (k*sxy - s1*(sy[hi]-sy[lo])) / den
		out[i] = mean - slope*s1/k
	}
	return out
}

// SmoothHalfWindow is the half window LossFigure smooths n training
// records with: n/40, so the window spans about 5% of the run.
func SmoothHalfWindow(n int) int { return n / 40 }

// timeUnit picks the unit for a time axis whose largest value is maxS
// seconds: it returns the divisor and the unit's name.
func timeUnit(maxS float64) (float64, string) {
	switch {
	case maxS >= 3*3600:
		return 3600, "h"
	case maxS >= 180:
		return 60, "min"
	default:
		return 1, "s"
	}
}

// xOf returns a point's x for the axis (iteration or scaled wall time).
func xOf(axis XAxis, iter int, wallS, div float64) float64 {
	if axis == ByWallTime {
		return wallS / div
	}
	return float64(iter)
}

// axisSetup returns the time divisor and the x label for runs.
func axisSetup(runs []*Run, axis XAxis) (float64, string) {
	if axis != ByWallTime {
		return 1, "iteration"
	}
	longest := 0.0
	for _, r := range runs {
		if d := r.History.Duration(); d > longest {
			longest = d
		}
	}
	div, unit := timeUnit(longest)
	return div, "wall time (" + unit + ")"
}

func axisTitle(axis XAxis) string {
	if axis == ByWallTime {
		return "wall time"
	}
	return "iteration"
}

// autoLog reports whether positive values spanning more than ratio
// between their extremes read better on a log axis.
func autoLog(ratio float64, series []Series) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range series {
		for _, v := range s.Y {
			if !isFinite(v) {
				continue
			}
			if v <= 0 {
				return false
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	return lo < hi && hi/lo > ratio
}

// isLossOutput reports whether a test output is a loss (plotted with the
// training loss) rather than a score (plotted as accuracy).
func isLossOutput(name string) bool {
	return strings.Contains(strings.ToLower(name), "loss")
}

// outputLabel names a test series within a run: "accuracy", or
// "net1/accuracy" for test nets after the first. The writer's "test_loss"
// (the net's total weighted loss) reads as "loss".
func outputLabel(s *TestSeries) string {
	name := s.Output
	if name == "test_loss" {
		name = "loss"
	}
	if s.Net != 0 {
		return fmt.Sprintf("net%d/%s", s.Net, name)
	}
	return name
}

// redundantTestLoss reports whether s is the writer's "test_loss" total of
// a net that also logs its loss outputs by name: that curve is drawn
// already.
func redundantTestLoss(h *History, s *TestSeries) bool {
	if s.Output != "test_loss" {
		return false
	}
	for _, o := range h.Tests {
		if o.Net == s.Net && o != s && isLossOutput(o.Output) {
			return true
		}
	}
	return false
}

// LossFigure plots the training loss (raw, faint, and smoothed) and the
// test losses of runs against the iteration or the wall time. Each run
// has its own color; several runs are labelled by name.
func LossFigure(runs []*Run, axis XAxis) (*Figure, error) {
	div, xlabel := axisSetup(runs, axis)
	multi := len(runs) > 1
	var series []Series
	for i, r := range runs {
		col := Color(i)
		h := r.History
		x := make([]float64, 0, len(h.Train))
		y := make([]float64, 0, len(h.Train))
		for _, p := range h.Train {
			if isFinite(p.Loss) {
				x = append(x, xOf(axis, p.Iter, p.WallS, div))
				y = append(y, p.Loss)
			}
		}
		if len(y) > 0 {
			label := "train"
			if multi {
				label = r.Name + " train"
			}
			if half := SmoothHalfWindow(len(y)); half > 0 {
				rawLabel := ""
				if !multi {
					rawLabel = "train (raw)"
					label = "train (smoothed)"
				}
				series = append(series,
					Series{Label: rawLabel, X: x, Y: y, Color: col, Faint: true},
					Series{Label: label, X: x, Y: Smooth(y, half), Color: col})
			} else {
				series = append(series, Series{Label: label, X: x, Y: y, Color: col})
			}
		}
		for _, s := range h.Tests {
			if !isLossOutput(s.Output) || redundantTestLoss(h, s) {
				continue
			}
			label := "test " + outputLabel(s)
			if multi {
				label = r.Name + " " + label
			}
			tx, ty := testXY(s, axis, div)
			series = append(series, Series{Label: label, X: tx, Y: ty, Color: col, Dashed: true, Points: true})
		}
	}
	opt := LineOptions{Title: "Loss vs " + axisTitle(axis), XLabel: xlabel, YLabel: "loss"}
	opt.LogY = autoLog(50, series)
	if opt.LogY {
		opt.YLabel = "loss (log scale)"
	}
	return LinePlot(opt, series...)
}

func testXY(s *TestSeries, axis XAxis, div float64) (x, y []float64) {
	x = make([]float64, len(s.Points))
	y = make([]float64, len(s.Points))
	for i, p := range s.Points {
		x[i], y[i] = xOf(axis, p.Iter, p.WallS, div), p.Value
	}
	return x, y
}

// LRFigure plots the learning rate of runs against the iteration (on a log
// axis when it spans more than a factor 20).
func LRFigure(runs []*Run) (*Figure, error) {
	var series []Series
	for i, r := range runs {
		x := make([]float64, 0, len(r.History.Train))
		y := make([]float64, 0, len(r.History.Train))
		for _, p := range r.History.Train {
			if isFinite(p.LR) {
				x, y = append(x, float64(p.Iter)), append(y, p.LR)
			}
		}
		label := r.Name
		if len(runs) == 1 {
			label = ""
		}
		series = append(series, Series{Label: label, X: x, Y: y, Color: Color(i)})
	}
	opt := LineOptions{Title: "Learning rate", XLabel: "iteration", YLabel: "learning rate"}
	opt.LogY = autoLog(20, series)
	if opt.LogY {
		opt.YLabel = "learning rate (log scale)"
	}
	return LinePlot(opt, series...)
}

// AccuracyFigure plots the test outputs of runs that are not losses
// (accuracy, top-5 accuracy, ...) against the iteration or the wall time.
// target > 0 draws a reference line at that accuracy.
func AccuracyFigure(runs []*Run, axis XAxis, target float64) (*Figure, error) {
	div, xlabel := axisSetup(runs, axis)
	var series []Series
	for i, r := range runs {
		var scores []*TestSeries
		for _, s := range r.History.Tests {
			if !isLossOutput(s.Output) {
				scores = append(scores, s)
			}
		}
		for j, s := range scores {
			var label string
			switch {
			case len(runs) == 1:
				label = "test " + outputLabel(s)
			case len(scores) == 1:
				label = r.Name
			default:
				label = r.Name + " " + outputLabel(s)
			}
			x, y := testXY(s, axis, div)
			series = append(series, Series{Label: label, X: x, Y: y, Color: Color(i), Dashed: j > 0, Points: true})
		}
	}
	opt := LineOptions{Title: "Test accuracy vs " + axisTitle(axis), XLabel: xlabel, YLabel: "test accuracy"}
	if target > 0 {
		opt.HLines = []HLine{{Y: target, Label: fmt.Sprintf("target %g", target)}}
	}
	return LinePlot(opt, series...)
}

// NamedFigure is a figure with the file name (without extension) and the
// caption it is saved and shown under.
type NamedFigure struct {
	// Name is the file name without extension, e.g. "loss".
	Name string
	// Caption describes the figure in the HTML report.
	Caption string
	// Figure is the chart.
	Figure *Figure
}

// RunFigures makes the standard figures of runs, leaving out those without
// data: "loss" (training and test loss vs iteration), "accuracy" (test
// accuracy vs iteration), "accuracy_time" (vs wall time), "loss_time"
// (loss vs wall time) and "lr" (learning rate). target > 0 marks that
// accuracy on the accuracy figures.
func RunFigures(runs []*Run, target float64) ([]NamedFigure, error) {
	type maker struct {
		name, caption string
		make          func() (*Figure, error)
	}
	makers := []maker{
		{"loss", "Training loss (raw and smoothed) and test loss by iteration.", func() (*Figure, error) { return LossFigure(runs, ByIteration) }},
		{"accuracy", "Test accuracy by iteration.", func() (*Figure, error) { return AccuracyFigure(runs, ByIteration, target) }},
		{"accuracy_time", "Test accuracy by wall time.", func() (*Figure, error) { return AccuracyFigure(runs, ByWallTime, target) }},
		{"loss_time", "Training and test loss by wall time.", func() (*Figure, error) { return LossFigure(runs, ByWallTime) }},
		{"lr", "Learning rate by iteration.", func() (*Figure, error) { return LRFigure(runs) }},
	}
	var figs []NamedFigure
	for _, m := range makers {
		f, err := m.make()
		if errors.Is(err, ErrNoData) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%s figure: %w", m.name, err)
		}
		figs = append(figs, NamedFigure{Name: m.name, Caption: m.caption, Figure: f})
	}
	return figs, nil
}
