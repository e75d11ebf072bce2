package parquet_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/data/parquet"
	"github.com/sparknet/sparknet/layers"
	"github.com/sparknet/sparknet/solver"
	"github.com/sparknet/sparknet/tensor"
)

const fashionDir = "/usr/share/datasets/fashion-mnist"

// required reports whether missing test inputs must fail the tests (CI or
// SPARKNET_REQUIRE_TOOLS set) instead of skipping them.
func required() bool {
	for _, v := range []string{os.Getenv("SPARKNET_REQUIRE_TOOLS"), os.Getenv("CI")} {
		if v != "" && v != "0" && v != "false" {
			return true
		}
	}
	return false
}

// fashion holds a subset of Fashion-MNIST as an LMDB (as convert_mnist_data
// writes it) and the same records as Parquet, twice: converted by FromDB,
// and in a Spark partition folder (split=train/) with Spark's markers.
type fashion struct {
	lmdb, parquet, spark string
	n                    int
}

// fashionSubset writes the first n images of a Fashion-MNIST set ("train"
// or "t10k").
// The Spark copy is written only when spark is set.
func fashionSubset(t testing.TB, set string, n int, rowGroup, fileRows int, spark bool) fashion {
	t.Helper()
	images := filepath.Join(fashionDir, set+"-images-idx3-ubyte.gz")
	labels := filepath.Join(fashionDir, set+"-labels-idx1-ubyte.gz")
	if _, err := os.Stat(images); err != nil {
		msg := fmt.Sprintf("%s not found: apt-get install dataset-fashion-mnist", images)
		if required() {
			t.Fatal(msg + " (required because CI or SPARKNET_REQUIRE_TOOLS is set)")
		}
		t.Skip(msg)
	}
	dims, pix, err := data.ReadIDX(images)
	if err != nil {
		t.Fatal(err)
	}
	_, lab, err := data.ReadIDX(labels)
	if err != nil {
		t.Fatal(err)
	}
	h, w := dims[1], dims[2]
	dir := t.TempDir()
	f := fashion{lmdb: filepath.Join(dir, set+"_lmdb"), parquet: filepath.Join(dir, set+"_parquet"), n: n}
	db, err := data.CreateDB(data.LMDB, f.lmdb)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := data.Datum{Channels: 1, Height: h, Width: w, Data: pix[i*h*w : (i+1)*h*w], Label: int32(lab[i])}
		if err := db.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	o := parquet.WriteOptions{RowGroupRows: rowGroup, FileRows: fileRows}
	if _, err := parquet.FromDB(context.Background(), data.LMDB, f.lmdb, f.parquet, o); err != nil {
		t.Fatal(err)
	}
	if !spark {
		return f
	}
	// The Spark layout: a partitioned dataset with a test partition
	// beside, markers, checksums and no sparknet.shape needed (the shape is
	// given in the prototxt instead: see sparkParam).
	root := filepath.Join(dir, set+"_spark")
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	f.spark = filepath.Join(root, "split=train")
	o.Compression = "zstd"
	o.DataColumn = "pixels"
	if _, err := parquet.FromDB(context.Background(), data.LMDB, f.lmdb, f.spark, o); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "_SUCCESS"), nil, 0o644)
	os.WriteFile(filepath.Join(f.spark, "_committed_1"), []byte("{}"), 0o644)
	os.Mkdir(filepath.Join(root, "split=test"), 0o755)
	return f
}

// sparkParam reads the Spark copy by its column name, with the shape given.
const sparkParam = `parquet_param { image_column: "pixels" channels: 1 height: 28 width: 28 }`

func newDataLayer(t *testing.T, phase pb.Phase, seed uint64, k, i int, text string) (layers.Layer, []*tensor.Blob) {
	t.Helper()
	p := &pb.LayerParameter{}
	if err := prototext.Unmarshal([]byte(text), p); err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	ctx := layers.NewContext(phase, seed)
	ctx.Shard, ctx.Shards = i, k
	l, err := layers.New(p, ctx)
	if err != nil {
		t.Fatal(err)
	}
	top := []*tensor.Blob{tensor.New(), tensor.New()}
	if err := l.Setup(nil, top); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.(interface{ Close() error }).Close() })
	return l, top
}

func forward(t *testing.T, l layers.Layer, top []*tensor.Blob) (d, lab []float32) {
	t.Helper()
	l.Forward(nil, top)
	if err := l.(layers.Failer).Err(); err != nil {
		t.Fatal(err)
	}
	return slices.Clone(top[0].Data), slices.Clone(top[1].Data)
}

