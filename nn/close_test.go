package nn

import (
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
)

// Close stops the prefetch goroutines of a net's data layers (one per
// Data layer) and may be called twice.
func TestNetCloseStopsPrefetch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lmdb")
	w, err := data.CreateDB(data.LMDB, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		d := data.Datum{Channels: 1, Height: 2, Width: 2, Data: []byte{1, 2, 3, byte(i)}, Label: int32(i % 2)}
		if err := w.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	np := parse(t, fmt.Sprintf(`name: "closing"
layer { name: "a" type: "Data" top: "x" top: "y" data_param { source: %[1]q backend: LMDB batch_size: 2 } }
layer { name: "b" type: "Data" top: "x2" top: "y2" data_param { source: %[1]q backend: LMDB batch_size: 2 } }
layer { name: "sil" type: "Silence" bottom: "x" bottom: "y" bottom: "x2" bottom: "y2" }`, path))

	before := runtime.NumGoroutine()
	net, err := New(np, &pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	net.Forward()
	if running := runtime.NumGoroutine(); running < before+2 {
		t.Fatalf("%d goroutines with two prefetching data layers, %d before", running, before)
	}
	if err := net.Close(); err != nil {
		t.Fatal(err)
	}
	if err := net.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines after Close, %d before the net", runtime.NumGoroutine(), before)
		}
	}
}
