package local

import (
	"context"
	"fmt"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/parallel"
)

// wideSolver is a solver for a net with one n x n inner product (n*n + n
// parameters) on constant Input data: no files needed.
func wideSolver(t testing.TB, n int) *pb.SolverParameter {
	t.Helper()
	text := fmt.Sprintf(`net_param { name: "wide"
  layer { name: "in" type: "Input" top: "data" top: "label"
    input_param { shape { dim: 2 dim: %[1]d } shape { dim: 2 } } }
  layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
    inner_product_param { num_output: %[1]d weight_filler { type: "gaussian" std: 0.01 } } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" } }
base_lr: 0.01 momentum: 0.9 lr_policy: "fixed" max_iter: 10 random_seed: 1
`, n)
	p, err := caffe.ParseSolver("wide.prototxt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startEngine starts a local engine with k workers on the wide net and
// returns it with the driver-side global weights.
func startEngine(t testing.TB, n, k int, opt Options) (*Engine, parallel.Layout, []float32) {
	t.Helper()
	p := wideSolver(t, n)
	w0, err := parallel.NewWorker(parallel.WorkerConfig{Solver: p, Seed: 1, Partitions: 1})
	if err != nil {
		t.Fatal(err)
	}
	l := w0.Layout()
	global := make([]float32, l.Len())
	l.Gather(global, w0.Solver().Net().Params())
	e := New(opt)
	if err := e.Start(context.Background(), parallel.Job{RunID: "bench", Solver: p, Seed: 1, Partitions: k, Layout: l}); err != nil {
		t.Fatal(err)
	}
	return e, l, global
}

func TestThreadSharing(t *testing.T) {
	before := threads.Count()
	for _, c := range []struct {
		k, n int
		seq  bool
		pool int
	}{
		{1, 2, false, 2},
		{2, 2, false, 1},
		{4, 2, false, 1},
		{2, 8, false, 7},
		{4, 2, true, 2},
	} {
		e, _, _ := startEngine(t, 8, c.k, Options{Threads: c.n, Sequential: c.seq})
		e.workersRun()
		if got := threads.Count(); got != c.pool {
			t.Errorf("K=%d N=%d sequential=%v: pool of %d threads while the workers run, want %d", c.k, c.n, c.seq, got, c.pool)
		}
		e.driverRuns()
		if got := threads.Count(); got != c.n {
			t.Errorf("K=%d N=%d: pool of %d threads for the driver, want %d", c.k, c.n, got, c.n)
		}
		e.Close()
		if got := threads.Count(); got != before {
			t.Errorf("Close left a pool of %d threads, was %d", got, before)
		}
	}
}

// TestRoundZeroSteps: a round of zero steps returns the global weights
// unchanged from every worker (broadcast and combine are exact).
func TestRoundZeroSteps(t *testing.T) {
	e, l, global := startEngine(t, 16, 3, Options{Threads: 2})
	defer e.Close()
	spec := parallel.RoundSpec{Run: "bench", Partitions: 3, FaultPartition: -1}
	comb := parallel.NewCombiner(spec.Expect(l, 1), global)
	outs, err := e.Round(context.Background(), spec, parallel.Global{Weights: global}, comb)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
	}
	mean := make([]float32, l.Len())
	if n, err := comb.Finish(mean, nil); n != 3 || err != nil {
		t.Fatalf("Finish = %d, %v", n, err)
	}
	for j := range mean {
		if mean[j] != global[j] {
			t.Fatalf("element %d: %v after a zero-step round, was %v", j, mean[j], global[j])
		}
	}
}

// BenchmarkRoundOverhead measures the local engine's own cost per round at
// 1M parameters (a 1000 x 1000 inner product) and K = 4: broadcasting the
// global weights into the 4 replicas, collecting their results without
// copies, the exact average and the outer step — a round of zero training
// iterations.
func BenchmarkRoundOverhead(b *testing.B) {
	for _, k := range []int{1, 4} {
		b.Run(fmt.Sprintf("K=%d", k), func(b *testing.B) {
			e, l, global := startEngine(b, 1000, k, Options{})
			defer e.Close()
			outer := parallel.Average{}
			mean := make([]float32, l.Len())
			round := 0
			b.SetBytes(int64(4 * l.Len()))
			cpu0 := processCPU()
			for b.Loop() {
				spec := parallel.RoundSpec{Run: "bench", Round: round, Partitions: k, FaultPartition: -1}
				comb := parallel.NewCombiner(spec.Expect(l, 1), global)
				if _, err := e.Round(context.Background(), spec, parallel.Global{Weights: global}, comb); err != nil {
					b.Fatal(err)
				}
				if _, err := comb.Finish(mean, nil); err != nil {
					b.Fatal(err)
				}
				outer.Step(global, mean)
				round++
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/round")
			// CPU time is less sensitive than wall time to other processes
			// on a busy machine; on an idle one wall ~ CPU / threads.
			b.ReportMetric(float64((processCPU()-cpu0).Microseconds())/float64(b.N)/1000, "cpu-ms/round")
		})
	}
}
