// Package local runs the rounds of the SparkNet scheme in one process: each
// worker is a parallel.Worker (its own net replica, solver history and data
// partition) driven by a goroutine, and results are combined from the
// workers' own memory without serialization.
//
// Threads: the compute kernels share one process-wide pool (package
// internal/threads), in which one parallel region runs at a time and a
// region started meanwhile runs serially on its caller. With N threads and
// K workers, at most P = min(K, N) workers run at once and the pool gets
// N - P + 1 threads, so at most N threads compute: with K >= N every worker
// is single-threaded, with K = 1 the worker has all N. The kernels give the
// same bits for any thread count, so the assignment never changes results.
package local

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/parallel"
)

// Options configures the local engine.
type Options struct {
	// Threads is N, the compute threads the workers share (0: GOMAXPROCS).
	Threads int
	// Sequential runs the workers one after another, each with all N
	// threads, instead of concurrently: each worker's compute time is then
	// its own, as on a machine of its own (the scaling study's virtual
	// clock).
	Sequential bool
}

// Engine is the local engine. Create it with New.
type Engine struct {
	opt     Options
	job     parallel.Job
	workers []*parallel.Worker
	names   []string
	threads int // N
	conc    int // workers running at once
	pool    int // the pool's size while they run
	prevThr int
	started bool
}

// New returns a local engine.
func New(opt Options) *Engine { return &Engine{opt: opt} }

var _ parallel.Engine = (*Engine)(nil)

// Start builds the K workers and sizes the thread pool.
func (e *Engine) Start(ctx context.Context, job parallel.Job) error {
	if e.started {
		return errors.New("local engine: started twice")
	}
	n := e.opt.Threads
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	k := job.Partitions
	e.job = job
	for i := 0; i < k; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		w, err := parallel.NewWorker(parallel.WorkerConfig{
			Solver: job.Solver, SolverDir: job.SolverDir, Seed: job.Seed,
			Partition: i, Partitions: k,
		})
		if err != nil {
			return err
		}
		if !w.Layout().SameShape(job.Layout) {
			return fmt.Errorf("local engine: worker %d's model has %d parameters in %d blobs, the driver's %d in %d",
				i, w.Layout().Len(), w.Layout().Blobs(), job.Layout.Len(), job.Layout.Blobs())
		}
		e.workers = append(e.workers, w)
		e.names = append(e.names, fmt.Sprintf("local/%d", i))
	}
	e.threads = n
	e.conc = min(k, n)
	e.pool = n - e.conc + 1
	if e.opt.Sequential {
		e.conc, e.pool = 1, n
	}
	e.prevThr = threads.Count()
	threads.SetThreads(n)
	e.started = true
	return nil
}

// workersRun sizes the pool for the workers; driverRuns gives it back all N
// threads for the driver's combine, tests and snapshots.
func (e *Engine) workersRun() { threads.SetThreads(e.pool) }
func (e *Engine) driverRuns() { threads.SetThreads(e.threads) }

// Workers returns the engine's workers (after Start), by partition.
func (e *Engine) Workers() []*parallel.Worker { return e.workers }

// Round runs every worker's round concurrently (at most min(K, N) at once)
// and adds the results to comb without copying them. At the deadline
// (ctx done) it stops waiting: workers still running are cancelled, left
// out of the round, and waited for before Round returns (they stop between
// two iterations), so the next round finds every worker idle.
func (e *Engine) Round(ctx context.Context, spec parallel.RoundSpec, g parallel.Global, comb *parallel.Combiner) ([]parallel.Outcome, error) {
	if !e.started {
		return nil, errors.New("local engine: Round before Start")
	}
	e.workersRun()
	defer e.driverRuns()
	k := len(e.workers)
	outs := make([]parallel.Outcome, k)
	for i := range outs {
		outs[i] = parallel.Outcome{Partition: i, Worker: e.names[i]}
	}
	if e.opt.Sequential {
		for i, w := range e.workers {
			d, err := w.RunRound(ctx, g, spec)
			e.accept(&outs[i], d, err, comb, ctx)
		}
		return outs, nil
	}
	type result struct {
		i   int
		d   *parallel.Delta
		err error
	}
	results := make(chan result, k)
	sem := make(chan struct{}, e.conc)
	var wg sync.WaitGroup
	for i, w := range e.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				results <- result{i, nil, ctx.Err()}
				return
			}
			d, err := w.RunRound(ctx, g, spec)
			<-sem
			results <- result{i, d, err}
		}()
	}
	pending := k
	for pending > 0 {
		select {
		case r := <-results:
			pending--
			e.accept(&outs[r.i], r.d, r.err, comb, ctx)
		case <-ctx.Done():
			// Deadline: stop accepting, let the stragglers stop, and drain.
			comb.Close()
			wg.Wait()
			for pending > 0 {
				r := <-results
				pending--
				e.accept(&outs[r.i], r.d, r.err, comb, ctx)
			}
		}
	}
	wg.Wait()
	return outs, nil
}

// accept records a worker's result in its outcome and hands its delta to
// the combiner.
func (e *Engine) accept(o *parallel.Outcome, d *parallel.Delta, err error, comb *parallel.Combiner, ctx context.Context) {
	if err == nil {
		o.Stats = d.Stats
		err = comb.AddNoCopy(d)
		if errors.Is(err, parallel.ErrRoundClosed) && ctx.Err() != nil {
			err = nil // finished after the deadline: reported as missed below
			o.Err = e.timeout(o.Partition, ctx)
			return
		}
	}
	if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		err = e.timeout(o.Partition, ctx)
	}
	o.Err = err
}

func (e *Engine) timeout(partition int, ctx context.Context) error {
	if ctx.Err() == context.DeadlineExceeded {
		return &parallel.RoundTimeout{Partition: partition}
	}
	return fmt.Errorf("partition %d: %w", partition, ctx.Err())
}

// States returns every worker's state.
func (e *Engine) States(ctx context.Context) ([][]byte, error) {
	states := make([][]byte, len(e.workers))
	for i, w := range e.workers {
		s, err := w.MarshalState()
		if err != nil {
			return nil, err
		}
		states[i] = s
	}
	return states, nil
}

// Restore sets every worker's state.
func (e *Engine) Restore(ctx context.Context, states [][]byte) error {
	if len(states) != len(e.workers) {
		return fmt.Errorf("local engine: %d worker states for %d workers", len(states), len(e.workers))
	}
	for i, w := range e.workers {
		if err := w.UnmarshalState(states[i]); err != nil {
			return err
		}
	}
	return nil
}

// Close restores the thread pool's size and drops the workers.
func (e *Engine) Close() error {
	if e.started {
		threads.SetThreads(e.prevThr)
	}
	var errs []error
	for _, w := range e.workers {
		errs = append(errs, w.Close())
	}
	e.workers, e.started = nil, false
	return errors.Join(errs...)
}
