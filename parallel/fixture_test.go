package parallel_test

import (
	"context"
	"math"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/engine/local"
	"github.com/sparknet/sparknet/layers"
	"github.com/sparknet/sparknet/parallel"
	"github.com/sparknet/sparknet/parallel/internal/fixture"
	"github.com/sparknet/sparknet/solver"
	"github.com/sparknet/sparknet/tensor"
)

// sleepLayer makes the worker of one partition a straggler: in TRAIN it
// sleeps in every Forward when its shard is straggler.Load().
const sleepLayer = `layer { name: "sleep" type: "TestSleep" bottom: "label" include { phase: TRAIN } }`

var (
	straggler  atomic.Int64 // partition that sleeps (-1: none)
	stragglerD atomic.Int64 // how long, per iteration
)

func init() {
	straggler.Store(-1)
	layers.Register("TestSleep", func(p *pb.LayerParameter, ctx *layers.Context) (layers.Layer, error) {
		return &sleeper{shard: ctx.Shard}, nil
	})
}

type sleeper struct {
	layers.Silence
	shard int
}

func (l *sleeper) Type() string { return "TestSleep" }

func (l *sleeper) Forward(bottom, top []*tensor.Blob) {
	if int64(l.shard) == straggler.Load() {
		time.Sleep(time.Duration(stragglerD.Load()))
	}
}

// setup is a test's directory with the net.
type setup struct {
	*fixture.Fixture
	dir string
}

var dataDir string

// newFixture writes (once per test binary) the data sets and returns a
// fixture in a fresh directory for the test's snapshots.
func newFixture(t testing.TB, extraLayers string) *setup {
	t.Helper()
	if dataDir == "" {
		dataDir = fixture.Data(t)
	}
	f := fixture.New(t, dataDir, extraLayers)
	return &setup{Fixture: f, dir: f.Dir}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if dataDir != "" {
		os.RemoveAll(dataDir)
	}
	os.Exit(code)
}

// solver returns a solver definition; extra is appended to the text.
func (f *setup) solver(t testing.TB, maxIter int, extra string) *pb.SolverParameter {
	return f.Solver(t, maxIter, extra)
}

// recorder is a solver.Observer that keeps everything.
type recorder struct {
	train []solver.TrainRecord
	test  []solver.TestResult
}

func (r *recorder) OnTrain(x solver.TrainRecord) { r.train = append(r.train, x) }
func (r *recorder) OnTest(x solver.TestResult)   { r.test = append(r.test, x) }

// train runs a parallel training with the local engine.
func train(t testing.TB, cfg parallel.Config, opt local.Options) (*parallel.Result, *recorder) {
	t.Helper()
	rec := &recorder{}
	cfg.Observers = append(cfg.Observers, rec)
	res, err := parallel.Train(context.Background(), cfg, local.New(opt))
	if err != nil {
		t.Fatal(err)
	}
	return res, rec
}

// sameBits reports the first element where a and b differ, or -1.
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			return j
		}
	}
	return -1
}

// accuracy returns the last test's accuracy.
func accuracy(t testing.TB, res *parallel.Result) float32 {
	t.Helper()
	if len(res.Tests) == 0 {
		t.Fatal("no test results")
	}
	a, ok := res.Tests[len(res.Tests)-1].Value("accuracy")
	if !ok {
		t.Fatal("no accuracy output")
	}
	return a
}
