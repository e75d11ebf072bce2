package parallel

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"runtime"
	"runtime/debug"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/lewire"
	"github.com/sparknet/sparknet/solver"
	"github.com/sparknet/sparknet/tensor"
)

// WorkerConfig describes one worker of a run.
type WorkerConfig struct {
	// Solver is the run's upgraded solver definition; SolverDir is where
	// relative net file names are looked up.
	Solver    *pb.SolverParameter
	SolverDir string
	// Seed is the run's seed; the worker's own is WorkerSeed(Seed,
	// Partition).
	Seed int64
	// Partition is the worker's data partition, of Partitions.
	Partition, Partitions int
	// Log receives the worker solver's messages (nil: none).
	Log io.Writer
}

// Worker trains one replica of the model on one partition of the data: it
// owns a solver (its net, its solver history, its data cursor and random
// state) and, with a lossy codec, its error-feedback residual. It is not
// safe for concurrent use; an engine runs one round on it at a time.
type Worker struct {
	cfg    WorkerConfig
	s      *solver.Solver
	layout Layout
	params []*tensor.Blob

	// residual is the error-feedback residual of lossy codecs (flat).
	residual []float32
	// Encode buffers, reused from round to round.
	half   []uint16
	q      []int8
	scales []float32
	// dirty is set when a round failed (error or panic) other than by
	// cancellation: the next round resets the history and residual, whose
	// state is then unknown.
	dirty bool
}

// WorkerSeed returns the seed of partition i's solver: the run's seed for
// partition 0 (so one worker is exactly plain training), and for the others
// a SplitMix64 mix of the seed and the partition, so their dropout and
// other random draws are independent.
func WorkerSeed(seed int64, partition int) int64 {
	if partition == 0 {
		return seed
	}
	z := uint64(seed) + uint64(partition)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return int64((z ^ (z >> 31)) & (1<<62 - 1))
}

// NewWorker builds a worker: a solver without test nets, reading partition
// cfg.Partition of cfg.Partitions of the training data.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.Partitions < 1 || cfg.Partition < 0 || cfg.Partition >= cfg.Partitions {
		return nil, fmt.Errorf("worker: partition %d of %d is out of range", cfg.Partition, cfg.Partitions)
	}
	param := proto.Clone(cfg.Solver).(*pb.SolverParameter)
	// The driver broadcasts the weights: the workers need not load
	// pretrained ones, nor snapshot.
	param.Weights = nil
	s, err := solver.New(param, solver.Options{
		OverrideSeed: true,
		Seed:         WorkerSeed(cfg.Seed, cfg.Partition),
		Shard:        cfg.Partition,
		Shards:       cfg.Partitions,
		NoTestNets:   true,
		Log:          cfg.Log,
		SolverDir:    cfg.SolverDir,
	})
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", cfg.Partition, err)
	}
	w := &Worker{cfg: cfg, s: s, params: s.Net().Params()}
	w.layout = LayoutOf(s.Net())
	return w, nil
}

// Close releases the data sources of the worker's net (solver.Solver.Close).
// The worker must not run after Close.
func (w *Worker) Close() error { return w.s.Close() }

// Partition returns the worker's partition.
func (w *Worker) Partition() int { return w.cfg.Partition }

// Layout returns the worker's parameter layout.
func (w *Worker) Layout() Layout { return w.layout }

// Solver returns the worker's solver.
func (w *Worker) Solver() *solver.Solver { return w.s }

// HistorySets returns the number of history blobs the solver keeps per
// parameter blob (2 for AdaDelta and Adam, else 1).
func (w *Worker) HistorySets() int { return len(w.s.History()) / max(len(w.params), 1) }

// PanicError is a panic inside a worker's round, recovered.
type PanicError struct {
	Partition int
	Value     any
	Stack     []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("worker %d panicked: %v", e.Partition, e.Value)
}

// InjectedFault is the panic value of a fault injected on purpose
// (RoundSpec.FaultPartition).
type InjectedFault struct{ Round, Partition int }

func (f InjectedFault) String() string {
	return fmt.Sprintf("injected fault (round %d, partition %d)", f.Round, f.Partition)
}

