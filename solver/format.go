package solver

import (
	"fmt"
	"math"
	"strconv"
)

// FormatValue formats a value as C++'s ostream does by default (printf's %g
// with 6 significant digits), which is how Caffe's logs print numbers:
// 0.325343, 1e-05, 2.30259.
func FormatValue(v float32) string { return fmtG64(float64(v)) }

func fmtG(v float32) string { return fmtG64(float64(v)) }

func fmtG64(v float64) string {
	switch {
	case math.IsNaN(v):
		return "nan"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// logf writes one line to the solver's log.
func (s *Solver) logf(format string, args ...any) {
	if s.log == nil {
		return
	}
	fmt.Fprintf(s.log, format+"\n", args...)
}

// FormatOutput formats one net output as Caffe's logs do: "name = v", with
// " (* w = w*v loss)" appended when the output carries a loss weight.
func FormatOutput(name string, value, lossWeight float32) string {
	if lossWeight != 0 {
		return fmt.Sprintf("%s = %s (* %s = %s loss)", name, fmtG(value), fmtG(lossWeight), fmtG(lossWeight*value))
	}
	return fmt.Sprintf("%s = %s", name, fmtG(value))
}
