package threads

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRunCoversRange checks that Run calls fn on disjoint chunks that cover
// [0, total) exactly once, with chunk indices 0..chunks-1, for various
// totals and chunk limits.
func TestRunCoversRange(t *testing.T) {
	p := NewPool(4)
	defer p.Close()
	for _, total := range []int{0, 1, 2, 3, 4, 5, 7, 100, 1001} {
		for _, maxChunks := range []int{0, 1, 2, 3, 4, 9} {
			hits := make([]int32, total)
			var seen [16]int32
			chunks := p.Run(total, maxChunks, func(chunk, lo, hi int) {
				atomic.AddInt32(&seen[chunk], 1)
				for i := lo; i < hi; i++ {
					atomic.AddInt32(&hits[i], 1)
				}
			})
			for i, h := range hits {
				if h != 1 {
					t.Fatalf("total %d, maxChunks %d: element %d covered %d times", total, maxChunks, i, h)
				}
			}
			want := min(4, total)
			if maxChunks > 0 {
				want = min(want, maxChunks)
			}
			if total == 0 {
				want = 0
			}
			if chunks != want {
				t.Fatalf("total %d, maxChunks %d: %d chunks, want %d", total, maxChunks, chunks, want)
			}
			for c := 0; c < chunks; c++ {
				if total > 0 && seen[c] != 1 {
					t.Fatalf("total %d, maxChunks %d: chunk %d ran %d times", total, maxChunks, c, seen[c])
				}
			}
		}
	}
}

// TestRunStaticSplit checks that chunk boundaries depend only on the total
// and the chunk count, which is what makes per-chunk reductions
// reproducible.
func TestRunStaticSplit(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var first [3][2]int
	p.Run(10, 0, func(chunk, lo, hi int) { first[chunk] = [2]int{lo, hi} })
	for r := 0; r < 50; r++ {
		var got [3][2]int
		p.Run(10, 0, func(chunk, lo, hi int) { got[chunk] = [2]int{lo, hi} })
		if got != first {
			t.Fatalf("run %d split %v, first run %v", r, got, first)
		}
	}
	if first != [3][2]int{{0, 3}, {3, 6}, {6, 10}} {
		t.Fatalf("split of 10 in 3: %v", first)
	}
}

// TestNestedRunsSerially checks that a region started inside a region runs
// on its caller instead of deadlocking.
func TestNestedRunsSerially(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var inner atomic.Int32
	p.Run(2, 0, func(_, lo, hi int) {
		n := p.Run(10, 0, func(_, lo, hi int) { inner.Add(int32(hi - lo)) })
		if n != 1 {
			t.Errorf("nested region used %d chunks, want 1", n)
		}
	})
	if inner.Load() != 20 {
		t.Fatalf("nested regions covered %d elements, want 20", inner.Load())
	}
}

// TestConcurrentCallers runs regions from several goroutines at once.
func TestConcurrentCallers(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var wg sync.WaitGroup
	var total atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < 100; r++ {
				p.RunRange(1000, 0, func(lo, hi int) { total.Add(int64(hi - lo)) })
			}
		}()
	}
	wg.Wait()
	if total.Load() != 8*100*1000 {
		t.Fatalf("covered %d elements, want %d", total.Load(), 8*100*1000)
	}
}

func TestForAndSetThreads(t *testing.T) {
	old := Count()
	defer SetThreads(old)
	for _, n := range []int{1, 3, 2} {
		SetThreads(n)
		if Count() != n {
			t.Fatalf("SetThreads(%d): Count() = %d", n, Count())
		}
		var sum atomic.Int64
		var calls atomic.Int32
		For(1000, 100, func(lo, hi int) {
			calls.Add(1)
			for i := lo; i < hi; i++ {
				sum.Add(int64(i))
			}
		})
		if sum.Load() != 999*1000/2 {
			t.Fatalf("%d threads: For summed %d", n, sum.Load())
		}
		if int(calls.Load()) != n {
			t.Fatalf("%d threads: For made %d calls", n, calls.Load())
		}
		calls.Store(0)
		For(50, 100, func(lo, hi int) { calls.Add(1) })
		if calls.Load() != 1 {
			t.Fatalf("%d threads: For below the grain made %d calls, want 1", n, calls.Load())
		}
	}
}

// TestRunAllocatesNothing checks that a parallel region allocates nothing.
func TestRunAllocatesNothing(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	var sink [2]int
	fn := func(chunk, lo, hi int) { sink[chunk] = hi - lo }
	if a := testing.AllocsPerRun(100, func() { p.Run(100, 0, fn) }); a != 0 {
		t.Fatalf("Run allocates %v times per call", a)
	}
}

// TestWakeups runs regions separated by pauses shorter and longer than the
// workers' polling time, so that workers are found both polling and
// parked; every region must complete with every chunk run once.
func TestWakeups(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	pauses := []time.Duration{0, time.Microsecond, 20 * time.Microsecond, 2 * spinFor, 5 * spinFor}
	for r := 0; r < 300; r++ {
		var ran [3]atomic.Int32
		p.Run(3, 0, func(chunk, lo, hi int) { ran[chunk].Add(1) })
		for c := range ran {
			if ran[c].Load() != 1 {
				t.Fatalf("region %d: chunk %d ran %d times", r, c, ran[c].Load())
			}
		}
		if d := pauses[r%len(pauses)]; d > 0 {
			time.Sleep(d)
		}
	}
}

// A pool closed by SetThreads while a caller still holds it runs that
// caller's regions serially instead of failing.
func TestClosedPoolRunsSerially(t *testing.T) {
	p := NewPool(3)
	p.Close()
	var sum int
	if got := p.Run(100, 0, func(_, lo, hi int) { sum += hi - lo }); got != 1 || sum != 100 {
		t.Fatalf("closed pool: %d chunks, covered %d, want 1 and 100", got, sum)
	}
}
