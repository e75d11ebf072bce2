package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/nn"
)

// timeStdout receives the timings (a variable for tests).
var timeStdout io.Writer = os.Stdout

var timeFlags struct {
	model, phase, stage, shapes string
	iterations, threads, level  int
}

func init() {
	register(&Command{
		Name:      "time",
		UsageLine: "-model FILE [-iterations N] [-threads T] [-phase TRAIN|TEST]",
		Short:     "benchmark a net's forward and backward passes, layer by layer",
		Long: `Time builds the net of -model (TRAIN phase by default, as 'caffe time') and
runs -iterations forward and backward passes one layer at a time, then
prints each layer's average forward and backward time and the averages of
the whole passes:

  Average Forward pass: X ms.
  Average Backward pass: X ms.
  Average Forward-Backward: X ms.

Data layers whose source is missing are replaced by synthetic input of the
declared shape (see 'sparknet help summary' and -input-shape), with a note.`,
		SetFlags: func(fs *flag.FlagSet) {
			f := &timeFlags
			fs.StringVar(&f.model, "model", "", "the model definition (prototxt)")
			fs.IntVar(&f.iterations, "iterations", 50, "number of forward-backward passes to time")
			fs.IntVar(&f.threads, "threads", 0, "compute threads (0: all cores)")
			fs.StringVar(&f.phase, "phase", "TRAIN", "net phase: TRAIN or TEST")
			fs.IntVar(&f.level, "level", 0, "net level")
			fs.StringVar(&f.stage, "stage", "", "net stages, comma-separated")
			fs.StringVar(&f.shapes, "input-shape", "", "shapes of synthetic data tops, e.g. data=64x1x28x28,label=64")
		},
		Run: runTime,
	})
}

func runTime(ctx context.Context, args []string) error {
	f := &timeFlags
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	if f.model == "" {
		return fmt.Errorf("need a model definition to time (-model): %w", errUsage)
	}
	if f.iterations < 1 {
		return fmt.Errorf("-iterations must be at least 1: %w", errUsage)
	}
	if f.threads < 0 {
		return fmt.Errorf("-threads must not be negative: %w", errUsage)
	}
	phase, err := parsePhase(f.phase)
	if err != nil {
		return err
	}
	blas.SetThreads(f.threads)
	in, err := buildInspectionNet(f.model, phase, f.level, f.stage, f.shapes, os.Stderr)
	if err != nil {
		return err
	}
	net := in.net
	out := &errWriter{w: timeStdout}
	n := len(net.Layers())
	if n == 0 {
		return fmt.Errorf("%s: the net has no layers", f.model)
	}
	// One untimed pass warms up buffers and caches, as Caffe's initial
	// Forward/Backward does.
	loss, err := net.ForwardBackward()
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "Initial loss: %g\nTesting for %d iterations with %d threads.\n", loss, f.iterations, blas.Threads())
	fwd := make([]time.Duration, n)
	bwd := make([]time.Duration, n)
	var fwdTotal, bwdTotal time.Duration
	start := time.Now()
	for it := 0; it < f.iterations; it++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		for i := 0; i < n; i++ {
			t := time.Now()
			if _, err := net.ForwardRange(i, i); err != nil {
				return fmt.Errorf("iteration %d: %w", it, err)
			}
			fwd[i] += time.Since(t)
		}
		t1 := time.Now()
		fwdTotal += t1.Sub(t0)
		for i := n - 1; i >= 0; i-- {
			t := time.Now()
			backwardLayer(net, i)
			bwd[i] += time.Since(t)
		}
		bwdTotal += time.Since(t1)
	}
	total := time.Since(start)
	iters := float64(f.iterations)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 / iters }
	fmt.Fprintln(out, "Average time per layer:")
	names := net.LayerNames()
	for i := 0; i < n; i++ {
		fmt.Fprintf(out, "%10s\tforward: %.5g ms.\n", names[i], ms(fwd[i]))
		fmt.Fprintf(out, "%10s\tbackward: %.5g ms.\n", names[i], ms(bwd[i]))
	}
	fmt.Fprintf(out, "Average Forward pass: %.5g ms.\n", ms(fwdTotal))
	fmt.Fprintf(out, "Average Backward pass: %.5g ms.\n", ms(bwdTotal))
	fmt.Fprintf(out, "Average Forward-Backward: %.5g ms.\n", ms(total))
	fmt.Fprintf(out, "Total Time: %.5g ms.\n", float64(total)/1e6)
	if in := net.Tops(0); len(in) > 0 && in[0].NumAxes() > 0 {
		fmt.Fprintf(out, "Throughput: %.1f images/s (batch %d).\n", float64(in[0].Dim(0))/(float64(total)/1e9/iters), in[0].Dim(0))
	}
	return out.err
}

// backwardLayer runs layer i's backward pass as 'caffe time' does: every
// layer runs, even one the net's backward pass skips because it reaches no
// loss (a deploy net's layers), with the net's bottom flags, so that such a
// layer still computes the gradients of its parameters (lr_mult != 0).
func backwardLayer(net *nn.Net, i int) {
	if net.NeedsBackward(i) {
		net.BackwardRange(i, i) // also sets the gradients of loss tops
		return
	}
	net.Layers()[i].Backward(net.Tops(i), net.BottomNeedsBackward(i), net.Bottoms(i))
}
