package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/nn"
	"github.com/sparknet/sparknet/solver"
)

// testStdout receives the results of `sparknet test` (a variable for tests).
var testStdout io.Writer = os.Stdout

var testFlags struct {
	model, weights string
	iterations     int
	threads        int
	phase          string
	level          int
	stage          string
}

func init() {
	register(&Command{
		Name:      "test",
		UsageLine: "-model FILE -weights W.caffemodel [-iterations N] [flags]",
		Short:     "score a model",
		Long: `Test runs the model's TEST-phase net with the given weights for -iterations
batches, as 'caffe test' does: it logs every batch's outputs to stderr and
prints the mean of each output over the batches to stdout, one
"NAME = VALUE" line each, loss outputs as "loss = L (* W = W*L loss)".`,
		SetFlags: func(fs *flag.FlagSet) {
			fs.StringVar(&testFlags.model, "model", "", "the model definition (prototxt)")
			fs.StringVar(&testFlags.weights, "weights", "", "the trained weights, comma-separated .caffemodel files")
			fs.IntVar(&testFlags.iterations, "iterations", 50, "number of batches to run")
			fs.IntVar(&testFlags.threads, "threads", 0, "compute threads (0: all cores)")
			fs.StringVar(&testFlags.phase, "phase", "TEST", "net phase: TEST or TRAIN")
			fs.IntVar(&testFlags.level, "level", 0, "net level")
			fs.StringVar(&testFlags.stage, "stage", "", "net stages, comma-separated")
		},
		Run: runTest,
	})
}

func runTest(ctx context.Context, args []string) error {
	f := &testFlags
	if len(args) > 0 {
		return fmt.Errorf("unexpected arguments %q: %w", args, errUsage)
	}
	if f.model == "" {
		return fmt.Errorf("need a model definition to score (-model): %w", errUsage)
	}
	if f.weights == "" {
		return fmt.Errorf("need model weights to score (-weights): %w", errUsage)
	}
	if f.iterations < 1 {
		return fmt.Errorf("-iterations must be at least 1: %w", errUsage)
	}
	var phase pb.Phase
	switch f.phase {
	case "TEST":
		phase = pb.Phase_TEST
	case "TRAIN":
		phase = pb.Phase_TRAIN
	default:
		return fmt.Errorf("-phase must be TEST or TRAIN, not %q: %w", f.phase, errUsage)
	}
	if f.threads < 0 {
		return fmt.Errorf("-threads must not be negative: %w", errUsage)
	}
	blas.SetThreads(f.threads)

	np, err := caffe.LoadNet(f.model)
	if err != nil {
		return err
	}
	state := &pb.NetState{Phase: phase.Enum(), Level: int32Ptr(f.level)}
	for _, s := range strings.Split(f.stage, ",") {
		if s != "" {
			state.Stage = append(state.Stage, s)
		}
	}
	np.State = state
	net, err := nn.New(np, state, nn.Options{})
	if err != nil {
		return fmt.Errorf("%s: %w", f.model, err)
	}
	defer net.Close()
	for _, path := range strings.Split(f.weights, ",") {
		if path == "" {
			continue
		}
		w, err := caffe.LoadWeights(path)
		if err != nil {
			return err
		}
		if err := net.CopyTrainedLayersFrom(w); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
	fmt.Fprintf(os.Stderr, "Running for %d iterations.\n", f.iterations)

	names := net.OutputNames()
	var scores []float32
	var loss float32
	for i := 0; i < f.iterations; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := net.Forward()
		if err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
		loss += l
		k := 0
		for j, b := range net.Outputs() {
			for _, v := range b.Data {
				if i == 0 {
					scores = append(scores, v)
				} else {
					scores[k] += v
				}
				k++
				fmt.Fprintf(os.Stderr, "Batch %d, %s = %s\n", i, names[j], solver.FormatValue(v))
			}
		}
	}
	loss /= float32(f.iterations)
	fmt.Fprintf(testStdout, "Loss: %s\n", solver.FormatValue(loss))
	k := 0
	for j, b := range net.Outputs() {
		w := net.BlobLossWeight(names[j])
		for range b.Data {
			fmt.Fprintln(testStdout, solver.FormatOutput(names[j], scores[k]/float32(f.iterations), w))
			k++
		}
	}
	return nil
}

func int32Ptr(v int) *int32 {
	x := int32(v)
	return &x
}
