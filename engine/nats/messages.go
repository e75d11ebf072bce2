package nats

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// maxMessage bounds the JSON messages (tasks, results, KV entries) a process
// decodes; everything model-sized travels as blobs (blobs.go).
const maxMessage = 64 << 10

// Task asks a worker to run one round on one partition. It names, rather
// than carries, the megabytes: the round's broadcast and the partition's
// state are blobs in the run's streams.
type Task struct {
	Run        string `json:"run"`
	Round      int    `json:"round"`
	Iter       int    `json:"iter"`
	Partition  int    `json:"partition"`
	Partitions int    `json:"partitions"`
	Tau        int    `json:"tau"`
	// Codec and Momentum are the round's parallel.Codec and
	// parallel.MomentumMode names; LoadHistory says the weights blob
	// carries the global history (HistoryLen values) for the workers.
	Codec       string `json:"codec"`
	Momentum    string `json:"momentum"`
	LoadHistory bool   `json:"load_history,omitempty"`
	HistoryLen  int    `json:"history_len,omitempty"`
	// Fault makes the worker fail in the middle of the round (fault
	// injection, parallel.RoundSpec.FaultPartition).
	Fault bool `json:"fault,omitempty"`
	// Weights is the blob holding the round's broadcast, of WeightsSize
	// bytes: the weights whole, or, when Update is set, the update (in
	// Codec) of the previous round's weights, which a worker that does not
	// hold those replaces by the weights whole, asked of the driver.
	Weights     string `json:"weights"`
	WeightsSize int64  `json:"weights_size"`
	Update      bool   `json:"update,omitempty"`
	// State is the blob holding the partition's state after its last
	// committed round (StateRound); "" for a fresh partition. Its worker
	// stores it after reporting, so it may not exist yet: a worker that
	// does not hold it in memory waits for it, and, if its worker died
	// before storing it, uses Fallback (the last state known stored; ""
	// for a fresh partition) instead.
	State      string `json:"state,omitempty"`
	StateRound int    `json:"state_round"`
	Fallback   string `json:"fallback,omitempty"`
	// Spec is the run's specification object (solver, options, data) in
	// the run's object store;
	// Epoch identifies the driver process (a resumed driver has another).
	Spec  string `json:"spec"`
	Epoch string `json:"epoch"`
	// Deadline, when set, is when the driver stops waiting for this round
	// (Unix milliseconds); a worker does not start a task past it.
	Deadline int64 `json:"deadline,omitempty"`
}

func (t *Task) check() error {
	switch {
	case CheckRunID(t.Run) != nil:
		return fmt.Errorf("task: %w", CheckRunID(t.Run))
	case t.Round < 0 || t.Iter < 0 || t.Tau <= 0:
		return fmt.Errorf("task: bad round %d, iteration %d or tau %d", t.Round, t.Iter, t.Tau)
	case t.Partitions <= 0 || t.Partition < 0 || t.Partition >= t.Partitions:
		return fmt.Errorf("task: partition %d of %d", t.Partition, t.Partitions)
	case t.Weights == "" || t.WeightsSize <= 0 || t.Spec == "":
		return errors.New("task: names no weights or spec")
	}
	return nil
}

// Result is a worker's report of a task (Kind "", sent once its delta is
// stored) or of the partition state it then stores (Kind "stored").
type Result struct {
	Kind      string `json:"kind,omitempty"`
	Run       string `json:"run"`
	Round     int    `json:"round"`
	Partition int    `json:"partition"`
	Worker    string `json:"worker"`
	// Delta and State are the blobs of the encoded parallel.Delta and of
	// the partition's state after the round (stored after the report).
	Delta     string `json:"delta,omitempty"`
	DeltaSize int64  `json:"delta_size,omitempty"`
	State     string `json:"state,omitempty"`
	StateSize int64  `json:"state_size,omitempty"`
	// Error is set when the task failed on the worker; the other blob
	// fields are then empty.
	Error string `json:"error,omitempty"`
	// Timings, in seconds: fetching the weights and state, the tau
	// iterations, storing delta and state; and the bytes the worker read
	// of the weights and of the state for this task (0 when cached).
	FetchS       float64 `json:"fetch_s"`
	ComputeS     float64 `json:"compute_s"`
	StoreS       float64 `json:"store_s"`
	WeightsReadB int64   `json:"weights_read_bytes"`
	StateReadB   int64   `json:"state_read_bytes"`
	// WeightsFull says the worker read the weights whole rather than the
	// round's update (it did not hold the previous round's weights).
	WeightsFull bool    `json:"weights_full,omitempty"`
	Loss        float32 `json:"loss"`
	// Delivery is the task's delivery count (1 on the first try).
	Delivery uint64 `json:"delivery"`
}

// RunInfo is a run's entry in the runs bucket.
type RunInfo struct {
	Run        string    `json:"run"`
	Net        string    `json:"net"`
	Driver     string    `json:"driver"`
	Partitions int       `json:"partitions"`
	Tau        int       `json:"tau"`
	Started    time.Time `json:"started"`
	// Round is the round in flight (-1 before the first), started at
	// RoundStarted; Done lists, per partition, what is known of it.
	Round        int             `json:"round"`
	RoundStarted time.Time       `json:"round_started"`
	Iter         int             `json:"iter"`
	MaxIter      int             `json:"max_iter"`
	Parts        []PartitionInfo `json:"parts,omitempty"`
	// LastRoundS is the wall time of the previous round; LastOverheadS the
	// part of it not spent computing on the slowest worker.
	LastRoundS    float64 `json:"last_round_s"`
	LastOverheadS float64 `json:"last_overhead_s"`
	LastBytes     int64   `json:"last_bytes"`
}

// PartitionInfo is the state of one partition in the round in flight.
type PartitionInfo struct {
	Status   string  `json:"status"` // queued, done, failed, dropped
	Worker   string  `json:"worker,omitempty"`
	ComputeS float64 `json:"compute_s,omitempty"`
	Error    string  `json:"error,omitempty"`
}

// WorkerInfo is a worker's entry in the workers bucket.
type WorkerInfo struct {
	Name    string    `json:"name"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Threads int       `json:"threads"`
	Started time.Time `json:"started"`
	Seen    time.Time `json:"seen"`
	// Busy describes the task in progress ("" when idle).
	Busy string `json:"busy,omitempty"`
	// Tasks counts the tasks done; Failed those that failed.
	Tasks  int `json:"tasks"`
	Failed int `json:"failed"`
	// Last is the timing of the last task.
	LastRun      string  `json:"last_run,omitempty"`
	LastRound    int     `json:"last_round"`
	LastFetchS   float64 `json:"last_fetch_s"`
	LastComputeS float64 `json:"last_compute_s"`
	LastStoreS   float64 `json:"last_store_s"`
}

// decodeJSON decodes a bounded JSON message.
func decodeJSON(b []byte, v any) error {
	if len(b) > maxMessage {
		return fmt.Errorf("message of %d bytes (at most %d)", len(b), maxMessage)
	}
	return json.Unmarshal(b, v)
}
