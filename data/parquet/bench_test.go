package parquet_test

import (
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/data/parquet"
)

func f32(v float32) *float32 { return &v }
func u32(v uint32) *uint32   { return &v }
func bp(v bool) *bool        { return &v }

// openBoth opens Fashion-MNIST's 60,000 training images as an LMDB (as
// convert_mnist_data writes it) and as Parquet (as `sparknet convert
// parquet` writes it from that LMDB: snappy, row groups of 1024 rows, part
// files of 16384).
func openBoth(b *testing.B) map[string]data.Source {
	b.Helper()
	f := fashionSubset(b, "train", 60000, parquet.DefaultRowGroupRows, parquet.DefaultFileRows, false)
	lm, err := data.OpenDatumSource(data.LMDB, f.lmdb, data.Native)
	if err != nil {
		b.Fatal(err)
	}
	pq, err := parquet.Open(f.parquet, parquet.Options{LabelColumn: "label"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { lm.Close(); pq.Close() })
	return map[string]data.Source{"lmdb": lm, "parquet": pq}
}

// BenchmarkReader measures a source's reader alone: records/s read and
// decoded into examples, in order (what one loader goroutine does before
// the transformation).
func BenchmarkReader(b *testing.B) {
	srcs := openBoth(b)
	for _, name := range []string{"lmdb", "parquet"} {
		src := srcs[name]
		b.Run(name, func(b *testing.B) {
			r := src.NewReader()
			defer r.Close()
			var ex data.Example
			n := src.Len()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := r.Read(i%n, &ex); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "images/s")
		})
	}
}

// BenchmarkLoader measures the input pipeline of the LeNet example as the
// solver sees it: batches of 64 read, decoded and transformed by a
// data.Loader (prefetch 4), in images/s.
func BenchmarkLoader(b *testing.B) {
	srcs := openBoth(b)
	for _, tc := range []struct {
		name string
		p    *pb.TransformationParameter
	}{
		{"scale", &pb.TransformationParameter{Scale: f32(0.00390625)}},
		{"crop-mirror-mean", &pb.TransformationParameter{Scale: f32(0.00390625), CropSize: u32(24), Mirror: bp(true), MeanValue: []float32{33}}},
	} {
		for _, name := range []string{"lmdb", "parquet"} {
			src := srcs[name]
			b.Run(name+"/"+tc.name, func(b *testing.B) {
				tr, err := data.NewTransformer(tc.p, pb.Phase_TRAIN)
				if err != nil {
					b.Fatal(err)
				}
				s, _ := data.NewShard(src.Len(), 1, 0, data.Strided)
				if bs, ok := src.(data.BlockSource); ok {
					s, _ = data.NewBlockShard(bs.Blocks(), src.Len(), 1, 0)
				}
				l, err := data.NewLoader(data.LoaderConfig{Source: src, Transformer: tr, BatchSize: 64, Shard: s, Seed: 1, Prefetch: 4})
				if err != nil {
					b.Fatal(err)
				}
				defer l.Close()
				b.ResetTimer()
				start := time.Now()
				for i := 0; i < b.N; i++ {
					batch, err := l.Next()
					if err != nil {
						b.Fatal(err)
					}
					l.Release(batch)
				}
				b.ReportMetric(float64(b.N*64)/time.Since(start).Seconds(), "images/s")
			})
		}
	}
}
