// Package threads is the process-wide pool of compute goroutines that the
// BLAS kernels and the layers share. It is persistent: goroutines are started
// once, and a parallel region neither spawns goroutines nor allocates. Idle
// workers poll for a few tens of microseconds before they block, so that the
// regions of a burst (the layers of a net) start without a wake-up delay.
//
// Work is split statically (chunk i of c always covers the same range), so a
// computation that reduces per chunk gives the same bits on every run with the
// same thread count.
package threads

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool runs parallel regions on a fixed set of goroutines. One region runs at
// a time; a region started while another is running (from a nested call or a
// concurrent goroutine) runs serially on its caller, which keeps nested
// parallelism safe and lets several independent callers share the cores.
type Pool struct {
	busy    sync.Mutex
	closed  bool // set by Close under busy: later regions run serially
	n       int
	workers []*worker
	wg      sync.WaitGroup
	pending atomic.Int32 // chunks of the current region not yet done

	fn      func(chunk, lo, hi int)
	fnRange func(lo, hi int)
	total   int
	chunks  int
}

var (
	defaultMu   sync.Mutex
	defaultPool atomic.Pointer[Pool]
)

// spinFor is how long an idle worker, and a caller waiting for the
// workers, polls before blocking. Parallel regions tend to come in bursts
// (the layers of a net, the blocks of a product); a polling worker starts
// the next one in well under a microsecond, a blocked one takes tens.
const spinFor = 50 * time.Microsecond

// A worker is spinning (polling for work), assigned (given a chunk while
// spinning) or parked (blocked on wake).
const (
	workerParked = iota
	workerSpinning
	workerAssigned
)

type worker struct {
	state atomic.Int32
	wake  chan struct{}
}

// NewPool returns a pool with n threads (the caller counts as one).
func NewPool(n int) *Pool {
	if n < 1 {
		n = 1
	}
	p := &Pool{n: n}
	for i := 1; i < n; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		w.state.Store(workerSpinning)
		p.workers = append(p.workers, w)
		go p.loop(i, w)
	}
	return p
}

func (p *Pool) loop(id int, w *worker) {
	for {
		if !w.poll() {
			if _, ok := <-w.wake; !ok {
				return
			}
		}
		p.runChunk(id)
		// Spinning again before the region is reported done, so that
		// the next region's caller finds this worker polling.
		w.state.Store(workerSpinning)
		p.pending.Add(-1)
		p.wg.Done()
	}
}

// poll waits for work by polling for spinFor; it reports whether work was
// assigned, or false once the worker is parked.
func (w *worker) poll() bool {
	// Only a parked worker becomes spinning here: after a chunk the loop
	// already set spinning, and a caller may have assigned the next chunk
	// since; storing unconditionally would lose that assignment (and hang
	// the caller in wg.Wait).
	w.state.CompareAndSwap(workerParked, workerSpinning)
	start := time.Now()
	for i := 1; ; i++ {
		if w.state.Load() == workerAssigned {
			return true
		}
		if i%64 == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	return !w.state.CompareAndSwap(workerSpinning, workerParked)
}

func (p *Pool) runChunk(id int) {
	if id >= p.chunks {
		return
	}
	lo := id * p.total / p.chunks
	hi := (id + 1) * p.total / p.chunks
	if lo < hi {
		if p.fnRange != nil {
			p.fnRange(lo, hi)
		} else {
			p.fn(id, lo, hi)
		}
	}
}

// Close stops the pool's goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	p.busy.Lock()
	p.closed = true
	for _, w := range p.workers {
		close(w.wake)
	}
	p.workers = nil
	p.busy.Unlock()
}

// Threads reports the number of threads of the pool.
func (p *Pool) Threads() int { return p.n }

// Run splits [0, total) into at most maxChunks contiguous chunks (at most one
// per thread) and calls fn(chunk, lo, hi) for each, in parallel, returning when
// all are done. It reports the number of chunks used; chunk indices are
// 0..chunks-1. maxChunks <= 0 means one chunk per thread.
func (p *Pool) Run(total, maxChunks int, fn func(chunk, lo, hi int)) int {
	return p.run(total, maxChunks, fn, nil)
}

// RunRange is Run for a body that does not need its chunk index.
func (p *Pool) RunRange(total, maxChunks int, fn func(lo, hi int)) int {
	return p.run(total, maxChunks, nil, fn)
}

func (p *Pool) run(total, maxChunks int, fn func(chunk, lo, hi int), fnRange func(lo, hi int)) int {
	if total <= 0 {
		return 0
	}
	chunks := p.n
	if maxChunks > 0 && maxChunks < chunks {
		chunks = maxChunks
	}
	if chunks > total {
		chunks = total
	}
	if chunks <= 1 || !p.busy.TryLock() {
		return p.serial(total, fn, fnRange)
	}
	if p.closed {
		// A caller that loaded the pool before SetThreads replaced it.
		p.busy.Unlock()
		return p.serial(total, fn, fnRange)
	}
	p.fn, p.fnRange, p.total, p.chunks = fn, fnRange, total, chunks
	p.wg.Add(chunks - 1)
	p.pending.Store(int32(chunks - 1))
	for _, w := range p.workers[:chunks-1] {
		if !w.state.CompareAndSwap(workerSpinning, workerAssigned) {
			w.wake <- struct{}{} // parked (or about to be)
		}
	}
	p.runChunk(0)
	// Poll for the workers for a while before blocking.
	start := time.Now()
	for i := 1; p.pending.Load() != 0; i++ {
		if i%64 == 0 {
			if time.Since(start) > spinFor {
				break
			}
			runtime.Gosched()
		}
	}
	p.wg.Wait()
	p.fn, p.fnRange = nil, nil
	p.busy.Unlock()
	return chunks
}

func (p *Pool) serial(total int, fn func(chunk, lo, hi int), fnRange func(lo, hi int)) int {
	if fnRange != nil {
		fnRange(0, total)
	} else {
		fn(0, 0, total)
	}
	return 1
}

// Default returns the process-wide pool, sized by SetThreads or, until then,
// by GOMAXPROCS.
func Default() *Pool {
	if p := defaultPool.Load(); p != nil {
		return p
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	if p := defaultPool.Load(); p != nil {
		return p
	}
	p := NewPool(runtime.GOMAXPROCS(0))
	defaultPool.Store(p)
	return p
}

// SetThreads resizes the process-wide pool to n threads (n < 1 means
// GOMAXPROCS). A region running on the old pool finishes first; callers that
// still hold the old pool run their later regions serially.
func SetThreads(n int) {
	if n < 1 {
		n = runtime.GOMAXPROCS(0)
	}
	defaultMu.Lock()
	defer defaultMu.Unlock()
	old := defaultPool.Load()
	if old != nil && old.n == n {
		return
	}
	defaultPool.Store(NewPool(n))
	if old != nil {
		old.Close()
	}
}

// Count reports the number of threads of the process-wide pool.
func Count() int { return Default().Threads() }

// For calls fn(lo, hi) over contiguous chunks of [0, n) on the process-wide
// pool. Each chunk has at least grain elements (grain < 1 means 1), so small
// loops stay on the calling goroutine.
func For(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	p := Default()
	max := n / grain
	if max <= 1 || p.n == 1 {
		fn(0, n)
		return
	}
	p.RunRange(n, max, fn)
}
