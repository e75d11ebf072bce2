package sparknet_test

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/sparknet/sparknet"
	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/engine/local"
)

// solverParam is a linear classifier on constant Input data (the bias
// learns the label), so no data files are needed.
func solverParam(t *testing.T, dir string) *pb.SolverParameter {
	t.Helper()
	text := fmt.Sprintf(`net_param { name: "api"
  layer { name: "in" type: "Input" top: "data" top: "label"
    input_param { shape { dim: 4 dim: 3 } shape { dim: 4 } } }
  layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip"
    inner_product_param { num_output: 2 weight_filler { type: "gaussian" std: 0.1 } } }
  layer { name: "acc" type: "Accuracy" bottom: "ip" bottom: "label" top: "accuracy" include { phase: TEST } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" } }
test_iter: 2 test_interval: 5
base_lr: 0.5 momentum: 0.9 lr_policy: "fixed" max_iter: 12
snapshot_prefix: %q random_seed: 5
`, filepath.Join(dir, "api"))
	p, err := caffe.ParseSolver("api.prototxt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTrain(t *testing.T) {
	ctx := context.Background()
	plain, err := sparknet.Train(ctx, solverParam(t, t.TempDir()), sparknet.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Iter != 12 || len(plain.Tests) != 3 || len(plain.Weights) != plain.Layout.Len() || plain.Layout.Len() != 8 {
		t.Fatalf("plain run: iteration %d, %d tests, %d weights", plain.Iter, len(plain.Tests), len(plain.Weights))
	}
	one, err := sparknet.Train(ctx, solverParam(t, t.TempDir()), sparknet.Options{Workers: 1, Tau: 1, Engine: local.New(local.Options{Threads: 2})})
	if err != nil {
		t.Fatal(err)
	}
	for j := range plain.Weights {
		if math.Float32bits(one.Weights[j]) != math.Float32bits(plain.Weights[j]) {
			t.Fatalf("one worker differs from plain training at %d", j)
		}
	}
	four, err := sparknet.Train(ctx, solverParam(t, t.TempDir()), sparknet.Options{Workers: 4, Tau: 3})
	if err != nil {
		t.Fatal(err)
	}
	if four.Rounds != 4 || four.Iter != 12 {
		t.Errorf("K=4 tau=3: %d rounds to iteration %d", four.Rounds, four.Iter)
	}
	if a, _ := four.Tests[len(four.Tests)-1].Value("accuracy"); a != 1 {
		t.Errorf("K=4 accuracy %v on a trivially learnable task", a)
	}
	if _, err := sparknet.Train(ctx, nil, sparknet.Options{}); err == nil {
		t.Error("no solver: no error")
	}
	if _, err := sparknet.Train(ctx, solverParam(t, t.TempDir()), sparknet.Options{Engine: local.New(local.Options{})}); err == nil {
		t.Error("an engine without workers: no error")
	}
}
