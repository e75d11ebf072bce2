package data

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
)

// fashionLMDB converts Fashion-MNIST's training set (60,000 28x28 images)
// to an LMDB as `sparknet convert mnist` does.
func fashionLMDB(b *testing.B) string {
	b.Helper()
	images, labels := fashionMNIST(b, "train")
	out := filepath.Join(b.TempDir(), "fmnist_train_lmdb")
	if _, err := ConvertMNIST(context.Background(), images, labels, out, LMDB); err != nil {
		b.Fatal(err)
	}
	return out
}

// BenchmarkLMDBRead measures reading and decoding Datum records from the
// Fashion-MNIST LMDB in key order: records/s.
func BenchmarkLMDBRead(b *testing.B) {
	src, err := OpenDatumSource(LMDB, fashionLMDB(b), Native)
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	r := src.NewReader()
	var ex Example
	n := src.Len()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if err := r.Read(i%n, &ex); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
}

// BenchmarkLMDBLoader measures the whole input pipeline of the LeNet
// example (batches of 64, scale 1/256, prefetch 4) as the solver sees it:
// images/s delivered after the transformation.
func BenchmarkLMDBLoader(b *testing.B) {
	for _, tc := range []struct {
		name string
		p    *pb.TransformationParameter
	}{
		{"scale", &pb.TransformationParameter{Scale: f32(0.00390625)}},
		{"crop-mirror-mean", &pb.TransformationParameter{Scale: f32(0.00390625), CropSize: u32(24), Mirror: bp(true), MeanValue: []float32{33}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			src, err := OpenDatumSource(LMDB, fashionLMDB(b), Native)
			if err != nil {
				b.Fatal(err)
			}
			defer src.Close()
			tr, err := NewTransformer(tc.p, pb.Phase_TRAIN)
			if err != nil {
				b.Fatal(err)
			}
			s, _ := NewShard(src.Len(), 1, 0, Strided)
			l, err := NewLoader(LoaderConfig{Source: src, Transformer: tr, BatchSize: 64, Shard: s, Seed: 1, Prefetch: 4})
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
