package study

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/sparknet/sparknet/report"
)

func ftoa(v float64) string {
	if math.IsNaN(v) {
		return ""
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// speedup returns the speedup on the measured clock (model false) or the
// modelled one, whichever of r and other has it.
func speedup(r, other *Results, run *Run, s float64, model bool) float64 {
	if r.Model == model {
		return r.Speedup(run, s)
	}
	return other.Speedup(run, s)
}

// WriteSpeedupCSV writes one row per run and latency: the settings, whether
// and when the target was reached, the virtual time and the speedup on the
// measured clock and on the modelled one (see Results.Model), the mean
// measured compute time per iteration and the bytes per round.
func (r *Results) WriteSpeedupCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"outer", "workers", "tau", "latency", "latency_unit", "latency_s", "reached", "iters", "rounds", "time_s", "speedup",
		"model_time_s", "model_speedup", "compute_s_per_iter", "bytes_per_round"})
	model := *r
	model.Model = !r.Model
	for _, run := range r.Runs {
		var compute float64
		var bytes int64
		for _, rd := range run.Rounds {
			compute += rd.Compute
			bytes += rd.Bytes
		}
		perIter, perRound := math.NaN(), math.NaN()
		if n := len(run.Rounds); n > 0 {
			perIter = compute / float64(run.lastIter())
			perRound = float64(bytes) / float64(n)
		}
		for i, l := range r.Config.Latencies {
			s := r.LatencySeconds(i)
			t, iters, rounds, ok := r.TimeToTarget(run, s)
			mt, _, _, _ := model.TimeToTarget(run, s)
			if r.Model {
				mt, t = t, mt
			}
			row := []string{run.Outer, strconv.Itoa(run.Workers), strconv.Itoa(run.Tau), ftoa(l), r.Config.LatencyUnit, strconv.FormatFloat(s, 'g', -1, 64),
				strconv.FormatBool(ok), "", "", ftoa(t), ftoa(speedup(r, &model, run, s, false)),
				ftoa(mt), ftoa(speedup(r, &model, run, s, true)), ftoa(perIter), ftoa(perRound)}
			if ok {
				row[7], row[8] = strconv.Itoa(iters), strconv.Itoa(rounds)
			}
			cw.Write(row)
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteCurvesCSV writes every test of every run: the settings, the
// iteration, the rounds, the compute time and bytes so far, and the value.
// The virtual time at latency S is compute_s + rounds*(S + bytes/rounds /
// bandwidth) for K > 1, compute_s for K = 1.
func (r *Results) WriteCurvesCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"outer", "workers", "tau", "iter", "rounds", "compute_s", "bytes", r.Config.Output})
	for _, run := range r.Runs {
		for _, x := range run.Tests {
			var compute float64
			var bytes int64
			for _, rd := range run.Rounds[:x.Rounds] {
				compute += rd.Compute
				bytes += rd.Bytes
			}
			cw.Write([]string{run.Outer, strconv.Itoa(run.Workers), strconv.Itoa(run.Tau), strconv.Itoa(x.Iter),
				strconv.Itoa(x.Rounds), strconv.FormatFloat(compute, 'g', -1, 64), strconv.FormatInt(bytes, 10),
				// All digits of the test's float32 value: whether it
				// reached the target must survive the round trip.
				strconv.FormatFloat(x.Value, 'g', -1, 32)})
		}
	}
	cw.Flush()
	return cw.Error()
}

