package layers

import (
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
)

func TestInput(t *testing.T) {
	top := blobs(2)
	coreForward(t, coreLayer(t, pb.Phase_TEST, `name: "in" type: "Input" input_param { shape { dim: 2 dim: 3 } shape { dim: 2 } }`), nil, top)
	if !top[0].ShapeEquals(2, 3) || !top[1].ShapeEquals(2) {
		t.Errorf("shapes %v %v, want 2x3 and 2", top[0].Shape(), top[1].Shape())
	}
	l := coreLayer(t, pb.Phase_TEST, `name: "in" type: "Input" input_param { shape { dim: 1 } shape { dim: 2 } }`)
	if err := l.Setup(nil, blobs(3)); err == nil {
		t.Error("2 shapes for 3 tops: want an error")
	}
}

func TestDummyData(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "DummyData" dummy_data_param {
		data_filler { type: "gaussian" std: 1 } data_filler { type: "constant" value: 7 }
		shape { dim: 20 dim: 30 } shape { dim: 20 } }`)
	top := blobs(2)
	coreSetup(t, l, nil, top)
	if !top[0].ShapeEquals(20, 30) || !top[1].ShapeEquals(20) {
		t.Fatalf("shapes %v %v", top[0].Shape(), top[1].Shape())
	}
	first := append([]float32(nil), top[0].Data...)
	l.Forward(nil, top)
	same := 0
	for i, v := range top[0].Data {
		if v == first[i] {
			same++
		}
	}
	if same > 0 {
		t.Errorf("gaussian top not refilled: %d values unchanged", same)
	}
	for _, v := range top[1].Data {
		if v != 7 {
			t.Fatalf("constant top %g, want 7", v)
		}
	}
	// Legacy 4-D fields, one filler for all tops (default constant 0).
	l = coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "DummyData" dummy_data_param { num: 2 channels: 3 height: 4 width: 5 num: 2 channels: 1 height: 1 width: 1 }`)
	coreForward(t, l, nil, top)
	if !top[0].ShapeEquals(2, 3, 4, 5) || !top[1].ShapeEquals(2, 1, 1, 1) {
		t.Errorf("legacy shapes %v %v", top[0].Shape(), top[1].Shape())
	}
	l = coreLayer(t, pb.Phase_TRAIN, `name: "d" type: "DummyData" dummy_data_param { shape { dim: 2 } num: 2 }`)
	if err := l.Setup(nil, blobs(1)); err == nil {
		t.Error("shape and legacy fields: want an error")
	}
}

func TestMemoryData(t *testing.T) {
	l := coreLayer(t, pb.Phase_TRAIN, `name: "m" type: "MemoryData" memory_data_param { batch_size: 2 channels: 1 height: 1 width: 3 }`)
	top := blobs(2)
	coreSetup(t, l, nil, top)
	l.Forward(nil, top)
	if err := l.(Failer).Err(); err == nil {
		t.Error("Forward before Reset: want an error")
	}
	md := l.(*MemoryData)
	data := []float32{0, 1, 2, 10, 11, 12, 20, 21, 22, 30, 31, 32}
	labels := []float32{0, 1, 2, 3}
	if err := md.Reset(data, labels, 3); err == nil {
		t.Error("n not a multiple of the batch: want an error")
	}
	if err := md.Reset(data, labels, 4); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]float64{{0, 1, 2, 10, 11, 12}, {20, 21, 22, 30, 31, 32}, {0, 1, 2, 10, 11, 12}} {
		l.Forward(nil, top)
		if err := l.(Failer).Err(); err != nil {
			t.Fatal(err)
		}
		assertClose(t, "memory data", top[0].Data, want, 0)
		assertClose(t, "memory labels", top[1].Data, []float64{want[0] / 10, want[3] / 10}, 0)
	}
	if !top[0].ShapeEquals(2, 1, 1, 3) || !top[1].ShapeEquals(2) {
		t.Errorf("shapes %v %v", top[0].Shape(), top[1].Shape())
	}
}
