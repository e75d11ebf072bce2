package caffe

import (
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
)

// writeSyntheticModel writes a .caffemodel of about mb megabytes shaped like
// CaffeNet's classifier (a few huge InnerProduct blobs) and returns its path
// and size.
func writeSyntheticModel(b *testing.B, mb int) (string, int64) {
	b.Helper()
	floats := mb << 20 / 4
	var layers []*pb.LayerParameter
	for i, frac := range []int{6, 3, 1} { // fc6-, fc7-, fc8-like shares
		n := floats * frac / 10 / 1000 * 1000
		w := make([]float32, n)
		for j := range w {
			w[j] = float32(j%1000) * 1e-3
		}
		layers = append(layers, &pb.LayerParameter{
			Name: proto.String("fc" + string(rune('6'+i))), Type: proto.String("InnerProduct"),
			Blobs: []*pb.BlobProto{{Shape: &pb.BlobShape{Dim: []int64{int64(n / 1000), 1000}}, Data: w}},
		})
	}
	path := filepath.Join(b.TempDir(), "synthetic.caffemodel")
	if err := WriteBinary(path, &pb.NetParameter{Name: proto.String("synthetic"), Layer: layers}); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	return path, st.Size()
}

// benchLoad loads a 200 MB model with load and reports, relative to the
// file size, the bytes allocated per load and the peak live heap seen while
// loading (sampled every 100µs; 1.0 = the weights held once).
func benchLoad(b *testing.B, load func(path string) (*pb.NetParameter, error)) {
	path, size := writeSyntheticModel(b, 200)
	b.SetBytes(size)
	b.ReportAllocs()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
		}
	}()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	base := before.HeapAlloc
	peak.Store(0)
	b.ResetTimer()
	for range b.N {
		net, err := load(path)
		if err != nil {
			b.Fatal(err)
		}
		if len(net.Layer) != 3 {
			b.Fatal("wrong net")
		}
		net = nil
		runtime.GC() // so each load starts from the same heap
	}
	b.StopTimer()
	close(stop)
	<-done
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(size), "alloc/filesize")
	b.ReportMetric(float64(peak.Load()-min(peak.Load(), base))/float64(size), "peakheap/filesize")
}

// BenchmarkLoadWeights200MB measures LoadWeights, which streams the file.
//
//	go test -run '^$' -bench LoadWeights200MB -benchtime 5x ./caffe
func BenchmarkLoadWeights200MB(b *testing.B) { benchLoad(b, LoadWeights) }

// BenchmarkReadFileUnmarshal200MB is the simple alternative for comparison:
// os.ReadFile then proto.Unmarshal, which holds the weights twice.
func BenchmarkReadFileUnmarshal200MB(b *testing.B) {
	benchLoad(b, func(path string) (*pb.NetParameter, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		net := &pb.NetParameter{}
		return net, proto.Unmarshal(data, net)
	})
}
