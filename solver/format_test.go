package solver

import (
	"math"
	"testing"
)

// TestFormatValue checks numbers against what C++'s ostream (printf %g with
// 6 significant digits) prints for the same float.
func TestFormatValue(t *testing.T) {
	cases := map[float32]string{
		0.325343:   "0.325343",
		0.8951:     "0.8951",
		2.3025851:  "2.30259",
		1e-5:       "1e-05",
		0.0001:     "0.0001",
		100000:     "100000",
		1e6:        "1e+06",
		1234567:    "1.23457e+06",
		0.00992565: "0.00992565",
		1:          "1",
		0:          "0",
		-0.5:       "-0.5",
	}
	for v, want := range cases {
		if got := FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
	if got := FormatValue(float32(math.NaN())); got != "nan" {
		t.Errorf("NaN prints %q, want nan", got)
	}
	if got := FormatOutput("loss", 0.325343, 1); got != "loss = 0.325343 (* 1 = 0.325343 loss)" {
		t.Errorf("FormatOutput = %q", got)
	}
	if got := FormatOutput("accuracy", 0.8951, 0); got != "accuracy = 0.8951" {
		t.Errorf("FormatOutput = %q", got)
	}
}
