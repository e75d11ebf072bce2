package nats

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/parallel"
)

// TestWorkerSolver: the workers get the train net inline, without test
// nets or pretrained weights, and with relative data paths made absolute.
func TestWorkerSolver(t *testing.T) {
	p, err := caffe.ParseSolver("s.prototxt", []byte(`
base_lr: 0.1 lr_policy: "fixed" max_iter: 10 test_iter: 1 test_interval: 5 weights: "pre.caffemodel"
net_param {
  name: "n"
  layer { name: "d" type: "Data" top: "data" top: "label"
    transform_param { mean_file: "mean.binaryproto" }
    data_param { source: "rel/train_lmdb" batch_size: 2 } }
  layer { name: "ip" type: "InnerProduct" bottom: "data" top: "ip" inner_product_param { num_output: 2 } }
  layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip" bottom: "label" top: "loss" }
}`))
	if err != nil {
		t.Fatal(err)
	}
	ws, err := workerSolver(parallel.Job{Solver: p}, true)
	if err != nil {
		t.Fatal(err)
	}
	if ws.NetParam != nil || ws.TrainNetParam == nil || len(ws.TestIter) != 0 || ws.TestInterval != nil || len(ws.Weights) != 0 {
		t.Fatalf("worker solver keeps test nets, weights or the generic net: %v", ws)
	}
	dp := ws.TrainNetParam.Layer[0]
	if src := dp.GetDataParam().GetSource(); !filepath.IsAbs(src) || !strings.HasSuffix(src, "rel/train_lmdb") {
		t.Errorf("source %q", src)
	}
	if mf := dp.GetTransformParam().GetMeanFile(); !filepath.IsAbs(mf) {
		t.Errorf("mean file %q", mf)
	}
	if p.GetNetParam().GetLayer()[0].GetDataParam().GetSource() != "rel/train_lmdb" {
		t.Error("workerSolver changed the driver's solver")
	}
	// Image lists name further files: -ship-data cannot carry them.
	img, err := caffe.ParseNet("n", []byte(`layer { name: "d" type: "ImageData" top: "data" top: "label"
		image_data_param { source: "list.txt" batch_size: 1 } }`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shipData(t.Context(), nil, img); err == nil || !strings.Contains(err.Error(), "-ship-data cannot carry \"list.txt\"") {
		t.Errorf("shipping an image list: %v", err)
	}
}
