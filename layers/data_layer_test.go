package layers

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/tensor"
)

// dataLayer builds a layer from prototxt with a context for shard i of k.
func dataLayer(t *testing.T, phase pb.Phase, k, i int, text string) Layer {
	t.Helper()
	p := &pb.LayerParameter{}
	if err := prototext.Unmarshal([]byte(text), p); err != nil {
		t.Fatalf("parse %q: %v", text, err)
	}
	ctx := NewContext(phase, 99)
	ctx.Shards, ctx.Shard = k, i
	l, err := New(p, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := l.(interface{ Close() error }); ok {
		t.Cleanup(func() { c.Close() })
	}
	return l
}

// datumLMDB writes n Datums of 1 x 2 x 3 whose value j of record i is
// 10*i + j, with label i.
func datumLMDB(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lmdb")
	w, err := data.CreateDB(data.LMDB, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := data.Datum{Channels: 1, Height: 2, Width: 3, Data: make([]byte, 6), Label: int32(i)}
		for j := range d.Data {
			d.Data[j] = byte(10*i + j)
		}
		if err := w.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func forwardLabels(t *testing.T, l Layer, top []*tensor.Blob) []float32 {
	t.Helper()
	l.Forward(nil, top)
	if err := l.(Failer).Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(top[1].Data)
}

func TestDataLayer(t *testing.T) {
	src := datumLMDB(t, 10)
	text := fmt.Sprintf(`name: "d" type: "Data" top: "data" top: "label"
		transform_param { scale: 0.5 }
		data_param { source: %q backend: LMDB batch_size: 4 }`, src)
	l := dataLayer(t, pb.Phase_TRAIN, 1, 0, text)
	top := blobs(2)
	coreSetup(t, l, nil, top)
	if !top[0].ShapeEquals(4, 1, 2, 3) || !top[1].ShapeEquals(4) {
		t.Fatalf("top shapes %v %v, want 4x1x2x3 and 4", top[0].Shape(), top[1].Shape())
	}
	if got := forwardLabels(t, l, top); !slices.Equal(got, []float32{0, 1, 2, 3}) {
		t.Errorf("labels %v", got)
	}
	for i := 0; i < 4; i++ {
		for j := 0; j < 6; j++ {
			if got, want := top[0].Data[i*6+j], float32(10*i+j)*0.5; got != want {
				t.Fatalf("data[%d][%d] = %v, want %v", i, j, got, want)
			}
		}
	}
	// Records wrap around at the end, as in Caffe.
	forwardLabels(t, l, top)
	if got := forwardLabels(t, l, top); !slices.Equal(got, []float32{8, 9, 0, 1}) {
		t.Errorf("third batch labels %v, want 8 9 0 1", got)
	}
	// Steady state allocates nothing (the prefetch goroutine included).
	if a := testing.AllocsPerRun(20, func() { l.Forward(nil, top) }); a > 0 {
		t.Errorf("Forward allocates %v times per call", a)
	}

	// Worker 1 of 3 reads records 1, 4, 7; TEST nets read everything.
	w := dataLayer(t, pb.Phase_TRAIN, 3, 1, text)
	coreSetup(t, w, nil, top)
	if got := forwardLabels(t, w, top); !slices.Equal(got, []float32{1, 4, 7, 1}) {
		t.Errorf("shard 1 of 3: labels %v, want 1 4 7 1", got)
	}
	tl := dataLayer(t, pb.Phase_TEST, 3, 1, text)
	coreSetup(t, tl, nil, top)
	if got := forwardLabels(t, tl, top); !slices.Equal(got, []float32{0, 1, 2, 3}) {
		t.Errorf("TEST net on worker 1 of 3: labels %v, want 0 1 2 3", got)
	}

	// One top: data only.
	one := dataLayer(t, pb.Phase_TRAIN, 1, 0, strings.Replace(text, `top: "label"`, "", 1))
	top1 := blobs(1)
	coreSetup(t, one, nil, top1)
	coreForward(t, one, nil, top1)
	if !top1[0].ShapeEquals(4, 1, 2, 3) {
		t.Errorf("data-only top %v", top1[0].Shape())
	}
}

func TestDataLayerState(t *testing.T) {
	src := datumLMDB(t, 13)
	text := fmt.Sprintf(`name: "d" type: "Data" transform_param { crop_size: 2 mirror: true }
		data_param { source: %q backend: LMDB batch_size: 5 }`, src)
	top := blobs(2)
	a := dataLayer(t, pb.Phase_TRAIN, 1, 0, text)
	coreSetup(t, a, nil, top)
	for range 3 {
		forwardLabels(t, a, top)
	}
	state, err := a.(Stateful).MarshalState()
	if err != nil {
		t.Fatal(err)
	}
	var want [][]float32
	for range 3 {
		forwardLabels(t, a, top)
		want = append(want, slices.Clone(top[0].Data), slices.Clone(top[1].Data))
	}
	b := dataLayer(t, pb.Phase_TRAIN, 1, 0, text)
	coreSetup(t, b, nil, top)
	forwardLabels(t, b, top) // moves on; the restore must override it
	if err := b.(Stateful).UnmarshalState(state); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		forwardLabels(t, b, top)
		if !slices.Equal(top[0].Data, want[2*i]) || !slices.Equal(top[1].Data, want[2*i+1]) {
			t.Fatalf("batch %d after restore differs from the uninterrupted layer's", i)
		}
	}
	// A state saved for 13 records does not restore a layer reading 10.
	c := dataLayer(t, pb.Phase_TRAIN, 1, 0, strings.Replace(text, src, datumLMDB(t, 10), 1))
	coreSetup(t, c, nil, top)
	if err := c.(Stateful).UnmarshalState(state); err == nil || !strings.Contains(err.Error(), "13 records") {
		t.Errorf("restore into other data: err = %v", err)
	}
}

func TestDataLayerErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope_lmdb")
	l := dataLayer(t, pb.Phase_TRAIN, 1, 0, fmt.Sprintf(`name: "d" type: "Data" data_param { source: %q backend: LMDB batch_size: 2 }`, missing))
	if err := l.Setup(nil, blobs(2)); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("missing source: err = %v", err)
	}
	src := datumLMDB(t, 3)
	l = dataLayer(t, pb.Phase_TRAIN, 1, 0, fmt.Sprintf(`name: "d" type: "Data" transform_param { crop_size: 3 } data_param { source: %q backend: LMDB batch_size: 2 }`, src))
	if err := l.Setup(nil, blobs(2)); err == nil || !strings.Contains(err.Error(), "crop_size 3 is larger than the 2x3 image") || !strings.Contains(err.Error(), "00000000") {
		t.Errorf("crop too large: err = %v", err)
	}
	p := &pb.LayerParameter{}
	prototext.Unmarshal([]byte(`name: "d" type: "Data" data_param { backend: LMDB batch_size: 2 }`), p)
	if _, err := New(p, NewContext(pb.Phase_TRAIN, 1)); err == nil || !strings.Contains(err.Error(), "source is empty") {
		t.Errorf("no source: err = %v", err)
	}
	prototext.Unmarshal([]byte(`name: "h" type: "HDF5Data" hdf5_data_param { source: "x.txt" batch_size: 2 }`), p)
	if _, err := New(p, NewContext(pb.Phase_TRAIN, 1)); err == nil || !strings.Contains(err.Error(), "HDF5Data is not supported") {
		t.Errorf("HDF5Data: err = %v", err)
	}
}

