package layers

import (
	"errors"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/tensor"
)

// infogainRef returns the summed infogain loss of logits x (outer x K x
// inner) and the count of non-ignored labels.
func infogainRef(x, labels, h []float32, outer, K, inner int, ignore *int) (float64, int) {
	var loss float64
	n := 0
	for i := 0; i < outer; i++ {
		for j := 0; j < inner; j++ {
			y := int(labels[i*inner+j])
			if ignore != nil && y == *ignore {
				continue
			}
			mx := math.Inf(-1)
			for k := 0; k < K; k++ {
				mx = math.Max(mx, float64(x[(i*K+k)*inner+j]))
			}
			var s float64
			for k := 0; k < K; k++ {
				s += math.Exp(float64(x[(i*K+k)*inner+j]) - mx)
			}
			for k := 0; k < K; k++ {
				p := math.Exp(float64(x[(i*K+k)*inner+j])-mx) / s
				loss -= float64(h[y*K+k]) * math.Log(math.Max(p, 1e-20))
			}
			n++
		}
	}
	return loss, n
}

func infogainInputs() (x, labels, h *tensor.Blob) {
	x = zGauss(10, 5, 2, 3)
	labels = tensor.New(10, 1, 2, 3)
	for i := range labels.Data {
		labels.Data[i] = float32((i * 7) % 5)
	}
	h = randBlob(zRand(), 0, 1, 1, 1, 5, 5)
	return x, labels, h
}

func TestInfogainLossIdentityIsCrossEntropy(t *testing.T) {
	x, lab := zBlob([]float32{0, 0, math.Ln2, 0}, 2, 2), zBlob([]float32{1, 0}, 2)
	h := zBlob([]float32{1, 0, 0, 1}, 2, 2)
	top := zBlobs(2)
	l := zNew(t, `type: "InfogainLoss"`)
	zForward(t, l, []*tensor.Blob{x, lab, h}, top)
	// p = (0.5, 0.5) and (2/3, 1/3): -(ln 0.5 + ln 2/3) / 2 valid labels.
	zNear(t, "loss", top[0].Data[:1], []float64{-(math.Log(0.5) + math.Log(2.0/3)) / 2}, 1e-6)
	zNear(t, "probabilities", top[1].Data, []float64{0.5, 0.5, 2.0 / 3, 1.0 / 3}, 1e-6)
	top[0].Diff[0] = 1
	l.Backward(top, []bool{true, false, false}, []*tensor.Blob{x, lab, h})
	// (p - onehot) / 2 with identity H.
	zNear(t, "gradient", x.Diff, []float64{0.25, -0.25, (2.0/3 - 1) / 2, (1.0 / 3) / 2}, 1e-6)
}

func TestInfogainLossNormalizationAndIgnore(t *testing.T) {
	x, lab, h := infogainInputs()
	ignore := 3
	for _, c := range []struct {
		text   string
		ignore *int
		norm   func(valid int) float64
	}{
		{``, nil, func(v int) float64 { return float64(v) }},
		{`loss_param { normalization: FULL }`, nil, func(int) float64 { return 60 }},
		{`loss_param { normalization: BATCH_SIZE }`, nil, func(int) float64 { return 10 }},
		{`loss_param { normalization: NONE }`, nil, func(int) float64 { return 1 }},
		{`loss_param { ignore_label: 3 }`, &ignore, func(v int) float64 { return float64(v) }},
		{`loss_param { ignore_label: 3 normalization: FULL }`, &ignore, func(int) float64 { return 60 }},
	} {
		t.Run(c.text, func(t *testing.T) {
			top := zBlobs(1)
			zForward(t, zNew(t, `type: "InfogainLoss" `+c.text), []*tensor.Blob{x, lab, h}, top)
			sum, n := infogainRef(x.Data, lab.Data, h.Data, 10, 5, 6, c.ignore)
			zNear(t, "loss", top[0].Data, []float64{sum / c.norm(n)}, 1e-5)
		})
	}
}

func TestInfogainLossGradient(t *testing.T) {
	x, lab, h := infogainInputs()
	zCheck(t, zNew(t, `type: "InfogainLoss"`), []*tensor.Blob{x, lab, h}, zBlobs(1), 1e-2, []bool{true, false, false})
	zCheck(t, zNew(t, `type: "InfogainLoss" loss_param { ignore_label: 3 normalization: BATCH_SIZE }`), []*tensor.Blob{x, lab, h}, zBlobs(1), 1e-2, []bool{true, false, false})
	// Softmax over the last axis.
	x2, lab2 := zGauss(4, 3, 5), tensor.New(4, 3)
	for i := range lab2.Data {
		lab2.Data[i] = float32(i % 5)
	}
	zCheck(t, zNew(t, `type: "InfogainLoss" infogain_loss_param { axis: -1 }`), []*tensor.Blob{x2, lab2, h}, zBlobs(1), 1e-2, []bool{true, false, false})
}

func TestInfogainLossMatrixFromSource(t *testing.T) {
	x, lab, h := infogainInputs()
	path := filepath.Join(t.TempDir(), "H.binaryproto")
	if err := caffe.WriteBinary(path, caffe.BlobToProto(h, false)); err != nil {
		t.Fatal(err)
	}
	withBottom, fromFile := zBlobs(1), zBlobs(1)
	zForward(t, zNew(t, `type: "InfogainLoss"`), []*tensor.Blob{x, lab, h}, withBottom)
	l := zNew(t, `type: "InfogainLoss" infogain_loss_param { source: "`+path+`" }`)
	zForward(t, l, []*tensor.Blob{x, lab}, fromFile)
	zNear(t, "loss from source", fromFile[0].Data, f64of(withBottom[0].Data), 0)
	zCheck(t, zNew(t, `type: "InfogainLoss" infogain_loss_param { source: "`+path+`" }`), []*tensor.Blob{x, lab}, zBlobs(1), 1e-2, []bool{true, false})
}

func TestInfogainLossErrors(t *testing.T) {
	x, lab, h := infogainInputs()
	zWantErr(t, zNew(t, `type: "InfogainLoss"`), []*tensor.Blob{x, lab}, zBlobs(1), "source must be specified")
	zWantErr(t, zNew(t, `type: "InfogainLoss" infogain_loss_param { source: "/nonexistent/H.binaryproto" }`), []*tensor.Blob{x, lab}, zBlobs(1), "H.binaryproto")
	zWantErr(t, zNew(t, `type: "InfogainLoss"`), []*tensor.Blob{x, lab, tensor.New(4, 4)}, zBlobs(1), "5x5")
	zWantErr(t, zNew(t, `type: "InfogainLoss"`), []*tensor.Blob{x, tensor.New(10, 5), h}, zBlobs(1), "number of labels")
	zWantErr(t, zNew(t, `type: "InfogainLoss" infogain_loss_param { axis: 4 }`), []*tensor.Blob{x, lab, h}, zBlobs(1), "axis")
	zWantNewErr(t, `type: "InfogainLoss" loss_param { normalize: true }`, "deprecated")

	lab.Data[4] = 7
	l := zNew(t, `type: "InfogainLoss"`)
	zForward(t, l, []*tensor.Blob{x, lab, h}, zBlobs(1))
	if err := l.(interface{ Err() error }).Err(); !errors.Is(err, errBadIndex) || !strings.Contains(err.Error(), "position 4") {
		t.Fatalf("Err() = %v, want the out-of-range label at position 4", err)
	}
}
