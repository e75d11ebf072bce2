package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// refLRN is Caffe's test reference (test_lrn_layer.cpp) in float64.
func refLRN(x *tensor.Blob, size int, alpha, beta, k float64, within bool) []float64 {
	N, C, H, W := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	at := func(n, c, h, w int) float64 { return float64(x.Data[((n*C+c)*H+h)*W+w]) }
	out := make([]float64, x.Count())
	pre := (size - 1) / 2
	for n := 0; n < N; n++ {
		for c := 0; c < C; c++ {
			for h := 0; h < H; h++ {
				for w := 0; w < W; w++ {
					var scale float64
					if within {
						scale = 1
						for hh := max(h-pre, 0); hh < min(h-pre+size, H); hh++ {
							for ww := max(w-pre, 0); ww < min(w-pre+size, W); ww++ {
								v := at(n, c, hh, ww)
								scale += alpha / float64(size*size) * v * v
							}
						}
					} else {
						scale = k
						for cc := max(c-pre, 0); cc < min(c-pre+size, C); cc++ {
							v := at(n, cc, h, w)
							scale += alpha / float64(size) * v * v
						}
					}
					out[((n*C+c)*H+h)*W+w] = at(n, c, h, w) * math.Pow(scale, -beta)
				}
			}
		}
	}
	return out
}

func TestLRNAcrossChannelsKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 2, 3}, 1, 3, 1, 1)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "LRN" lrn_param { local_size: 3 alpha: 3 beta: 1 }`), []*tensor.Blob{x}, top)
	// scale_c = 1 + (3/3) sum over the window of x^2: 6, 15, 14.
	zNear(t, "lrn", top[0].Data, []float64{1.0 / 6, 2.0 / 15, 3.0 / 14}, 1e-7)
}

func TestLRNWithinChannelKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 1, 1, 1, 1, 1, 1, 1, 1}, 1, 1, 3, 3)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "LRN" lrn_param { local_size: 3 alpha: 9 beta: 1 norm_region: WITHIN_CHANNEL }`), []*tensor.Blob{x}, top)
	// (1 + 9/9 * number of ones in the window)^-1; k is not used.
	zNear(t, "lrn", top[0].Data, []float64{0.2, 1.0 / 7, 0.2, 1.0 / 7, 0.1, 1.0 / 7, 0.2, 1.0 / 7, 0.2}, 1e-7)
}

var lrnCases = []string{
	`local_size: 5 alpha: 1 beta: 0.75`,
	`local_size: 3 alpha: 0.5 beta: 0.6 k: 2`,
	`local_size: 15 alpha: 1 beta: 0.75`,
	`local_size: 3 alpha: 1 beta: 0.75 norm_region: WITHIN_CHANNEL`,
	`local_size: 5 alpha: 0.7 beta: 0.5 norm_region: WITHIN_CHANNEL`,
}

func TestLRNMatchesReference(t *testing.T) {
	for _, c := range lrnCases {
		t.Run(c, func(t *testing.T) {
			l := zNew(t, `type: "LRN" lrn_param { `+c+` }`).(*LRN)
			x, top := zGauss(2, 7, 3, 3), zBlobs(1)
			zForward(t, l, []*tensor.Blob{x}, top)
			want := refLRN(x, l.size, float64(l.alpha), float64(l.beta), float64(l.k), l.region != 0)
			zNear(t, "lrn", top[0].Data, want, 1e-6)
		})
	}
}

func TestLRNGradient(t *testing.T) {
	for _, c := range lrnCases {
		t.Run(c, func(t *testing.T) {
			zCheck(t, zNew(t, `type: "LRN" lrn_param { `+c+` }`), []*tensor.Blob{zGauss(2, 7, 3, 3)}, zBlobs(1), 1e-2, nil)
		})
	}
}

// The work is split into spatial blocks; a plane larger than one block
// must give the reference values too.
func TestLRNAcrossChannelsLargePlane(t *testing.T) {
	x, top := zGauss(1, 6, 30, 25), zBlobs(1)
	zForward(t, zNew(t, `type: "LRN" lrn_param { local_size: 5 alpha: 0.001 beta: 0.75 }`), []*tensor.Blob{x}, top)
	zNear(t, "lrn", top[0].Data, refLRN(x, 5, 0.001, 0.75, 1, false), 1e-6)
}

func TestLRNInPlace(t *testing.T) {
	for _, c := range lrnCases[:4] {
		zInPlaceMatches(t, `type: "LRN" lrn_param { `+c+` }`, zGauss(2, 7, 3, 3), zSeq(126, -1, 0.02))
	}
}

func TestLRNErrors(t *testing.T) {
	zWantNewErr(t, `type: "LRN" lrn_param { local_size: 4 }`, "odd")
	zWantErr(t, zNew(t, `type: "LRN"`), []*tensor.Blob{tensor.New(2, 3, 4)}, zBlobs(1), "4 axes")
}
