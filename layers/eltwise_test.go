package layers

import (
	"math/rand/v2"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func eltwiseInputs() []*tensor.Blob {
	return []*tensor.Blob{
		randBlob(rand.New(rand.NewPCG(1, 1)), -1, 1, 2, 3, 4, 5),
		randBlob(rand.New(rand.NewPCG(2, 2)), -1, 1, 2, 3, 4, 5),
		randBlob(rand.New(rand.NewPCG(3, 3)), -1, 1, 2, 3, 4, 5),
	}
}

func TestEltwiseForward(t *testing.T) {
	in := eltwiseInputs()
	a, b, c := in[0].Data, in[1].Data, in[2].Data
	for _, tc := range []struct {
		text string
		f    func(i int) float64
	}{
		{`operation: PROD`, func(i int) float64 { return float64(a[i] * b[i] * c[i]) }},
		{`operation: SUM`, func(i int) float64 { return float64(a[i]) + float64(b[i]) + float64(c[i]) }},
		{`coeff: 1 coeff: -0.5 coeff: 2`, func(i int) float64 { return float64(a[i]) - 0.5*float64(b[i]) + 2*float64(c[i]) }},
		{`operation: MAX`, func(i int) float64 { return float64(max(a[i], b[i], c[i])) }},
	} {
		t.Run(tc.text, func(t *testing.T) {
			top := zBlobs(1)
			zForward(t, zNew(t, `type: "Eltwise" eltwise_param { `+tc.text+` }`), in, top)
			want := make([]float64, len(a))
			for i := range want {
				want[i] = tc.f(i)
			}
			zNear(t, tc.text, top[0].Data, want, 1e-6)
		})
	}
}

func TestEltwiseGradient(t *testing.T) {
	for _, text := range []string{
		`operation: PROD`,
		`operation: PROD stable_prod_grad: false`,
		`operation: SUM`,
		`coeff: 1 coeff: -0.5 coeff: 2`,
		`operation: MAX`,
	} {
		t.Run(text, func(t *testing.T) {
			g := newGradChecker()
			g.threshold = 1e-3
			if text == `operation: MAX` {
				g.step = 1e-4 // the maxima of the random inputs are at least this far apart
			}
			g.check(t, zNew(t, `type: "Eltwise" eltwise_param { `+text+` }`), eltwiseInputs(), zBlobs(1), nil)
		})
	}
}

// MAX routes each gradient to one bottom: ties between the first two go to
// the second, later ties to the earlier bottom.
func TestEltwiseMaxTies(t *testing.T) {
	a, b, c := zBlob([]float32{1, 2, 5}, 3), zBlob([]float32{1, 3, 5}, 3), zBlob([]float32{0, 3, 5}, 3)
	top := zBlobs(1)
	l := zNew(t, `type: "Eltwise" eltwise_param { operation: MAX }`)
	zForward(t, l, []*tensor.Blob{a, b, c}, top)
	copy(top[0].Diff, []float32{1, 2, 3})
	l.Backward(top, []bool{true, true, true}, []*tensor.Blob{a, b, c})
	zNear(t, "a", a.Diff, []float64{0, 0, 0}, 0)
	zNear(t, "b", b.Diff, []float64{1, 2, 3}, 0)
	zNear(t, "c", c.Diff, []float64{0, 0, 0}, 0)
}

// The stable product gradient handles zeros that top / x cannot.
func TestEltwiseStableProdWithZero(t *testing.T) {
	a, b := zBlob([]float32{0, 2}, 2), zBlob([]float32{3, 4}, 2)
	top := zBlobs(1)
	l := zNew(t, `type: "Eltwise" eltwise_param { operation: PROD }`)
	zForward(t, l, []*tensor.Blob{a, b}, top)
	copy(top[0].Diff, []float32{1, 1})
	l.Backward(top, []bool{true, true}, []*tensor.Blob{a, b})
	zNear(t, "da", a.Diff, []float64{3, 4}, 0)
	zNear(t, "db", b.Diff, []float64{0, 2}, 0)
}

func TestEltwiseErrors(t *testing.T) {
	zWantNewErr(t, `type: "Eltwise" eltwise_param { operation: PROD coeff: 1 coeff: 2 }`, "only takes coefficients for summation")
	zWantErr(t, zNew(t, `type: "Eltwise" eltwise_param { coeff: 1 }`), eltwiseInputs()[:2], zBlobs(1), "one coefficient per bottom")
	zWantErr(t, zNew(t, `type: "Eltwise"`), []*tensor.Blob{tensor.New(2, 3), tensor.New(3, 2)}, zBlobs(1), "same shape")
	zWantErr(t, zNew(t, `type: "Eltwise"`), []*tensor.Blob{tensor.New(2, 3)}, zBlobs(1), "at least 2 bottom")
}
