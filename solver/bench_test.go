package solver

import (
	"context"
	"testing"
)

// BenchmarkApplyUpdate times one SGD update of LeNet's 431k parameters.
func BenchmarkApplyUpdate(b *testing.B) {
	setSeqSource(b, "train", randomSource(64, []int{1, 28, 28}, 10, 1))
	setSeqSource(b, "test", randomSource(100, []int{1, 28, 28}, 10, 2))
	s, err := New(lenetSolver(b, b.TempDir()), Options{NoTestNets: true})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.ApplyUpdate()
	}
}

// BenchmarkLeNetStep times one full LeNet training iteration (batch 64:
// forward, backward and update) on in-memory data.
func BenchmarkLeNetStep(b *testing.B) {
	setSeqSource(b, "train", randomSource(640, []int{1, 28, 28}, 10, 1))
	setSeqSource(b, "test", randomSource(100, []int{1, 28, 28}, 10, 2))
	s, err := New(lenetSolver(b, b.TempDir()), Options{NoTestNets: true})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Step(ctx, 2); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if err := s.Step(ctx, b.N); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N*64)/b.Elapsed().Seconds(), "img/s")
}
