package nn

import (
	"path/filepath"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

// benchNet times forward+backward (a training iteration without the
// solver update) of one of the shared benchmark nets, as `caffe time` does.
func benchNet(b *testing.B, file string) {
	np, err := caffe.LoadNet(filepath.Join("../bench/prototxt", file))
	if err != nil {
		b.Fatal(err)
	}
	n, err := New(np, &pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, Options{Seed: 1})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := n.ForwardBackward(); err != nil {
		b.Fatal(err)
	}
	batch := n.Blob("data").Num()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.ForwardBackward(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	sec := b.Elapsed().Seconds() / float64(b.N)
	b.ReportMetric(sec*1e3, "ms/iter")
	b.ReportMetric(float64(batch)/sec, "img/s")
}

func BenchmarkLeNetB64(b *testing.B)         { benchNet(b, "lenet_b64_time.prototxt") }
func BenchmarkCifar10QuickB100(b *testing.B) { benchNet(b, "cifar10_quick_b100_time.prototxt") }
func BenchmarkCaffeNetB8(b *testing.B)       { benchNet(b, "caffenet_b8_time.prototxt") }
