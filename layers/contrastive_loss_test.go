package layers

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

// contrastiveRef is Caffe's test reference.
func contrastiveRef(a, b, y []float32, channels int, margin float64, legacy bool) float64 {
	n := len(y)
	var loss float64
	for i := 0; i < n; i++ {
		var d2 float64
		for c := 0; c < channels; c++ {
			d := float64(a[i*channels+c]) - float64(b[i*channels+c])
			d2 += d * d
		}
		switch {
		case y[i] != 0:
			loss += d2
		case legacy:
			loss += math.Max(margin-d2, 0)
		default:
			d := math.Max(margin-math.Sqrt(d2), 0)
			loss += d * d
		}
	}
	return loss / float64(n) / 2
}

func contrastiveInputs() []*tensor.Blob {
	r := rand.New(rand.NewPCG(11, 12))
	a, b := randBlob(r, -0.3, 0.3, 64, 5, 1, 1), randBlob(r, -0.3, 0.3, 64, 5, 1, 1)
	y := tensor.New(64, 1, 1, 1)
	for i := range y.Data {
		y.Data[i] = float32(r.IntN(2))
	}
	return []*tensor.Blob{a, b, y}
}

func TestContrastiveLossKnownValues(t *testing.T) {
	a, b := zBlob([]float32{1, 0, 1, 0}, 2, 2, 1, 1), zBlob([]float32{0, 0, 0, 0}, 2, 2, 1, 1)
	for _, c := range []struct {
		text string
		y    []float32
		loss float64
	}{
		{``, []float32{1, 1}, 0.5},                                     // d^2 = 1 twice, / (2 * 2)
		{`contrastive_loss_param { margin: 2 }`, []float32{0, 0}, 0.5}, // (2 - 1)^2 twice
		{`contrastive_loss_param { margin: 2 legacy_version: true }`, []float32{0, 1}, 0.5},
		{`contrastive_loss_param { margin: 0.5 }`, []float32{0, 0}, 0},
	} {
		top := zBlobs(1)
		zForward(t, zNew(t, `type: "ContrastiveLoss" `+c.text), []*tensor.Blob{a, b, zBlob(c.y, 2, 1, 1, 1)}, top)
		zNear(t, c.text, top[0].Data, []float64{c.loss}, 1e-7)
	}
}

func TestContrastiveLossMatchesReference(t *testing.T) {
	in := contrastiveInputs()
	for _, legacy := range []bool{false, true} {
		text := `type: "ContrastiveLoss" contrastive_loss_param { margin: 0.5 }`
		if legacy {
			text = `type: "ContrastiveLoss" contrastive_loss_param { margin: 0.5 legacy_version: true }`
		}
		top := zBlobs(1)
		zForward(t, zNew(t, text), in, top)
		zNear(t, text, top[0].Data, []float64{contrastiveRef(in[0].Data, in[1].Data, in[2].Data, 5, 0.5, legacy)}, 1e-6)
	}
}

func TestContrastiveLossGradient(t *testing.T) {
	zCheck(t, zNew(t, `type: "ContrastiveLoss" contrastive_loss_param { margin: 0.5 }`), contrastiveInputs(), zBlobs(1), 1e-2, []bool{true, true, false})
	zCheck(t, zNew(t, `type: "ContrastiveLoss" contrastive_loss_param { margin: 0.5 legacy_version: true }`), contrastiveInputs(), zBlobs(1), 1e-2, []bool{true, true, false})
}

func TestContrastiveLossErrors(t *testing.T) {
	l := zNew(t, `type: "ContrastiveLoss"`)
	zWantErr(t, l, []*tensor.Blob{tensor.New(4, 3, 1, 1), tensor.New(4, 2, 1, 1), tensor.New(4, 1, 1, 1)}, zBlobs(1), "same channels")
	zWantErr(t, l, []*tensor.Blob{tensor.New(4, 3, 2, 1), tensor.New(4, 3, 2, 1), tensor.New(4, 1, 1, 1)}, zBlobs(1), "N x C x 1 x 1")
	zWantErr(t, l, []*tensor.Blob{tensor.New(4, 3), tensor.New(4, 3), tensor.New(4, 2)}, zBlobs(1), "N x 1 x 1 x 1")
	if l.(ForceBackwardAllower).AllowForceBackward(2) || !l.(ForceBackwardAllower).AllowForceBackward(1) {
		t.Fatal("ContrastiveLoss back-propagates to both features but not to the labels")
	}
}
