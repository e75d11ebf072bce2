package solver

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/layers"
	"github.com/sparknet/sparknet/tensor"
)

// seqSource is an in-memory data set for the "TestSeq" layer.
type seqSource struct {
	shape  []int // one example, e.g. {1, 28, 28}
	data   []float32
	labels []float32
	n      int
}

var (
	seqMu      sync.Mutex
	seqSources = map[string]*seqSource{}
)

// setSeqSource makes data available to TestSeq layers with the given name.
func setSeqSource(t testing.TB, name string, src *seqSource) {
	t.Helper()
	seqMu.Lock()
	defer seqMu.Unlock()
	seqSources[name] = src
	t.Cleanup(func() {
		seqMu.Lock()
		delete(seqSources, name)
		seqMu.Unlock()
	})
}

// seqData is a data layer for the tests: it emits the examples of an
// in-memory source in order, wrapping around, batch_size at a time (from
// memory_data_param), and keeps its cursor as checkpointable state, as the
// real data layers do. Its source is chosen by the layer's name.
type seqData struct {
	src    *seqSource
	batch  int
	cursor int
}

func init() {
	layers.Register("TestSeq", func(p *pb.LayerParameter, ctx *layers.Context) (layers.Layer, error) {
		seqMu.Lock()
		src := seqSources[p.GetName()]
		seqMu.Unlock()
		if src == nil {
			return nil, fmt.Errorf("no test source named %q", p.GetName())
		}
		return &seqData{src: src, batch: int(p.GetMemoryDataParam().GetBatchSize())}, nil
	})
}

func (l *seqData) Type() string { return "TestSeq" }

func (l *seqData) Setup(bottom, top []*tensor.Blob) error {
	if len(bottom) != 0 || len(top) != 2 {
		return errors.New("TestSeq takes no bottoms and makes data and label tops")
	}
	return l.Reshape(bottom, top)
}

func (l *seqData) Reshape(bottom, top []*tensor.Blob) error {
	top[0].Reshape(append([]int{l.batch}, l.src.shape...)...)
	top[1].Reshape(l.batch)
	return nil
}

func (l *seqData) Forward(bottom, top []*tensor.Blob) {
	dim := top[0].Count() / l.batch
	for i := 0; i < l.batch; i++ {
		j := l.cursor
		copy(top[0].Data[i*dim:(i+1)*dim], l.src.data[j*dim:(j+1)*dim])
		top[1].Data[i] = l.src.labels[j]
		l.cursor = (l.cursor + 1) % l.src.n
	}
}

func (l *seqData) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}

func (l *seqData) Params() []*tensor.Blob { return nil }

func (l *seqData) MarshalState() ([]byte, error) {
	return binary.AppendUvarint(nil, uint64(l.cursor)), nil
}

func (l *seqData) UnmarshalState(b []byte) error {
	c, n := binary.Uvarint(b)
	if n <= 0 || c >= uint64(l.src.n) {
		return fmt.Errorf("bad TestSeq state %x", b)
	}
	l.cursor = int(c)
	return nil
}

// randomSource makes n examples of the given shape with values drawn from a
// fixed linear congruential sequence and labels in [0, classes).
func randomSource(n int, shape []int, classes int, seed uint64) *seqSource {
	dim := 1
	for _, d := range shape {
		dim *= d
	}
	src := &seqSource{shape: shape, n: n, data: make([]float32, n*dim), labels: make([]float32, n)}
	x := seed*2862933555777941757 + 3037000493
	next := func() float64 {
		x = x*6364136223846793005 + 1442695040888963407
		return float64(x>>11) / (1 << 53)
	}
	for i := range src.data {
		src.data[i] = float32(next()*2 - 1)
	}
	for i := range src.labels {
		src.labels[i] = float32(int(next() * float64(classes)))
	}
	return src
}

// parseSolver parses a solver prototxt in a test.
func parseSolver(t *testing.T, text string) *pb.SolverParameter {
	t.Helper()
	p, err := caffe.ParseSolver("test_solver.prototxt", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newSolver builds a solver from prototxt text, failing the test on error.
func newSolver(t *testing.T, text string, opt Options) *Solver {
	t.Helper()
	s, err := New(parseSolver(t, text), opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lossRecorder is an Observer that keeps every record.
type lossRecorder struct {
	train []TrainRecord
	test  []TestResult
}

func (r *lossRecorder) OnTrain(x TrainRecord) { r.train = append(r.train, x) }
func (r *lossRecorder) OnTest(x TestResult)   { r.test = append(r.test, x) }

// paramsBits returns a copy of the bits of every learnable parameter.
func paramsBits(s *Solver) [][]uint32 {
	var out [][]uint32
	for _, p := range s.Net().Params() {
		b := make([]uint32, len(p.Data))
		for i, v := range p.Data {
			b[i] = math.Float32bits(v)
		}
		out = append(out, b)
	}
	return out
}

func equalBits(a, b [][]uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// solve runs Solve with a background context, failing the test on error.
func solve(t *testing.T, s *Solver) {
	t.Helper()
	if err := s.Solve(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// logBuffer is a concurrency-safe log sink.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
