package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestPReLUDefaultSlopeAndValues(t *testing.T) {
	x := zBlob([]float32{-4, 2, -1, 3, 0, -8, 5, -2}, 2, 2, 2)
	top := zBlobs(1)
	l := zNew(t, `type: "PReLU"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	if got := l.Params()[0]; !got.ShapeEquals(2) || got.Data[0] != 0.25 || got.Data[1] != 0.25 {
		t.Fatalf("slopes %v shape %s, want [0.25 0.25] shape 2", got.Data, got.ShapeString())
	}
	zNear(t, "prelu", top[0].Data, []float64{-1, 2, -0.25, 3, 0, -2, 5, -0.5}, 0)
	copy(top[0].Diff, []float32{1, 1, 1, 1, 1, 1, 1, 2})
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, []float64{0.25, 1, 0.25, 1, 0.25, 0.25, 1, 0.5}, 0)
	// Slope gradients: sum of dy x over x <= 0, per channel (axis 1):
	// channel 0 holds -4, 2 and 0, -8; channel 1 holds -1, 3 and 5, -2 (dy 2).
	zNear(t, "slope gradient", l.Params()[0].Diff, []float64{-4 + 0 + -8, -1 + 2*-2}, 0)
}

func TestPReLUPerChannelSlopes(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	l := zNew(t, `type: "PReLU" prelu_param { filler { type: "uniform" min: 0.1 max: 0.9 } }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	a := l.Params()[0].Data
	want := make([]float64, x.Count())
	for i, v := range x.Data {
		c := (i / 20) % 3
		want[i] = float64(v)
		if v < 0 {
			want[i] = float64(a[c]) * float64(v)
		}
	}
	zNear(t, "prelu", top[0].Data, want, 1e-7)
}

func TestPReLUGradient(t *testing.T) {
	zCheckKink(t, zNew(t, `type: "PReLU" prelu_param { filler { type: "gaussian" } }`),
		[]*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, 0, 0.01)
}

func TestPReLUSharedGradient(t *testing.T) {
	l := zNew(t, `type: "PReLU" prelu_param { channel_shared: true filler { type: "gaussian" } }`)
	zCheckKink(t, l, []*tensor.Blob{zGauss(2, 3, 4, 5)}, zBlobs(1), 1e-3, 0, 0.01)
	if p := l.Params()[0]; p.NumAxes() != 0 || p.Count() != 1 {
		t.Fatalf("shared slope has shape %s, want a scalar", p.ShapeString())
	}
}

// The slope gradient accumulates over Backward calls (the net clears it).
func TestPReLUSlopeGradientAccumulates(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	l := zNew(t, `type: "PReLU"`)
	zForward(t, l, []*tensor.Blob{x}, top)
	copy(top[0].Diff, zSeq(120, -1, 0.02))
	l.Backward(top, []bool{false}, []*tensor.Blob{x})
	once := append([]float32(nil), l.Params()[0].Diff...)
	l.Backward(top, []bool{false}, []*tensor.Blob{x})
	want := make([]float64, len(once))
	for i, v := range once {
		want[i] = 2 * float64(v)
	}
	zNear(t, "accumulated slope gradient", l.Params()[0].Diff, want, 0)
}

func TestPReLUInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "PReLU" prelu_param { filler { type: "gaussian" } }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

func TestPReLUNeedsTwoAxes(t *testing.T) {
	zWantErr(t, zNew(t, `type: "PReLU"`), []*tensor.Blob{tensor.New(5)}, zBlobs(1), "at least 2 axes")
}

func TestNonPositiveMask(t *testing.T) {
	for _, c := range []struct {
		v    float32
		want uint32
	}{
		{0, 0xffffffff}, {float32(math.Copysign(0, -1)), 0xffffffff}, {1e-45, 0}, {-1e-45, 0xffffffff},
		{1, 0}, {-1, 0xffffffff}, {float32(math.Inf(1)), 0}, {float32(math.Inf(-1)), 0xffffffff},
	} {
		if got := nonPositive(c.v); got != c.want {
			t.Errorf("nonPositive(%g) = %#x, want %#x", c.v, got, c.want)
		}
	}
}