func writePNG(t *testing.T, path string, w, h int, v uint8) {
	t.Helper()
	m := image.NewNRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.Set(x, y, color.NRGBA{v, v / 2, 255 - v, 255})
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, m); err != nil {
		t.Fatal(err)
	}
}

func TestImageDataLayer(t *testing.T) {
	dir := t.TempDir()
	var list strings.Builder
	for i := 0; i < 6; i++ {
		name := fmt.Sprintf("img %d.png", i) // a space in the path
		writePNG(t, filepath.Join(dir, name), 4+i, 3, uint8(40*i))
		fmt.Fprintf(&list, "%s %d\n", name, 100+i)
	}
	listPath := filepath.Join(dir, "list.txt")
	os.WriteFile(listPath, []byte(list.String()), 0o644)
	text := fmt.Sprintf(`name: "i" type: "ImageData" top: "data" top: "label"
		image_data_param { source: %q root_folder: "%s/" batch_size: 4 new_height: 2 new_width: 3 shuffle: true }`, listPath, dir)
	l := dataLayer(t, pb.Phase_TRAIN, 1, 0, text)
	top := blobs(2)
	coreSetup(t, l, nil, top)
	if !top[0].ShapeEquals(4, 3, 2, 3) {
		t.Fatalf("top %v, want 4x3x2x3", top[0].Shape())
	}
	var seen []float32
	seen = append(seen, forwardLabels(t, l, top)...)
	// Channel planes are B, G, R: image i is uniform (40i, 20i, 255-40i)
	// in RGB, so the first plane of an example is 255-40i.
	for item := 0; item < 4; item++ {
		i := int(top[1].Data[item]) - 100
		if got := top[0].Data[item*18]; got != float32(255-40*i) {
			t.Errorf("example with label %v: blue = %v, want %v", top[1].Data[item], got, 255-40*i)
		}
	}
	seen = append(seen, forwardLabels(t, l, top)...)
	first := slices.Sorted(slices.Values(seen[:6]))
	if !slices.Equal(first, []float32{100, 101, 102, 103, 104, 105}) {
		t.Errorf("first epoch labels %v: want each image once", seen[:6])
	}
	if slices.IsSorted(seen[:6]) {
		t.Error("shuffle: true gave file order")
	}
	// A broken image is reported with the list line and path.
	os.WriteFile(filepath.Join(dir, "bad.png"), []byte("not a png"), 0o644)
	os.WriteFile(listPath, []byte("img 0.png 1\nbad.png 2\n"), 0o644)
	bad := dataLayer(t, pb.Phase_TRAIN, 1, 0, strings.Replace(text, "shuffle: true", "", 1))
	coreSetup(t, bad, nil, top)
	bad.Forward(nil, top)
	if err := bad.(Failer).Err(); err == nil || !strings.Contains(err.Error(), "list.txt:2") || !strings.Contains(err.Error(), "bad.png") {
		t.Errorf("bad image: err = %v", err)
	}
	os.WriteFile(listPath, []byte("img 0.png x\n"), 0o644)
	if err := dataLayer(t, pb.Phase_TRAIN, 1, 0, text).Setup(nil, blobs(2)); err == nil || !strings.Contains(err.Error(), "list.txt:1") {
		t.Errorf("bad label: err = %v", err)
	}
}