// RunRound runs one round: it loads the global weights (and, as the
// momentum mode says, the global history), sets the solver's iteration to
// the round's global iteration, runs spec.Steps training iterations, and
// returns its result as a Delta. A codec-none Delta aliases the worker's
// parameters (and, in momentum mode average, its history): it is valid
// until the worker's next round.
//
// A panic inside the round is recovered and returned as a *PanicError; a
// cancelled ctx stops the round between iterations with ctx's error. After
// a failure other than cancellation, or when spec.Reset names the
// partition (the driver rejected its last delta), the round starts with
// zero history (unless it loads the global one) and zero residual.
func (w *Worker) RunRound(ctx context.Context, g Global, spec RoundSpec) (d *Delta, err error) {
	start := time.Now()
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, &PanicError{Partition: w.cfg.Partition, Value: r, Stack: debug.Stack()}
		}
		if err != nil && ctx.Err() == nil {
			w.dirty = true
		}
	}()
	if err := w.checkSpec(g, spec); err != nil {
		return nil, err
	}
	w.layout.Scatter(g.Weights, w.params)
	hist := w.s.History()
	switch {
	case spec.LoadHistory:
		for i, h := range hist {
			copy(h.Data, w.historySegment(g.History, i))
		}
	case spec.Momentum == MomentumReset || w.dirty || slices.Contains(spec.Reset, w.cfg.Partition):
		for _, h := range hist {
			clear(h.Data)
		}
	}
	if w.dirty || slices.Contains(spec.Reset, w.cfg.Partition) {
		clear(w.residual)
		w.dirty = false
	}
	w.s.SetIter(spec.Iter)

	computeStart := time.Now()
	lossSum, lr, cpu, err := w.steps(ctx, spec)
	if err != nil {
		return nil, err
	}
	compute := time.Since(computeStart)

	d = &Delta{
		Run: spec.Run, Round: spec.Round, Iter: spec.Iter,
		Partition: w.cfg.Partition, Partitions: w.cfg.Partitions,
		Codec: spec.Codec, Counts: w.layout.Counts(),
		Stats: WorkerStats{Steps: spec.Steps, Smoothed: w.s.SmoothedLoss(), LR: lr, Compute: compute, CPU: cpu},
	}
	if spec.Steps > 0 {
		d.Stats.Loss = float32(lossSum / float64(spec.Steps))
	}
	// The values are checked finite by the combiner (for codec none in the
	// same pass that averages them).
	if err := w.encode(d, g.Weights); err != nil {
		return nil, err
	}
	if spec.Momentum == MomentumAverage {
		d.History = make([][]float32, len(hist))
		for i, h := range hist {
			d.History[i] = h.Data
		}
	}
	d.Stats.Total = time.Since(start)
	return d, nil
}

// steps runs the round's iterations on a locked OS thread, so that their
// CPU time can be measured; it returns the sum of their losses, the last
// one's learning rate and the thread's CPU time.
func (w *Worker) steps(ctx context.Context, spec RoundSpec) (lossSum float64, lr float32, cpu time.Duration, err error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, ok := threadCPU()
	for k := 0; k < spec.Steps; k++ {
		if spec.FaultPartition == w.cfg.Partition && k == spec.Steps/2 {
			panic(InjectedFault{Round: spec.Round, Partition: w.cfg.Partition})
		}
		lr = w.s.LearningRate()
		if err := w.s.Step(ctx, 1); err != nil {
			return 0, 0, 0, fmt.Errorf("worker %d: %w", w.cfg.Partition, err)
		}
		lossSum += float64(w.s.LastLoss())
	}
	if cpu1, ok1 := threadCPU(); ok && ok1 {
		cpu = cpu1 - cpu0
	}
	return lossSum, lr, cpu, nil
}

// checkSpec validates a round's inputs.
func (w *Worker) checkSpec(g Global, spec RoundSpec) error {
	switch {
	case spec.Partitions != w.cfg.Partitions:
		return fmt.Errorf("worker %d: round for %d partitions, the worker is one of %d", w.cfg.Partition, spec.Partitions, w.cfg.Partitions)
	case len(g.Weights) != w.layout.Len():
		return fmt.Errorf("worker %d: %d global weights for a model of %d parameters", w.cfg.Partition, len(g.Weights), w.layout.Len())
	case spec.LoadHistory && len(g.History) != w.layout.Len()*w.HistorySets():
		return fmt.Errorf("worker %d: %d global history values, the solver has %d", w.cfg.Partition, len(g.History), w.layout.Len()*w.HistorySets())
	case spec.Steps < 0 || spec.Iter < 0:
		return fmt.Errorf("worker %d: round of %d steps from iteration %d", w.cfg.Partition, spec.Steps, spec.Iter)
	case spec.Codec >= numCodecs:
		return fmt.Errorf("worker %d: unknown codec %d", w.cfg.Partition, spec.Codec)
	}
	return nil
}

// historySegment returns history blob i's part of a flat history.
func (w *Worker) historySegment(flat []float32, i int) []float32 {
	n := w.layout.Blobs()
	off := (i/n)*w.layout.Len() + w.layout.Offset(i%n)
	return flat[off : off+w.layout.Count(i%n)]
}