// Figures makes the study's figures: a speedup heat map (rows K, columns
// tau) per outer optimizer and latency; the test accuracy against virtual
// time per latency, for each K at its best tau; and, with several outer
// optimizers, the rounds each needed to reach the target.
func (r *Results) Figures() ([]report.NamedFigure, error) {
	var figs []report.NamedFigure
	for _, outer := range r.outers() {
		for li := range r.Config.Latencies {
			s := r.LatencySeconds(li)
			g := report.Grid{}
			for _, k := range r.Config.Workers {
				g.Rows = append(g.Rows, "K="+strconv.Itoa(k))
			}
			for _, tau := range r.Config.Taus {
				g.Cols = append(g.Cols, strconv.Itoa(tau))
			}
			for _, k := range r.Config.Workers {
				row := make([]float64, len(r.Config.Taus))
				for c, tau := range r.Config.Taus {
					row[c] = math.NaN()
					if run := r.Find(k, tau, outer); run != nil {
						// Six digits, as printed: sums of times in another
						// order differ in the last bits, which should not
						// make equal speedups look different (nor give
						// the color scale a range of a few ulps).
						if v := r.Speedup(run, s); !math.IsNaN(v) {
							row[c], _ = strconv.ParseFloat(ftoa(v), 64)
						}
					}
				}
				g.Values = append(g.Values, row)
			}
			clock := "measured"
			if r.Model {
				clock = "modelled"
			}
			title := fmt.Sprintf("Speedup to %s %g, %s, %s = %.3g s (%s compute)", r.Config.Output, r.Config.Target, outer, r.latencyName(li), s, clock)
			f, err := report.HeatMap(report.HeatOptions{Title: title, XLabel: "tau (local iterations per round)", YLabel: "workers",
				ValueLabel: "speedup", Diverging: true, Center: 1, Format: "%.2f"}, g)
			if errors.Is(err, report.ErrNoData) {
				continue
			}
			if err != nil {
				return nil, err
			}
			figs = append(figs, report.NamedFigure{Name: fmt.Sprintf("speedup_%s_%s", outer, r.latencyName(li)), Figure: f,
				Caption: fmt.Sprintf("%s: speedup in time to %s %g over one worker with tau 1 (no communication), latency %s per round; blank: target not reached.", outer, r.Config.Output, r.Config.Target, r.latencyName(li))})
		}
	}
	for li := range r.Config.Latencies {
		s := r.LatencySeconds(li)
		var series []report.Series
		for _, k := range r.Config.Workers {
			var best *Run
			bestT := math.Inf(1)
			for _, run := range r.Runs {
				if run.Workers != k || run.Outer != "avg" {
					continue
				}
				if t, _, _, ok := r.TimeToTarget(run, s); ok && t < bestT {
					best, bestT = run, t
				}
			}
			if best == nil {
				continue
			}
			clock := r.Clock(best, s)
			var xs, ys []float64
			for _, x := range best.Tests {
				t := 0.0
				if x.Rounds > 0 {
					t = clock[x.Rounds-1]
				}
				xs, ys = append(xs, t), append(ys, x.Value)
			}
			series = append(series, report.Series{Label: fmt.Sprintf("K=%d tau=%d", k, best.Tau), X: xs, Y: ys, Points: true})
		}
		if len(series) == 0 {
			continue
		}
		f, err := report.LinePlot(report.LineOptions{
			Title:  fmt.Sprintf("Test %s vs virtual time, %s (%.3g s), each K at its best tau", r.Config.Output, r.latencyName(li), s),
			XLabel: "virtual time (s)", YLabel: r.Config.Output,
			HLines: []report.HLine{{Y: r.Config.Target, Label: fmt.Sprintf("target %g", r.Config.Target)}},
		}, series...)
		if err != nil && !errors.Is(err, report.ErrNoData) {
			return nil, err
		}
		if err == nil {
			figs = append(figs, report.NamedFigure{Name: "accuracy_time_" + r.latencyName(li), Figure: f,
				Caption: fmt.Sprintf("Test %s against virtual time (slowest worker's compute + modelled communication) at latency %s, for each number of workers at the tau that reached the target first.", r.Config.Output, r.latencyName(li))})
		}
	}
	if outers := r.outers(); len(outers) > 1 {
		var series []report.Series
		for oi, outer := range outers {
			for ki, k := range r.Config.Workers {
				var xs, ys []float64
				for _, tau := range r.Config.Taus {
					run := r.Find(k, tau, outer)
					if run == nil {
						continue
					}
					if _, _, rounds, ok := r.TimeToTarget(run, 0); ok {
						xs, ys = append(xs, float64(tau)), append(ys, float64(rounds))
					}
				}
				if len(xs) > 0 {
					series = append(series, report.Series{Label: fmt.Sprintf("%s K=%d", outer, k), X: xs, Y: ys, Points: true,
						Dashed: oi > 0, Color: report.Color(ki)})
				}
			}
		}
		f, err := report.LinePlot(report.LineOptions{Title: fmt.Sprintf("Rounds to %s %g", r.Config.Output, r.Config.Target),
			XLabel: "tau", YLabel: "rounds", LogX: true, LogY: true}, series...)
		if err != nil && !errors.Is(err, report.ErrNoData) {
			return nil, err
		}
		if err == nil {
			figs = append(figs, report.NamedFigure{Name: "rounds_to_target", Figure: f,
				Caption: "Rounds (communications) each outer optimizer needed to reach the target, by tau; solid avg, dashed the others."})
		}
	}
	return figs, nil
}

