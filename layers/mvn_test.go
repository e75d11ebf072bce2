package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// mvnRef normalises rows of dim values: (x - mean) / (std + eps), or only
// x - mean.
func mvnRef(x []float32, dim int, normVar bool, eps float64) []float64 {
	out := make([]float64, len(x))
	for r := 0; r < len(x)/dim; r++ {
		row := x[r*dim : (r+1)*dim]
		var s, ss float64
		for _, v := range row {
			s += float64(v)
		}
		mean := s / float64(dim)
		for _, v := range row {
			ss += (float64(v) - mean) * (float64(v) - mean)
		}
		std := math.Sqrt(ss/float64(dim)) + eps
		for i, v := range row {
			out[r*dim+i] = float64(v) - mean
			if normVar {
				out[r*dim+i] /= std
			}
		}
	}
	return out
}

func TestMVNMatchesReference(t *testing.T) {
	for _, c := range []struct {
		text    string
		dim     int
		normVar bool
	}{
		{``, 20, true},
		{`normalize_variance: false`, 20, false},
		{`across_channels: true`, 60, true},
		{`across_channels: true normalize_variance: false`, 60, false},
	} {
		t.Run(c.text, func(t *testing.T) {
			x, top := zGauss(2, 3, 4, 5), zBlobs(1)
			l := zNew(t, `type: "MVN" mvn_param { `+c.text+` }`).(*MVN)
			zForward(t, l, []*tensor.Blob{x}, top)
			zNear(t, "mvn", top[0].Data, mvnRef(x.Data, c.dim, c.normVar, float64(l.eps)), 1e-5)
			zCheck(t, zNew(t, `type: "MVN" mvn_param { `+c.text+` }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)
		})
	}
}

// With a large eps the gradient is Caffe's formula, which treats eps as 0:
// (dy - mean(dy) - mean(dy y) y) / (std + eps).
func TestMVNGradientIsCaffesFormula(t *testing.T) {
	x, top := zGauss(2, 3, 4, 5), zBlobs(1)
	l := zNew(t, `type: "MVN" mvn_param { eps: 0.1 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	zNear(t, "mvn", top[0].Data, mvnRef(x.Data, 20, true, float64(float32(0.1))), 1e-5)
	copy(top[0].Diff, zSeq(120, -1, 0.02))
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	want := make([]float64, 120)
	for r := 0; r < 6; r++ {
		xs, y, dy := x.Data[r*20:(r+1)*20], top[0].Data[r*20:(r+1)*20], top[0].Diff[r*20:(r+1)*20]
		var s, ss, sdy, sdyy float64
		for i, v := range xs {
			s += float64(v)
			sdy += float64(dy[i])
			sdyy += float64(dy[i]) * float64(y[i])
		}
		for _, v := range xs {
			ss += (float64(v) - s/20) * (float64(v) - s/20)
		}
		d := math.Sqrt(ss/20) + float64(float32(0.1))
		for i := range xs {
			want[r*20+i] = (float64(dy[i]) - sdy/20 - sdyy/20*float64(y[i])) / d
		}
	}
	zNear(t, "gradient", x.Diff, want, 1e-5)
}

func TestMVNKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 3, 10, 10}, 1, 2, 1, 2)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "MVN" mvn_param { eps: 0 }`), []*tensor.Blob{x}, top)
	// Channel 0: mean 2, std 1. Channel 1: constant, so 0 / 0 = NaN with
	// eps 0 (Caffe divides too); check channel 0 only.
	zNear(t, "mvn", top[0].Data[:2], []float64{-1, 1}, 1e-7)
}

// Caffe's MVN makes the top 4-D.
func TestMVNTopIsFourD(t *testing.T) {
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "MVN"`), []*tensor.Blob{zGauss(3, 5)}, top)
	if !top[0].ShapeEquals(3, 5, 1, 1) {
		t.Fatalf("top shape %s, want 3x5x1x1", top[0].ShapeString())
	}
}

func TestMVNInPlace(t *testing.T) {
	zInPlaceMatches(t, `type: "MVN"`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
	zInPlaceMatches(t, `type: "MVN" mvn_param { normalize_variance: false }`, zGauss(2, 3, 4, 5), zSeq(120, -1, 0.02))
}

func TestMVNErrors(t *testing.T) {
	zWantErr(t, zNew(t, `type: "MVN"`), []*tensor.Blob{tensor.New(1, 2, 3, 4, 5)}, zBlobs(1), "at most 4 axes")
}