// encode fills d's payload: the weights themselves, or the error-fed
// update against the global weights g.
func (w *Worker) encode(d *Delta, g []float32) error {
	if !d.Codec.Lossy() {
		d.Weights = make([][]float32, len(w.params))
		for i, p := range w.params {
			d.Weights[i] = p.Data
		}
		return nil
	}
	n := w.layout.Len()
	if len(w.residual) != n {
		w.residual = make([]float32, n)
	}
	switch d.Codec {
	case CodecFP16, CodecBF16:
		if len(w.half) != n {
			w.half = make([]uint16, n)
		}
		d.Half = w.half
	case CodecInt8:
		if len(w.q) != n {
			w.q = make([]int8, n)
			w.scales = make([]float32, len(w.params))
		}
		d.Int8, d.Scales = w.q, w.scales
	}
	for i, p := range w.params {
		lo, hi := w.layout.Offset(i), w.layout.Offset(i)+w.layout.Count(i)
		var half []uint16
		var q []int8
		if d.Half != nil {
			half = d.Half[lo:hi]
		}
		if d.Int8 != nil {
			q = d.Int8[lo:hi]
		}
		scale := encodeUpdate(d.Codec, p.Data, g[lo:hi], w.residual[lo:hi], half, q)
		if d.Codec == CodecInt8 {
			if math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) {
				return fmt.Errorf("worker %d: the update of %s overflows float32", w.cfg.Partition, w.layout.Name(i))
			}
			d.Scales[i] = scale
		}
	}
	return nil
}

// Worker states are binary: magic "SNWS", version, partition, partitions,
// solver iteration, flags (dirty), the solver's run state
// (solver.MarshalRunState: data cursors, random state, smoothed-loss
// window), the history values, the residual values, and a CRC-32C.
const (
	workerMagic   = "SNWS"
	workerVersion = 1
)

// MarshalState encodes what an exact resume of the worker needs: its
// solver's run state (data cursor, random state, loss window), its history
// and its error-feedback residual. Call it between rounds.
func (w *Worker) MarshalState() ([]byte, error) { return w.AppendState(nil) }

// AppendState appends the worker's state (see MarshalState) to b, which may
// be a buffer of an earlier state, reused.
func (w *Worker) AppendState(b []byte) ([]byte, error) {
	rs, err := w.s.MarshalRunState()
	if err != nil {
		return nil, fmt.Errorf("worker %d: %w", w.cfg.Partition, err)
	}
	le := binary.LittleEndian
	hist := w.s.History()
	n := 0
	for _, h := range hist {
		n += h.Count()
	}
	start := len(b)
	b = slices.Grow(b, 4+2+4+4+8+1+4+len(rs)+8+4*n+8+4*len(w.residual)+4)
	b = append(b, workerMagic...)
	b = le.AppendUint16(b, workerVersion)
	b = le.AppendUint32(b, uint32(w.cfg.Partition))
	b = le.AppendUint32(b, uint32(w.cfg.Partitions))
	b = le.AppendUint64(b, uint64(w.s.Iter()))
	var flags byte
	if w.dirty {
		flags |= 1
	}
	b = append(b, flags)
	b = le.AppendUint32(b, uint32(len(rs)))
	b = append(b, rs...)
	b = le.AppendUint64(b, uint64(n))
	for _, h := range hist {
		b = lewire.AppendFloat32s(b, h.Data)
	}
	b = le.AppendUint64(b, uint64(len(w.residual)))
	b = lewire.AppendFloat32s(b, w.residual)
	return le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// UnmarshalState restores a state saved by MarshalState for the same
// partition of a run of the same model.
func (w *Worker) UnmarshalState(b []byte) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("worker %d state: %s", w.cfg.Partition, fmt.Sprintf(format, args...))
	}
	if len(b) < 4+2+4+4+8+1+4+8+8+4 || string(b[:4]) != workerMagic {
		return fail("not a worker state")
	}
	body := b[:len(b)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(b[len(b)-4:]) {
		return fail("checksum mismatch (the file is corrupted)")
	}
	r := reader{b: body[4:]}
	if v := r.u16(); v != workerVersion {
		return fail("version %d, this sparknet reads version %d", v, workerVersion)
	}
	part, parts := int(r.u32()), int(r.u32())
	if part != w.cfg.Partition || parts != w.cfg.Partitions {
		return fail("saved for partition %d of %d", part, parts)
	}
	iter := int(r.u64())
	flags := r.u8()
	rs := r.bytes(int(r.u32()))
	n := int(r.u64())
	hist := w.s.History()
	want := 0
	for _, h := range hist {
		want += h.Count()
	}
	if r.err != nil || n != want {
		return fail("holds %d history values, the solver has %d", n, want)
	}
	hv := r.floats(n)
	m := int(r.u64())
	if r.err != nil || (m != 0 && m != w.layout.Len()) {
		return fail("holds a residual of %d values for %d parameters", m, w.layout.Len())
	}
	res := r.floats(m)
	if r.err != nil || len(r.b) != 0 {
		return fail("malformed")
	}
	w.s.SetIter(iter)
	if err := w.s.UnmarshalRunState(rs); err != nil {
		return fail("%v", err)
	}
	off := 0
	for _, h := range hist {
		off += copy(h.Data, hv[off:])
	}
	if m == 0 {
		w.residual = nil
	} else {
		w.residual = res
	}
	w.dirty = flags&1 != 0
	return nil
}

// errorIsCancel reports whether err comes from a cancelled or expired
// context.
func errorIsCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