// table returns the results as an HTML table.
func (r *Results) table() report.Table {
	t := report.Table{Caption: fmt.Sprintf("Runs (baseline compute time per iteration %.4g s)", r.IterTime),
		Header: []string{"outer", "K", "tau", "reached", "iterations", "rounds", "compute s"}}
	other := *r
	other.Model = !r.Model
	clocks := []*Results{r, &other}
	if r.Model {
		clocks = []*Results{&other, r}
	}
	for _, c := range clocks {
		for li := range r.Config.Latencies {
			name := "speedup "
			if c.Model {
				name = "model speedup "
			}
			t.Header = append(t.Header, name+r.latencyName(li))
		}
	}
	for _, run := range r.Runs {
		tt, iters, rounds, ok := r.TimeToTarget(run, 0)
		row := []string{run.Outer, strconv.Itoa(run.Workers), strconv.Itoa(run.Tau), strconv.FormatBool(ok), "", "", ""}
		if ok {
			row[4], row[5], row[6] = strconv.Itoa(iters), strconv.Itoa(rounds), fmt.Sprintf("%.1f", tt)
		}
		for _, c := range clocks {
			for li := range r.Config.Latencies {
				v := c.Speedup(run, r.LatencySeconds(li))
				if math.IsNaN(v) {
					row = append(row, "-")
				} else {
					row = append(row, fmt.Sprintf("%.2f", v))
				}
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// Save writes speedup.csv, curves.csv, every figure as PNG and SVG, and
// index.html (figures and table) to dir; the figures on the other clock
// (see Model) go to dir/model or dir/measured.
func (r *Results) Save(dir string) error {
	if err := r.save(dir); err != nil {
		return err
	}
	other := *r
	other.Model = !r.Model
	sub := "model"
	if r.Model {
		sub = "measured"
	}
	figs, err := other.Figures()
	if err != nil {
		return err
	}
	return saveFigures(filepath.Join(dir, sub), figs)
}

func saveFigures(dir string, figs []report.NamedFigure) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range figs {
		for _, ext := range []string{".png", ".svg"} {
			if err := f.Figure.Save(filepath.Join(dir, f.Name+ext)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *Results) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, write := range map[string]func(io.Writer) error{
		"speedup.csv": r.WriteSpeedupCSV, "curves.csv": r.WriteCurvesCSV,
	} {
		if err := report.WriteFileAtomic(filepath.Join(dir, name), write); err != nil {
			return err
		}
	}
	figs, err := r.Figures()
	if err != nil {
		return err
	}
	if err := saveFigures(dir, figs); err != nil {
		return err
	}
	var page bytes.Buffer
	err = report.WriteHTML(&page, nil, report.HTMLOptions{
		Title:   fmt.Sprintf("Scaling study: time to %s %g", r.Config.Output, r.Config.Target),
		Figures: figs, Tables: []report.Table{r.table()},
	})
	if err != nil {
		return err
	}
	return report.WriteFileAtomic(filepath.Join(dir, "index.html"), func(w io.Writer) error {
		_, err := w.Write(page.Bytes())
		return err
	})
}
