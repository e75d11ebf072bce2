package solver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
)

const fixtureDir = "../testdata/caffe/lenet-fashion"

// lenetSolver returns the reference LeNet solver with its Data layers
// replaced by TestSeq layers named "train" and "test", and snapshots in dir.
func lenetSolver(t testing.TB, dir string) *pb.SolverParameter {
	t.Helper()
	sp, err := caffe.LoadSolver(filepath.Join(fixtureDir, "lenet_fmnist_solver.prototxt"))
	if err != nil {
		t.Fatal(err)
	}
	np, err := caffe.LoadNet(filepath.Join(fixtureDir, "lenet_fmnist_train_test.prototxt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range np.Layer {
		if l.GetType() != "Data" {
			continue
		}
		name := "train"
		if len(l.Include) > 0 && l.Include[0].GetPhase() == pb.Phase_TEST {
			name = "test"
		}
		l.Name = proto.String(name)
		l.Type = proto.String("TestSeq")
		l.MemoryDataParam = &pb.MemoryDataParameter{BatchSize: proto.Uint32(l.GetDataParam().GetBatchSize())}
		l.DataParam, l.TransformParam = nil, nil
	}
	sp.Net = nil
	sp.NetParam = np
	sp.SnapshotPrefix = proto.String(filepath.Join(dir, "lenet"))
	return sp
}

// TestResumeCaffeSolverState resumes from the solver state Caffe wrote after
// 10000 LeNet iterations: the iteration, the momentum history and the
// weights (found beside the state, as learned_net is relative) must be
// Caffe's, and training must continue from there.
func TestResumeCaffeSolverState(t *testing.T) {
	setSeqSource(t, "train", randomSource(128, []int{1, 28, 28}, 10, 1))
	setSeqSource(t, "test", randomSource(100, []int{1, 28, 28}, 10, 2))
	log := &logBuffer{}
	s, err := New(lenetSolver(t, t.TempDir()), Options{Log: log})
	if err != nil {
		t.Fatal(err)
	}
	statePath := filepath.Join(fixtureDir, "lenet_fmnist_iter_10000.solverstate")
	if err := s.Restore(statePath); err != nil {
		t.Fatal(err)
	}
	if s.Iter() != 10000 {
		t.Fatalf("iteration %d after restore, want 10000", s.Iter())
	}
	st, err := caffe.LoadSolverState(statePath)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.History()) != 8 {
		t.Fatalf("%d history blobs, want 8", len(s.History()))
	}
	for i, h := range s.History() {
		want := st.History[i].GetData()
		if len(want) != h.Count() {
			t.Fatalf("history %d: %d values, Caffe's has %d", i, h.Count(), len(want))
		}
		for j, v := range h.Data {
			if v != want[j] {
				t.Fatalf("history %d[%d] = %g, Caffe's %g", i, j, v, want[j])
			}
		}
	}
	w, err := caffe.LoadWeights(filepath.Join(fixtureDir, "lenet_fmnist_iter_10000.caffemodel"))
	if err != nil {
		t.Fatal(err)
	}
	var blobs []*pb.BlobProto
	for _, l := range w.Layer {
		blobs = append(blobs, l.Blobs...)
	}
	params := s.Net().Params()
	if len(blobs) != len(params) {
		t.Fatalf("%d params, the caffemodel has %d blobs", len(params), len(blobs))
	}
	for i, p := range params {
		for j, v := range p.Data {
			if v != blobs[i].GetData()[j] {
				t.Fatalf("param %d[%d] = %g, Caffe's %g", i, j, v, blobs[i].GetData()[j])
			}
		}
	}
	if !strings.Contains(log.String(), "No run state") {
		t.Errorf("a Caffe state has no sidecar; the log should say so:\n%s", log)
	}
	if got := fmtG(s.LearningRate()); got != "0.00594604" {
		t.Errorf("lr at 10000 = %s, want Caffe's 0.00594604", got)
	}
	// Training goes on from there, with a finite loss.
	if err := s.Step(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if s.Iter() != 10002 {
		t.Errorf("iteration %d after two steps, want 10002", s.Iter())
	}
}

// TestLeNetLearnsFashionMNIST trains LeNet (Caffe's lenet_solver settings)
// on the first 2,000 Fashion-MNIST training images for 300 iterations and
// tests on 1,000 test images: the accuracy must be far above chance (0.1).
func TestLeNetLearnsFashionMNIST(t *testing.T) {
	const dataDir = "/usr/share/datasets/fashion-mnist"
	if _, err := os.Stat(dataDir); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("Fashion-MNIST not installed (scripts/deps.sh installs dataset-fashion-mnist): %v", err)
		}
		t.Skipf("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist): %v", err)
	}
	load := func(images, labels string, n int) *seqSource {
		dims, pix, err := data.ReadIDX(filepath.Join(dataDir, images))
		if err != nil {
			t.Fatal(err)
		}
		_, lab, err := data.ReadIDX(filepath.Join(dataDir, labels))
		if err != nil {
			t.Fatal(err)
		}
		if len(dims) != 3 || dims[1] != 28 || dims[2] != 28 {
			t.Fatalf("%s: dims %v", images, dims)
		}
		src := &seqSource{shape: []int{1, 28, 28}, n: n, data: make([]float32, n*784), labels: make([]float32, n)}
		for i := range src.data {
			src.data[i] = float32(pix[i]) * 0.00390625
		}
		for i := range src.labels {
			src.labels[i] = float32(lab[i])
		}
		return src
	}
	setSeqSource(t, "train", load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 2000))
	setSeqSource(t, "test", load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 1000))
	sp := lenetSolver(t, t.TempDir())
	sp.MaxIter = proto.Int32(300)
	sp.TestIter = []int32{10}
	sp.TestInterval = proto.Int32(300)
	sp.Snapshot = proto.Int32(0)
	sp.SnapshotAfterTrain = proto.Bool(false)
	rec := &lossRecorder{}
	s, err := New(sp, Options{Observers: []Observer{rec}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := s.Solve(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(rec.test) != 2 {
		t.Fatalf("%d tests, want 2 (at 0 and 300)", len(rec.test))
	}
	acc0, _ := rec.test[0].Value("accuracy")
	acc, _ := rec.test[1].Value("accuracy")
	t.Logf("accuracy %.4f at 0, %.4f after 300 iterations (%.1f s)", acc0, acc, time.Since(start).Seconds())
	if acc < 0.7 {
		t.Errorf("accuracy %.4f after 300 iterations, want >= 0.7 (chance is 0.1)", acc)
	}
	if first, last := rec.train[0].Loss, rec.train[len(rec.train)-1].Smoothed; last > first/2 {
		t.Errorf("loss went from %g to %g, want it at least halved", first, last)
	}
}

// TestLeNetThreadCountInvariant trains LeNet for a few iterations with 1
// and with 2 threads: a seeded run must give the same bits either way.
func TestLeNetThreadCountInvariant(t *testing.T) {
	setSeqSource(t, "train", randomSource(128, []int{1, 28, 28}, 10, 1))
	setSeqSource(t, "test", randomSource(100, []int{1, 28, 28}, 10, 2))
	run := func(threads int) [][]uint32 {
		blas.SetThreads(threads)
		s, err := New(lenetSolver(t, t.TempDir()), Options{NoTestNets: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Step(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
		return paramsBits(s)
	}
	defer blas.SetThreads(0)
	if !equalBits(run(1), run(2)) {
		t.Error("LeNet weights after 3 iterations differ between 1 and 2 threads")
	}
}
