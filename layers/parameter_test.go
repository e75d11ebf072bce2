package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestParameter(t *testing.T) {
	top := zBlobs(1)
	l := zNew(t, `type: "Parameter" parameter_param { shape { dim: 2 dim: 3 } }`)
	zForward(t, l, nil, top)
	p := l.Params()
	if len(p) != 1 || !p[0].ShapeEquals(2, 3) || !top[0].ShapeEquals(2, 3) {
		t.Fatalf("param and top must be 2x3")
	}
	p[0].Data[4] = 7
	top[0].Diff[1] = 3
	l.Forward(nil, top)
	if top[0].Data[4] != 7 || p[0].Diff[1] != 3 {
		t.Fatal("top must share the parameter's values and gradient")
	}
	// The net may replace the parameter's buffers (weight sharing); Forward
	// shares the new ones.
	p[0].Data = make([]float32, 6)
	p[0].Data[0] = 9
	l.Forward(nil, top)
	if top[0].Data[0] != 9 {
		t.Fatal("Forward does not re-share replaced parameter values")
	}
	zWantErr(t, zNew(t, `type: "Parameter" parameter_param { shape { dim: 2 } }`), []*tensor.Blob{zGauss(2)}, zBlobs(1), "exactly 0 bottom")
	zWantNewErr(t, `type: "Parameter" parameter_param { shape { dim: -2 } }`, "negative")
}