// TestDataLayerMatchesLMDB checks that the Data layer delivers the same
// batches, bit for bit, from Parquet as from the LMDB of the same records,
// with random crops and mirrors, through an epoch's wrap-around, in TRAIN
// and TEST; and that its state resumes exactly.
func TestDataLayerMatchesLMDB(t *testing.T) {
	f := fashionSubset(t, "train", 1000, 96, 400, true)
	const transform = `transform_param { scale: 0.00390625 mirror: true crop_size: 24 mean_value: 33 }`
	layer := func(source, backend, extra string) string {
		return fmt.Sprintf(`name: "d" type: "Data" top: "data" top: "label" %s
			data_param { source: %q batch_size: 64 backend: %s prefetch: 3 %s }`, transform, source, backend, extra)
	}
	for _, phase := range []pb.Phase{pb.Phase_TRAIN, pb.Phase_TEST} {
		lm, lmTop := newDataLayer(t, phase, 5, 1, 0, layer(f.lmdb, "LMDB", ""))
		pq, pqTop := newDataLayer(t, phase, 5, 1, 0, layer(f.parquet, "PARQUET", ""))
		sp, spTop := newDataLayer(t, phase, 5, 1, 0, layer(f.spark, "PARQUET", sparkParam))
		var state []byte
		var afterState [][]float32
		for it := 0; it < 25; it++ { // 25 x 64 = 1600: wraps at 1000
			wantD, wantL := forward(t, lm, lmTop)
			for name, got := range map[string]struct {
				l   layers.Layer
				top []*tensor.Blob
			}{"parquet": {pq, pqTop}, "spark": {sp, spTop}} {
				d, lab := forward(t, got.l, got.top)
				if !slices.Equal(lab, wantL) {
					t.Fatalf("%v %s: iteration %d: labels differ from LMDB's", phase, name, it)
				}
				if !bitsEqual(d, wantD) {
					t.Fatalf("%v %s: iteration %d: data differs from LMDB's", phase, name, it)
				}
			}
			if it == 12 {
				var err error
				if state, err = pq.(layers.Stateful).MarshalState(); err != nil {
					t.Fatal(err)
				}
			}
			if it > 12 {
				afterState = append(afterState, wantD)
			}
		}
		// Resume a fresh layer from the state: it continues with batch 13.
		re, reTop := newDataLayer(t, phase, 5, 1, 0, layer(f.parquet, "PARQUET", ""))
		if err := re.(layers.Stateful).UnmarshalState(state); err != nil {
			t.Fatal(err)
		}
		for k, want := range afterState {
			if d, _ := forward(t, re, reTop); !bitsEqual(d, want) {
				t.Fatalf("%v: resumed batch %d differs", phase, 13+k)
			}
		}
	}
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestDataLayerWorkers splits the Parquet data among 3 workers: each reads
// whole row groups, the shards are disjoint and cover the data, and a
// worker's batches are its row groups' records in order.
func TestDataLayerWorkers(t *testing.T) {
	f := fashionSubset(t, "train", 1000, 96, 400, false) // 11 row groups
	src, err := parquet.Open(f.parquet, parquet.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lmdb, err := data.OpenDatumSource(data.LMDB, f.lmdb, data.Native)
	if err != nil {
		t.Fatal(err)
	}
	defer lmdb.Close()
	lr := lmdb.NewReader()
	defer lr.Close()
	seen := make([]int, f.n)
	for i := 0; i < 3; i++ {
		shard, err := data.NewBlockShard(src.Blocks(), src.Len(), 3, i)
		if err != nil {
			t.Fatal(err)
		}
		lo, hi := shard.Range()
		for j := lo; j < hi; j++ {
			seen[j]++
		}
		l, top := newDataLayer(t, pb.Phase_TRAIN, 9, 3, i, fmt.Sprintf(
			`name: "d" type: "Data" top: "data" top: "label" data_param { source: %q batch_size: 50 backend: PARQUET }`, f.parquet))
		rec := lo
		var ex data.Example
		for it := 0; it < 10; it++ {
			d, lab := forward(t, l, top)
			for b := 0; b < 50; b++ {
				if err := lr.Read(rec, &ex); err != nil {
					t.Fatal(err)
				}
				if lab[b] != ex.Label || d[b*784+400] != float32(ex.U8[400]) {
					t.Fatalf("worker %d, iteration %d, item %d: not LMDB record %d", i, it, b, rec)
				}
				if rec++; rec == hi {
					rec = lo
				}
			}
		}
	}
	for j, c := range seen {
		if c != 1 {
			t.Fatalf("record %d is in %d shards", j, c)
		}
	}
}

// lenet is Caffe's examples/mnist/lenet_train_test.prototxt with the data
// layers' sources and backends filled in.
const lenet = `name: "LeNet"
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TRAIN }
  transform_param { scale: 0.00390625 }
  data_param { source: %q batch_size: 64 backend: %s } }
layer { name: "mnist" type: "Data" top: "data" top: "label" include { phase: TEST }
  transform_param { scale: 0.00390625 }
  data_param { source: %q batch_size: 100 backend: %s } }
layer { name: "conv1" type: "Convolution" bottom: "data" top: "conv1" param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 20 kernel_size: 5 stride: 1 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool1" type: "Pooling" bottom: "conv1" top: "pool1" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "conv2" type: "Convolution" bottom: "pool1" top: "conv2" param { lr_mult: 1 } param { lr_mult: 2 }
  convolution_param { num_output: 50 kernel_size: 5 stride: 1 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "pool2" type: "Pooling" bottom: "conv2" top: "pool2" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }
layer { name: "ip1" type: "InnerProduct" bottom: "pool2" top: "ip1" param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 500 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "relu1" type: "ReLU" bottom: "ip1" top: "ip1" }
layer { name: "ip2" type: "InnerProduct" bottom: "ip1" top: "ip2" param { lr_mult: 1 } param { lr_mult: 2 }
  inner_product_param { num_output: 10 weight_filler { type: "xavier" } bias_filler { type: "constant" } } }
layer { name: "accuracy" type: "Accuracy" bottom: "ip2" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "ip2" bottom: "label" top: "loss" }
`

// lenetSolver is examples/mnist/lenet_solver.prototxt's hyper-parameters.
const lenetSolver = `test_iter: 4 test_interval: 500 base_lr: 0.01 momentum: 0.9 weight_decay: 0.0005
lr_policy: "inv" gamma: 0.0001 power: 0.75 display: 0 max_iter: 10000 random_seed: 1701 solver_mode: CPU`

// train runs iters iterations of LeNet on train/test data and returns the
// losses and the test accuracy after them.
func train(t *testing.T, trainSrc, testSrc, backend string, iters int) ([]float32, float32) {
	t.Helper()
	netParam, err := caffe.ParseNet("lenet", []byte(fmt.Sprintf(lenet, trainSrc, backend, testSrc, backend)))
	if err != nil {
		t.Fatal(err)
	}
	sp, err := caffe.ParseSolver("lenet_solver", []byte(lenetSolver))
	if err != nil {
		t.Fatal(err)
	}
	sp.NetParam = netParam
	s, err := solver.New(sp, solver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var losses []float32
	for range iters {
		if err := s.Step(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		losses = append(losses, s.LastLoss())
	}
	res, err := s.Test(0)
	if err != nil {
		t.Fatal(err)
	}
	acc, ok := res.Value("accuracy")
	if !ok {
		t.Fatalf("no accuracy output: %+v", res.Outputs)
	}
	return losses, acc
}

// TestLeNetParquetMatchesLMDB trains LeNet on Fashion-MNIST from Parquet and
// from LMDB with the same seed: every iteration's loss and the test
// accuracy are identical.
func TestLeNetParquetMatchesLMDB(t *testing.T) {
	if testing.Short() {
		t.Skip("trains LeNet (a few seconds)")
	}
	tr := fashionSubset(t, "train", 1024, 128, 512, false)
	te := fashionSubset(t, "t10k", 400, 100, 200, false)
	const iters = 30
	lmLoss, lmAcc := train(t, tr.lmdb, te.lmdb, "LMDB", iters)
	pqLoss, pqAcc := train(t, tr.parquet, te.parquet, "PARQUET", iters)
	t.Logf("LMDB: loss %v -> %v, accuracy %v; Parquet: loss %v -> %v, accuracy %v",
		lmLoss[0], lmLoss[iters-1], lmAcc, pqLoss[0], pqLoss[iters-1], pqAcc)
	if !bitsEqual(lmLoss, pqLoss) {
		t.Fatalf("losses differ:\nLMDB    %v\nParquet %v", lmLoss, pqLoss)
	}
	if math.Float32bits(lmAcc) != math.Float32bits(pqAcc) {
		t.Fatalf("test accuracy: LMDB %v, Parquet %v", lmAcc, pqAcc)
	}
	// The run learned something (so that equal losses are not trivially
	// equal): the loss fell and the accuracy beats chance.
	if !(pqLoss[iters-1] < pqLoss[0]) || pqAcc < 0.3 {
		t.Errorf("no learning: loss %v -> %v, accuracy %v", pqLoss[0], pqLoss[iters-1], pqAcc)
	}
}
