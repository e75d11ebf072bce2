package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/sparknet/sparknet/report"
)

func init() {
	var opt reportOptions
	register(&Command{
		Name:      "report",
		UsageLine: "[-out DIR] [-target-accuracy A] RUN_DIR_OR_METRICS_FILE...",
		Short:     "plot a run's metrics and write an HTML report",
		Long: `Report reads the metrics log of each run (a run directory holding one
*metrics*.jsonl file, or the log itself) and writes into -out:

  loss.png/.svg           training loss (raw and smoothed) and test loss by iteration
  accuracy.png/.svg       test accuracy by iteration
  accuracy_time.png/.svg  test accuracy by wall time
  loss_time.png/.svg      loss by wall time
  lr.png/.svg             learning rate by iteration
  report.html             one self-contained page: summary, figures, test results

Figures without data (e.g. accuracy for a run without test phases) are left
out. Several runs are overlaid for comparison, labelled by run directory name.
It prints the paths it wrote. A log whose last line was cut short (a killed
run) is read up to that line.`,
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&opt.out, "out", "", "output directory (default: the run directory; required for several runs)")
			fs.Float64Var(&opt.target, "target-accuracy", 0, "report when each run first reached this test accuracy (a fraction, e.g. 0.89)")
		},
		Run: func(ctx context.Context, args []string) error {
			opt.paths = args
			return runReport(ctx, os.Stdout, os.Stderr, opt)
		},
	})
}

type reportOptions struct {
	out    string
	target float64
	paths  []string
}

func runReport(ctx context.Context, stdout, stderr io.Writer, opt reportOptions) error {
	if len(opt.paths) == 0 {
		return errUsage
	}
	if opt.target < 0 || opt.target > 1 {
		return fmt.Errorf("-target-accuracy %g: want a fraction in (0, 1]", opt.target)
	}
	runs := make([]*report.Run, len(opt.paths))
	for i, p := range opt.paths {
		r, err := report.LoadRun(p)
		if err != nil {
			return err
		}
		if r.History.Truncated {
			fmt.Fprintf(stderr, "sparknet report: warning: %s: last line cut short (run killed while writing?); read up to it\n", r.MetricsPath)
		}
		runs[i] = r
	}
	uniqueNames(runs)

	out := opt.out
	if out == "" {
		if len(runs) > 1 {
			return fmt.Errorf("%d runs given: name the output directory with -out", len(runs))
		}
		out = runs[0].Dir
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}

	figs, err := report.RunFigures(runs, opt.target)
	if err != nil {
		return err
	}
	for _, f := range figs {
		for _, ext := range []string{".png", ".svg"} {
			if err := ctx.Err(); err != nil {
				return err
			}
			path := filepath.Join(out, f.Name+ext)
			if err := f.Figure.Save(path); err != nil {
				return fmt.Errorf("writing %s: %w", path, err)
			}
			fmt.Fprintln(stdout, path)
		}
	}
	html := filepath.Join(out, "report.html")
	err = report.WriteFileAtomic(html, func(w io.Writer) error {
		return report.WriteHTML(w, runs, report.HTMLOptions{TargetAccuracy: opt.target, Figures: figs})
	})
	if err != nil {
		return fmt.Errorf("writing %s: %w", html, err)
	}
	fmt.Fprintln(stdout, html)
	return nil
}

// uniqueNames renames runs that share a name (e.g. two "out" directories)
// after as many trailing elements of their directories' paths as tell them
// apart ("a/out", "b/out").
func uniqueNames(runs []*report.Run) {
	for k := 2; ; k++ {
		count := map[string]int{}
		for _, r := range runs {
			count[r.Name]++
		}
		dup := false
		for _, r := range runs {
			if count[r.Name] > 1 {
				dup = true
				r.Name = lastElems(r.Dir, k)
			}
		}
		if !dup || k > 64 {
			return
		}
	}
}

// lastElems returns the last k elements of dir's absolute path.
func lastElems(dir string, k int) string {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	parts := strings.Split(filepath.ToSlash(dir), "/")
	if len(parts) > k {
		parts = parts[len(parts)-k:]
	}
	return strings.Join(parts, "/")
}
