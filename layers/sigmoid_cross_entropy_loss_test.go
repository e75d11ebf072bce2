package layers

import (
	"math"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// sceRef is the sigmoid cross-entropy summed over non-ignored targets, and
// the count of those.
func sceRef(x, tgt []float32, ignore *int) (float64, int) {
	var loss float64
	n := 0
	for i, v := range x {
		if ignore != nil && int(tgt[i]) == *ignore {
			continue
		}
		p := 1 / (1 + math.Exp(-float64(v)))
		loss -= float64(tgt[i])*math.Log(p) + (1-float64(tgt[i]))*math.Log(1-p)
		n++
	}
	return loss, n
}

func sceInputs() (*tensor.Blob, *tensor.Blob) {
	return zGauss(10, 5, 2), randBlob(zRand(), 0, 1, 10, 5, 2)
}

func TestSigmoidCrossEntropyLossKnownValues(t *testing.T) {
	x, tgt := zBlob([]float32{0, 0, 2, -2}, 2, 2), zBlob([]float32{1, 0, 1, 1}, 2, 2)
	top := zBlobs(1)
	l := zNew(t, `type: "SigmoidCrossEntropyLoss"`)
	zForward(t, l, []*tensor.Blob{x, tgt}, top)
	want := (2*math.Ln2 + math.Log1p(math.Exp(-2)) + math.Log1p(math.Exp(2))) / 2 // BATCH_SIZE: N = 2
	zNear(t, "loss", top[0].Data, []float64{want}, 1e-6)
	top[0].Diff[0] = 1
	l.Backward(top, []bool{true, false}, []*tensor.Blob{x, tgt})
	s := 1 / (1 + math.Exp(-2))
	zNear(t, "gradient", x.Diff, []float64{-0.25, 0.25, (s - 1) / 2, (1 - s - 1) / 2}, 1e-6)
}

func TestSigmoidCrossEntropyLossNormalization(t *testing.T) {
	x, tgt := sceInputs()
	sum, n := sceRef(x.Data, tgt.Data, nil)
	for _, c := range []struct {
		text string
		norm float64
	}{
		{``, 10},
		{`loss_param { normalization: BATCH_SIZE }`, 10},
		{`loss_param { normalization: FULL }`, 100},
		{`loss_param { normalization: VALID }`, float64(n)},
		{`loss_param { normalization: NONE }`, 1},
		{`loss_param { normalize: true }`, float64(n)},
		{`loss_param { normalize: false }`, 10},
	} {
		t.Run(c.text, func(t *testing.T) {
			top := zBlobs(1)
			zForward(t, zNew(t, `type: "SigmoidCrossEntropyLoss" `+c.text), []*tensor.Blob{x, tgt}, top)
			zNear(t, "loss", top[0].Data, []float64{sum / c.norm}, 1e-5)
		})
	}
}

func TestSigmoidCrossEntropyLossIgnoreLabel(t *testing.T) {
	x, tgt := sceInputs()
	for i := 0; i < 50; i++ {
		tgt.Data[i] = -1
	}
	ignore := -1
	sum, n := sceRef(x.Data, tgt.Data, &ignore)
	if n != 50 {
		t.Fatalf("reference counted %d valid targets, want 50", n)
	}
	top := zBlobs(1)
	l := zNew(t, `type: "SigmoidCrossEntropyLoss" loss_param { ignore_label: -1 normalization: VALID }`)
	zForward(t, l, []*tensor.Blob{x, tgt}, top)
	zNear(t, "loss", top[0].Data, []float64{sum / 50}, 1e-5)
	top[0].Diff[0] = 2
	l.Backward(top, []bool{true, false}, []*tensor.Blob{x, tgt})
	for i := 0; i < 100; i++ {
		p := 1 / (1 + math.Exp(-float64(x.Data[i])))
		want := 2 * (p - float64(tgt.Data[i])) / 50
		if i < 50 {
			want = 0
		}
		if math.Abs(float64(x.Diff[i])-want) > 1e-6 {
			t.Fatalf("gradient[%d] = %g, want %g", i, x.Diff[i], want)
		}
	}
}

func TestSigmoidCrossEntropyLossGradient(t *testing.T) {
	x, tgt := sceInputs()
	zCheck(t, zNew(t, `type: "SigmoidCrossEntropyLoss"`), []*tensor.Blob{x, tgt}, zBlobs(1), 1e-2, []bool{true, false})
	for i := 0; i < 30; i++ {
		tgt.Data[i] = -1
	}
	zCheck(t, zNew(t, `type: "SigmoidCrossEntropyLoss" loss_param { ignore_label: -1 }`), []*tensor.Blob{x, tgt}, zBlobs(1), 1e-2, []bool{true, false})
}

// Large logits must not overflow.
func TestSigmoidCrossEntropyLossStable(t *testing.T) {
	x, tgt := zBlob([]float32{100, -100}, 2, 1), zBlob([]float32{0, 1}, 2, 1)
	top := zBlobs(1)
	zForward(t, zNew(t, `type: "SigmoidCrossEntropyLoss" loss_param { normalization: NONE }`), []*tensor.Blob{x, tgt}, top)
	zNear(t, "loss", top[0].Data, []float64{200}, 1e-6)
}

func TestSigmoidCrossEntropyLossErrors(t *testing.T) {
	zWantErr(t, zNew(t, `type: "SigmoidCrossEntropyLoss"`), []*tensor.Blob{tensor.New(2, 3), tensor.New(2, 4)}, zBlobs(1), "same count")
	zWantErr(t, zNew(t, `type: "SigmoidCrossEntropyLoss"`), []*tensor.Blob{tensor.New(2, 3), tensor.New(3, 2)}, zBlobs(1), "first dimension")
	l := zNew(t, `type: "SigmoidCrossEntropyLoss"`)
	if !l.(Loss).IsLoss() || l.(ForceBackwardAllower).AllowForceBackward(1) || !l.(ForceBackwardAllower).AllowForceBackward(0) {
		t.Fatal("must be a loss that back-propagates to the logits only")
	}
}
