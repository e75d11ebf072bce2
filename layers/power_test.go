package layers

import (
	"fmt"
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// powerInput returns inputs with shift + scale x in [0.5, 3], so that
// fractional powers are defined.
func powerInput(scale, shift float64) *tensor.Blob {
	b := randBlob(zRand(), 0.5, 3, 2, 3, 4, 5)
	for i, v := range b.Data {
		b.Data[i] = float32((float64(v) - shift) / scale)
	}
	return b
}

// The cases of Caffe's test_power_layer / test_neuron_layer power tests.
var powerCases = []struct{ power, scale, shift float64 }{
	{0.37, 0.83, -2.4},
	{0.37, 0.83, 0},
	{1, 0.83, -2.4},
	{2, 0.34, -2.4},
	{2, 0.5, -2.4},
	{2, 0.5, 0},
	{-1.5, 1, 0.5},
}

func TestPowerMatchesFormula(t *testing.T) {
	for _, c := range powerCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			x, top := powerInput(c.scale, c.shift), zBlobs(1)
			l := zNew(t, fmt.Sprintf(`type: "Power" power_param { power: %g scale: %g shift: %g }`, c.power, c.scale, c.shift))
			zForward(t, l, []*tensor.Blob{x}, top)
			zNear(t, "power", top[0].Data, zMap(x.Data, func(v float64) float64 {
				return math.Pow(c.shift+c.scale*v, c.power)
			}), 1e-5)
		})
	}
}

func TestPowerGradient(t *testing.T) {
	for _, c := range powerCases {
		t.Run(fmt.Sprint(c), func(t *testing.T) {
			l := zNew(t, fmt.Sprintf(`type: "Power" power_param { power: %g scale: %g shift: %g }`, c.power, c.scale, c.shift))
			zCheck(t, l, []*tensor.Blob{powerInput(c.scale, c.shift)}, zBlobs(1), 1e-2, nil)
		})
	}
}

func TestPowerKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 2, 3}, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Power" power_param { power: 2 scale: 3 shift: 1 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "power", top[0].Data, []float64{16, 49, 100}, 0)
	copy(top[0].Diff, []float32{1, 1, 0.5})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	// 2 * 3 * (1 + 3x).
	zNear(t, "gradient", x.Diff, []float64{24, 42, 30}, 0)
}

// A zero power or zero scale makes the output constant and the gradient 0.
func TestPowerConstantCases(t *testing.T) {
	for _, c := range []struct {
		text string
		want float64
	}{
		{`type: "Power" power_param { power: 0 scale: 0.83 shift: -2.4 }`, 1},
		{`type: "Power" power_param { power: 3 scale: 0 shift: 2 }`, 8},
	} {
		x, top := zGauss(2, 3), zBlobs(1)
		l := zNew(t, c.text)
		zForward(t, l, []*tensor.Blob{x}, top)
		for i, v := range top[0].Data {
			if float64(v) != c.want {
				t.Fatalf("%s: y[%d] = %g, want %g", c.text, i, v, c.want)
			}
		}
		for i := range top[0].Diff {
			top[0].Diff[i] = 1
		}
		l.Backward(top, []bool{true}, []*tensor.Blob{x})
		for i, v := range x.Diff {
			if v != 0 {
				t.Fatalf("%s: dx[%d] = %g, want 0", c.text, i, v)
			}
		}
	}
}

func TestPowerInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "Power" power_param { power: 0.37 scale: 0.83 shift: -2.4 }`, powerInput(0.83, -2.4), zSeq(120, -1, 0.02))
}

// The square-root fast paths of powf agree with math.Pow rounded to
// float32, and the special bases keep pow's results.
func TestPowfFastPaths(t *testing.T) {
	r := zRand()
	for _, p := range []float32{0.5, -0.5, 0.75, -0.75, -1, 2, 1} {
		for i := 0; i < 20000; i++ {
			x := float32(math.Exp(r.Float64()*60 - 30))
			want := float32(math.Pow(float64(x), float64(p)))
			if got := powf(x, p); got != want {
				t.Fatalf("powf(%g, %g) = %g, want %g", x, p, got, want)
			}
		}
		for _, x := range []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), -2} {
			want := float32(math.Pow(float64(x), float64(p)))
			got := powf(x, p)
			if got != want && !(math.IsNaN(float64(got)) && math.IsNaN(float64(want))) {
				t.Errorf("powf(%g, %g) = %g, want %g", x, p, got, want)
			}
		}
	}
}
