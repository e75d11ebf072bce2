package layers

import (
	"testing"

	"github.com/sparknet/sparknet/tensor"
)

func TestTileKnownValues(t *testing.T) {
	x := zBlob([]float32{1, 2, 3, 4}, 2, 2)
	top := zBlobs(1)
	l := zNew(t, `type: "Tile" tile_param { tiles: 3 }`)
	zForward(t, l, []*tensor.Blob{x}, top)
	if !top[0].ShapeEquals(2, 6) {
		t.Fatalf("shape %s, want 2x6", top[0].ShapeString())
	}
	zNear(t, "tile", top[0].Data, []float64{1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4}, 0)
	copy(top[0].Diff, zSeq(12, 1, 1))
	l.Backward(top, []bool{true}, []*tensor.Blob{x})
	zNear(t, "gradient", x.Diff, []float64{1 + 3 + 5, 2 + 4 + 6, 7 + 9 + 11, 8 + 10 + 12}, 0)
}

func TestTileAxes(t *testing.T) {
	x := zGauss(2, 3, 4)
	for _, c := range []struct {
		text  string
		shape []int
	}{
		{`axis: 0 tiles: 2`, []int{4, 3, 4}},
		{`tiles: 2`, []int{2, 6, 4}},
		{`axis: -1 tiles: 3`, []int{2, 3, 12}},
	} {
		top := zBlobs(1)
		l := zNew(t, `type: "Tile" tile_param { `+c.text+` }`)
		zForward(t, l, []*tensor.Blob{x}, top)
		if !top[0].ShapeEquals(c.shape...) {
			t.Fatalf("%s: shape %s, want %v", c.text, top[0].ShapeString(), c.shape)
		}
		zCheck(t, zNew(t, `type: "Tile" tile_param { `+c.text+` }`), []*tensor.Blob{x}, zBlobs(1), 1e-3, nil)
	}
}

func TestTileErrors(t *testing.T) {
	zWantNewErr(t, `type: "Tile"`, "must be specified")
	zWantNewErr(t, `type: "Tile" tile_param { tiles: 0 }`, "positive")
	zWantErr(t, zNew(t, `type: "Tile" tile_param { tiles: 2 axis: 3 }`), []*tensor.Blob{zGauss(2, 3, 4)}, zBlobs(1), "axis")
}
