package parallel

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/sparknet/sparknet/caffe/pb"
)

// MomentumMode is what happens to the workers' solver history (momentum,
// or AdaGrad/RMSProp/AdaDelta/Adam accumulators) across rounds.
type MomentumMode uint8

// The momentum modes.
const (
	// MomentumLocal (the default, as SparkNet): each worker keeps its own
	// history from round to round; only weights are exchanged. With one
	// worker this is plain training, bit for bit.
	MomentumLocal MomentumMode = iota
	// MomentumReset: every worker starts each round with zero history.
	MomentumReset
	// MomentumAverage: workers send their history with their weights (as
	// float32, doubling the bytes of codec none); the driver averages it
	// and every worker starts the next round from the average.
	MomentumAverage
)

var momentumNames = [...]string{"local", "reset", "average"}

// String returns the flag name.
func (m MomentumMode) String() string {
	if int(m) < len(momentumNames) {
		return momentumNames[m]
	}
	return fmt.Sprintf("MomentumMode(%d)", int(m))
}

// ParseMomentumMode reads local, reset or average.
func ParseMomentumMode(s string) (MomentumMode, error) {
	for i, n := range momentumNames {
		if strings.EqualFold(s, n) {
			return MomentumMode(i), nil
		}
	}
	return 0, fmt.Errorf("unknown momentum mode %q (want local, reset or average)", s)
}

// Job is what an engine needs to create the workers of a run.
type Job struct {
	// RunID names the run (deltas carry it).
	RunID string
	// Solver is the upgraded solver definition; SolverDir is where its
	// relative net file names are looked up (see solver.Options).
	Solver    *pb.SolverParameter
	SolverDir string
	// Seed is the run's seed (already resolved when random_seed is -1);
	// worker i derives its own from it (WorkerSeed).
	Seed int64
	// Partitions is K, the number of workers, each reading partition i of
	// K of the training data.
	Partitions int
	// Layout is the model's parameter layout, as the driver built it.
	Layout Layout
	// Log receives the engine's messages (nil: none).
	Log io.Writer
}

// RoundSpec describes one round to the workers.
type RoundSpec struct {
	Run string
	// Round is the round's index (from 0); Iter the global iteration at its
	// start, which the workers' learning-rate schedules use; Steps the
	// number of local iterations (tau, or what is left of max_iter).
	Round, Iter, Steps int
	Partitions         int
	Codec              Codec
	Momentum           MomentumMode
	// LoadHistory makes the workers take their history from Global.History
	// (always in MomentumAverage; once after resuming a parallel run from a
	// single solver's snapshot).
	LoadHistory bool
	// Reset lists partitions whose last delta the driver rejected (e.g. a
	// NaN): their workers start this round with zero history and residual.
	Reset []int
	// FaultPartition, when >= 0, is a partition whose worker fails on
	// purpose in the middle of the round (fault injection for tests).
	FaultPartition int
}

// Expect returns the expectations of the round's deltas.
func (s RoundSpec) Expect(l Layout, historySets int) Expect {
	e := Expect{Run: s.Run, Round: s.Round, Iter: s.Iter, Partitions: s.Partitions, Codec: s.Codec, Layout: l}
	if s.Momentum == MomentumAverage {
		e.HistorySets = historySets
	}
	return e
}

// Global is what the driver broadcasts at the start of a round.
type Global struct {
	// Weights are the weights every worker starts the round from (flat,
	// the run's Layout), the reference of its update: with codec none the
	// global weights themselves; with a lossy codec the replica R the
	// workers hold (see Broadcast). They stay unchanged until Round
	// returns.
	Weights []float32
	// Update, when not nil, is how the previous round's Weights became
	// these (Weights = previous Weights + decode(Update), Broadcast.Apply,
	// bit for bit): what a lossy round sends to workers that hold the
	// previous round's weights. Nil when the round sends the weights whole
	// (codec none; the first round of a lossy run, or one resumed without
	// a saved replica).
	Update *Broadcast
	// History is the global solver history (flat, history sets one after
	// the other) when RoundSpec.LoadHistory is set; nil otherwise.
	History []float32
}

// Outcome is how one partition's round went.
type Outcome struct {
	Partition int
	// Worker names the worker that ran it (e.g. "local/2", a host name).
	Worker string
	// Err is nil when the partition's delta was accepted by the combiner;
	// otherwise why not (a worker error or panic, a missed deadline, a bad
	// delta).
	Err   error
	Stats WorkerStats
}

// Engine runs the rounds of a parallel run on some set of workers: the
// local engine on goroutines, the NATS engine on worker processes. The
// driver (Train) owns the global state, the outer optimizer, tests and
// checkpoints; an engine only moves weights and results.
type Engine interface {
	// Start creates the run's workers. It is called once, before any
	// other method.
	Start(ctx context.Context, job Job) error
	// Round broadcasts g, has every partition's worker run the round, and
	// hands each worker's Delta to comb (Add, or AddNoCopy when the delta
	// stays valid until comb.Finish) as it arrives. It returns when every
	// partition has finished or failed, or soon after ctx is done (the
	// round deadline), with one Outcome per partition, in partition order;
	// partitions that did not finish in time have an error wrapping
	// context.DeadlineExceeded. A worker that failed must be able to run
	// the next round. A non-nil error means the engine itself failed and
	// the run stops.
	Round(ctx context.Context, spec RoundSpec, g Global, comb *Combiner) ([]Outcome, error)
	// States returns each partition's worker state (Worker.MarshalState),
	// for a checkpoint; it is called between rounds.
	States(ctx context.Context) ([][]byte, error)
	// Restore sets each partition's worker state from a checkpoint, before
	// the first round.
	Restore(ctx context.Context, states [][]byte) error
	// Close releases the workers.
	Close() error
}

// RoundTimeout is the error of a partition that missed the round deadline.
type RoundTimeout struct{ Partition int }

func (e *RoundTimeout) Error() string {
	return fmt.Sprintf("partition %d missed the round deadline", e.Partition)
}

// Unwrap returns context.DeadlineExceeded.
func (e *RoundTimeout) Unwrap() error { return context.DeadlineExceeded }
