package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sparknet/sparknet/parallel"
)

// trace logs the timing of every result (SPARKNET_NATS_TRACE=1).
var trace = os.Getenv("SPARKNET_NATS_TRACE") != ""

// Round runs one round on the workers; see parallel.Engine.
//
// The broadcast (the weights whole, or with a lossy codec their update)
// goes to the round's blob stream once; one task per partition goes to the
// work queue and a wake-up to the workers. A worker that does not hold the
// previous round's weights asks for this round's whole (serveFull). Results
// are taken as they come: each delta is fetched (at most two at a time, so
// the driver never holds more than a few models), validated and added to
// comb; a bad one is dropped and logged. The round ends when every partition
// has reported or failed, or at ctx's deadline; its blobs are then purged.
func (e *Engine) Round(ctx context.Context, spec parallel.RoundSpec, g parallel.Global, comb *parallel.Combiner) ([]parallel.Outcome, error) {
	start := time.Now()
	k := e.job.Partitions
	if spec.Partitions != k {
		return nil, fmt.Errorf("nats engine: round for %d partitions, the run has %d", spec.Partitions, k)
	}
	// Talking to the server must outlive the round's deadline (ctx):
	// cleanup and bookkeeping come after it.
	octx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
	defer cancel()

	var hist []float32
	if spec.LoadHistory {
		hist = g.History
	}
	l := e.job.Layout
	if len(g.Weights) != l.Len() {
		return nil, fmt.Errorf("nats engine: %d weights for a model of %d parameters", len(g.Weights), l.Len())
	}
	if g.Update != nil && g.Update.Codec != spec.Codec {
		return nil, fmt.Errorf("nats engine: a %s broadcast in a %s round", g.Update.Codec, spec.Codec)
	}
	e.wbuf = encodeGlobal(e.wbuf, spec.Run, spec.Round, spec.Iter, g.Weights, g.Update, l.Blobs(), hist)
	blob := e.wbuf
	wname := weightsObject(spec.Round)
	if _, err := e.rt.put(octx, wname, blob); err != nil {
		return nil, fmt.Errorf("nats engine: %w", err)
	}
	e.bcastMu.Lock()
	e.bcast = &roundBroadcast{run: spec.Run, round: spec.Round, iter: spec.Iter, weights: g.Weights, history: hist}
	e.bcastMu.Unlock()
	defer func() {
		// After this no worker gets these weights: the caller may change
		// them.
		e.bcastMu.Lock()
		e.bcast = nil
		e.bcastMu.Unlock()
	}()
	tPut := time.Since(start)
	var deadline int64
	if d, ok := ctx.Deadline(); ok {
		deadline = d.UnixMilli()
	}
	e.touchInfo(func(ri *RunInfo) {
		ri.Round, ri.Iter, ri.RoundStarted, ri.Tau = spec.Round, spec.Iter, time.Now().UTC(), spec.Steps
		ri.Parts = make([]PartitionInfo, k)
		for p := range ri.Parts {
			ri.Parts[p].Status = "queued"
		}
	})
	tasks := make([][]byte, k)
	for p := range tasks {
		ps := e.parts[p]
		t := Task{
			Run: spec.Run, Round: spec.Round, Iter: spec.Iter, Partition: p, Partitions: k,
			Tau: spec.Steps, Codec: spec.Codec.String(), Momentum: spec.Momentum.String(),
			LoadHistory: spec.LoadHistory, HistoryLen: len(hist),
			Weights: wname, WeightsSize: int64(len(blob)), Update: g.Update != nil,
			State: ps.committed, StateRound: ps.round, Fallback: ps.confirmed,
			Spec: specObject, Epoch: e.epoch, Deadline: deadline, Fault: spec.FaultPartition == p,
		}
		if t.State == "" {
			t.StateRound = -1
		}
		var err error
		if tasks[p], err = json.Marshal(t); err != nil {
			return nil, err
		}
	}
	// The tasks go out together (their acknowledgements awaited at once).
	if err := parallelDo(octx, k, func(ctx context.Context, p int) error {
		ack, err := e.js.Publish(ctx, e.names.taskSubject(p), tasks[p],
			jetstream.WithMsgID(spec.Run+"."+e.epoch+"."+strconv.Itoa(spec.Round)+"."+strconv.Itoa(p)))
		if err != nil {
			return fmt.Errorf("nats engine: publishing the task of partition %d: %w", p, err)
		}
		e.seqMu.Lock()
		e.seqs[ack.Sequence] = taskRef{spec.Round, p}
		e.seqMu.Unlock()
		return nil
	}); err != nil {
		return nil, err
	}
	// Wake the idle workers (a core message: workers that miss it poll).
	_ = e.conn.Publish(e.names.roundSubject(), []byte(strconv.Itoa(spec.Round)))

	outcomes := make([]parallel.Outcome, k)
	done := make([]bool, k)
	for p := range outcomes {
		outcomes[p].Partition = p
	}
	remaining := k
	var fetched, fullBytes, stateRead int64
	fulls := 0
	finish := func(p int, err error, worker string, stats parallel.WorkerStats) {
		done[p] = true
		remaining--
		outcomes[p].Err, outcomes[p].Worker, outcomes[p].Stats = err, worker, stats
		e.touchInfo(func(ri *RunInfo) {
			pi := &ri.Parts[p]
			pi.Worker, pi.ComputeS = worker, stats.Compute.Seconds()
			switch {
			case err == nil:
				pi.Status = "done"
			case errors.Is(err, parallel.ErrBadDelta):
				pi.Status, pi.Error = "dropped", err.Error()
			default:
				pi.Status, pi.Error = "failed", err.Error()
			}
		})
	}
	// Deltas are fetched and decoded concurrently with the next result's
	// arrival, two at a time; each adds itself to comb when ready.
	type accepted struct {
		r     Result
		stats parallel.WorkerStats
		err   error
	}
	acceptedCh := make(chan accepted, k)
	sem := make(chan struct{}, 2)
	var inflight sync.WaitGroup
	pending := map[int]bool{} // partitions whose delta is being fetched
	idle := time.NewTicker(10 * time.Second)
	defer idle.Stop()

	handle := func(m jetstream.Msg) {
		_ = m.Ack()
		var r Result
		if err := decodeJSON(m.Data(), &r); err != nil {
			e.logf("round %d: ignoring an unreadable result: %v", spec.Round, err)
			return
		}
		if r.Kind == kindStored {
			e.stored(octx, r)
			return
		}
		if r.Run != spec.Run || r.Round != spec.Round || r.Partition < 0 || r.Partition >= k {
			if r.Run == spec.Run && r.Round < spec.Round {
				e.discardLate(octx, r)
			} else {
				e.logf("round %d: ignoring a result for run %q round %d partition %d", spec.Round, r.Run, r.Round, r.Partition)
			}
			return
		}
		p := r.Partition
		if done[p] || pending[p] {
			// A redelivered task finished twice: the first result counts.
			e.discardLate(octx, r)
			return
		}
		worker := SanitizeName(r.Worker)
		if r.Error != "" {
			err := fmt.Errorf("partition %d on worker %s: %s", p, worker, r.Error)
			e.logf("round %d: %v", spec.Round, err)
			finish(p, err, worker, parallel.WorkerStats{})
			return
		}
		pending[p] = true
		inflight.Add(1)
		tr0 := time.Since(start)
		go func() {
			defer inflight.Done()
			sem <- struct{}{}
			stats, err := e.accept(octx, comb, r)
			<-sem
			if trace {
				e.logf("trace round %d: p%d from %s: result at %v (weights put %v), accepted at %v; worker fetch %.1fms compute %.1fms store %.1fms, read %d+%d bytes",
					spec.Round, p, worker, tr0.Round(time.Microsecond), tPut.Round(time.Microsecond), time.Since(start).Round(time.Microsecond),
					r.FetchS*1e3, r.ComputeS*1e3, r.StoreS*1e3, r.WeightsReadB, r.StateReadB)
			}
			acceptedCh <- accepted{r, stats, err}
		}()
	}
	onAccepted := func(a accepted) {
		p := a.r.Partition
		delete(pending, p)
		worker := SanitizeName(a.r.Worker)
		if a.err != nil {
			if errors.Is(a.err, parallel.ErrRoundClosed) {
				a.err = &parallel.RoundTimeout{Partition: p}
			} else {
				e.logf("round %d: dropped the result of partition %d from worker %s: %v", spec.Round, p, worker, a.err)
			}
			e.rejectState(a.r.State)
			finish(p, a.err, worker, a.stats)
			return
		}
		// The delta is in the round: the partition's state moves on.
		e.commit(octx, p, a.r.State, spec.Round)
		fetched += a.r.WeightsReadB
		if a.r.WeightsFull {
			fulls++
			fullBytes += a.r.WeightsReadB
		}
		stateRead += a.r.StateReadB
		finish(p, nil, worker, a.stats)
	}

	// At the deadline the round closes: deltas being fetched then are
	// refused by comb (a RoundTimeout), results not yet seen stay queued
	// and are discarded as late by the next round.
	ctxDone := ctx.Done()
	closed := false
	for remaining > 0 && !(closed && len(pending) == 0) {
		results := e.results
		if closed {
			results = nil
		}
		select {
		case <-ctxDone:
			comb.Close()
			closed, ctxDone = true, nil
		case a := <-acceptedCh:
			onAccepted(a)
		case <-idle.C:
			e.logWaiting(octx, spec.Round, done)
		case seq := <-e.failedCh:
			e.seqMu.Lock()
			ref, ok := e.seqs[seq]
			e.seqMu.Unlock()
			if ok && ref.round == spec.Round && !done[ref.partition] && !pending[ref.partition] {
				err := fmt.Errorf("partition %d: the task was delivered %d times and no worker finished it (workers died on it)", ref.partition, e.cfg.MaxDeliver)
				e.logf("round %d: %v", spec.Round, err)
				finish(ref.partition, err, "", parallel.WorkerStats{})
			}
		case m := <-results:
			handle(m)
		}
	}
	inflight.Wait()
	comb.Close()
	e.bcastMu.Lock()
	e.bcast = nil
	e.bcastMu.Unlock()
	for p := range outcomes {
		if !done[p] {
			outcomes[p].Err = &parallel.RoundTimeout{Partition: p}
			e.touchInfo(func(ri *RunInfo) { ri.Parts[p].Status = "late" })
		}
	}
	// Tasks nobody started (or redelivered after their result) are stale
	// now.
	if err := e.stream.Purge(octx, jetstream.WithPurgeSubject(e.names.taskFilter())); err != nil {
		e.logf("round %d: purging stale tasks: %v", spec.Round, err)
	}
	// So are the round's blobs: broadcast, deltas (late ones included).
	if err := e.rt.purge(octx); err != nil {
		e.logf("round %d: purging its blobs: %v", spec.Round, err)
	}
	e.seqMu.Lock()
	for s, ref := range e.seqs {
		if ref.round < spec.Round {
			delete(e.seqs, s)
		}
	}
	e.seqMu.Unlock()

	wall := time.Since(start)
	var compute time.Duration
	for _, o := range outcomes {
		compute = max(compute, o.Stats.Compute)
	}
	e.last = RoundStats{
		Wall: wall, Compute: compute, Overhead: wall - compute,
		WeightsBytes: int64(len(blob)), WeightsFetched: fetched, FullFetches: fulls, FullBytes: fullBytes,
		DeltaBytes: comb.Bytes(), StateBytes: stateRead, StateStored: e.storedBytes,
	}
	e.storedBytes = 0
	e.touchInfo(func(ri *RunInfo) {
		ri.LastRoundS, ri.LastOverheadS = wall.Seconds(), (wall - compute).Seconds()
		ri.LastBytes = int64(len(blob)) + fetched + comb.Bytes() + stateRead
	})
	if e.cfg.OnRound != nil {
		e.cfg.OnRound(e.last)
	}
	if e.rounds != nil {
		combined := 0
		for _, o := range outcomes {
			if o.Err == nil {
				combined++
			}
		}
		s := e.last
		b, _ := json.Marshal(roundRecord{
			Round: spec.Round, Iter: spec.Iter, Steps: spec.Steps, Combined: combined,
			WallS: wall.Seconds(), ComputeS: compute.Seconds(), OverheadS: (wall - compute).Seconds(),
			WeightsBytes: s.WeightsBytes, WeightsFetched: s.WeightsFetched, FullFetches: s.FullFetches, FullBytes: s.FullBytes,
			DeltaBytes: s.DeltaBytes, StateBytes: s.StateBytes, StateStored: s.StateStored,
		})
		if _, err := e.rounds.Write(append(b, '\n')); err != nil {
			e.logf("round statistics: %v", err)
		}
	}
	return outcomes, nil
}

// kindStored marks the report that a partition state was stored.
const kindStored = "stored"

// stored handles a worker's report that it stored a partition state.
func (e *Engine) stored(ctx context.Context, r Result) {
	if r.Partition < 0 || r.Partition >= len(e.parts) || r.Run != e.names.run {
		return
	}
	name := r.State
	ps := &e.parts[r.Partition]
	round := stateRound(name)
	if r.StateSize > 0 {
		e.storedBytes += r.StateSize
	}
	switch {
	case name == ps.confirmed:
	case e.accepted[name]:
		delete(e.accepted, name)
		if round >= ps.confRound {
			e.confirm(ctx, r.Partition, name)
		} else {
			_ = e.ss.del(ctx, name)
		}
	case e.rejected[name]:
		delete(e.rejected, name)
		_ = e.ss.del(ctx, name)
	case round <= ps.confRound:
		_ = e.ss.del(ctx, name) // superseded already
	default:
		// Stored before its result was accepted (its delta is being
		// fetched): confirmed when it is.
		e.pendingStored[name] = true
	}
}

// stateRound parses the round out of a state object name (-1 if none).
func stateRound(name string) int {
	parts := strings.Split(name, "/")
	if len(parts) != 4 {
		return -1
	}
	r, err := strconv.Atoi(parts[2])
	if err != nil {
		return -1
	}
	return r
}

// commit records that partition p's state after an accepted round is name.
func (e *Engine) commit(ctx context.Context, p int, name string, round int) {
	ps := &e.parts[p]
	ps.committed, ps.round = name, round
	e.accepted[name] = true
	if e.pendingStored[name] {
		delete(e.pendingStored, name)
		e.stored(ctx, Result{Run: e.names.run, Partition: p, State: name})
	}
}

// confirm records that name, a state of partition p, is stored, and drops
// the stored state it supersedes.
func (e *Engine) confirm(ctx context.Context, p int, name string) {
	ps := &e.parts[p]
	if old := ps.confirmed; old != "" && old != name {
		_ = e.ss.del(ctx, old)
	}
	ps.confirmed, ps.confRound = name, stateRound(name)
	for n := range e.accepted {
		if q, ok := statePartition(n); ok && q == p && stateRound(n) < ps.confRound {
			delete(e.accepted, n)
		}
	}
}

// rejectState deletes (now or when it is stored) a state whose result was
// not accepted.
func (e *Engine) rejectState(name string) {
	if name == "" {
		return
	}
	if e.pendingStored[name] {
		delete(e.pendingStored, name)
		_ = e.ss.del(context.Background(), name)
		return
	}
	e.rejected[name] = true
}

// accept fetches, decodes, validates and combines a worker's delta.
func (e *Engine) accept(ctx context.Context, comb *parallel.Combiner, r Result) (parallel.WorkerStats, error) {
	ex := comb.Expect()
	size := expectedDeltaSize(ex)
	if r.DeltaSize != size {
		return parallel.WorkerStats{}, fmt.Errorf("%w: the worker reports a delta of %d bytes, this round's are %d", parallel.ErrBadDelta, r.DeltaSize, size)
	}
	b, err := e.rt.get(ctx, r.Delta, size, size)
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return parallel.WorkerStats{}, fmt.Errorf("%w: %v", parallel.ErrBadDelta, err)
		}
		return parallel.WorkerStats{}, err
	}
	d, err := parallel.Decode(b, ex)
	if err != nil {
		return parallel.WorkerStats{}, err
	}
	if d.Partition != r.Partition {
		return d.Stats, fmt.Errorf("%w: the delta is for partition %d, the result for %d", parallel.ErrBadDelta, d.Partition, r.Partition)
	}
	if err := comb.Add(d); err != nil {
		return d.Stats, err
	}
	return d.Stats, nil
}

// expectedDeltaSize returns the exact encoded size of a delta matching ex.
func expectedDeltaSize(ex parallel.Expect) int64 {
	d := parallel.Delta{Run: ex.Run, Codec: ex.Codec, Counts: ex.Layout.Counts()}
	return int64(d.EncodedSize()) + 4*int64(ex.Layout.Len())*int64(ex.HistorySets)
}

// discardLate drops a result that came too late to count: its state is
// deleted (its delta goes with the round's blobs).
func (e *Engine) discardLate(ctx context.Context, r Result) {
	e.rejectState(r.State)
}

// logWaiting says what the round is waiting for.
func (e *Engine) logWaiting(ctx context.Context, round int, done []bool) {
	var missing []string
	for p, d := range done {
		if !d {
			missing = append(missing, strconv.Itoa(p))
		}
	}
	n := 0
	if lister, err := e.workers.ListKeys(ctx); err == nil {
		for range lister.Keys() {
			n++
		}
	}
	e.logf("round %d: waiting for partitions %v; %d workers registered on the server", round, missing, n)
}

// States returns each partition's state after its last accepted round,
// asking the worker that holds it to store it; a partition that never
// completed a round gets a fresh worker's state. When the worker holding a
// state is gone, the partition's last stored state is used (logged).
func (e *Engine) States(ctx context.Context) ([][]byte, error) {
	// Reports of stored states that came between rounds.
	for drained := false; !drained; {
		select {
		case m := <-e.results:
			_ = m.Ack()
			var r Result
			if decodeJSON(m.Data(), &r) != nil {
				continue
			}
			if r.Kind == kindStored {
				e.stored(ctx, r)
			} else {
				e.discardLate(ctx, r)
			}
		default:
			drained = true
		}
	}
	out := make([][]byte, len(e.parts))
	for p := range e.parts {
		ps := &e.parts[p]
		if ps.committed != ps.confirmed {
			ok, err := requestState(ctx, e.conn, e.ss, e.names.run, ps.committed)
			if err != nil {
				return nil, fmt.Errorf("nats engine: state of partition %d: %w", p, err)
			}
			if ok {
				delete(e.accepted, ps.committed)
				e.confirm(ctx, p, ps.committed)
			} else {
				e.logf("partition %d: its state %s is lost with the worker that held it; checkpointing the last stored one (%q)", p, ps.committed, ps.confirmed)
				ps.committed, ps.round = ps.confirmed, ps.confRound
			}
		}
		if ps.confirmed == "" {
			w, err := parallel.NewWorker(parallel.WorkerConfig{
				Solver: e.job.Solver, SolverDir: e.job.SolverDir, Seed: e.job.Seed,
				Partition: p, Partitions: e.job.Partitions,
			})
			if err != nil {
				return nil, err
			}
			if out[p], err = w.MarshalState(); err != nil {
				return nil, err
			}
			continue
		}
		b, err := e.ss.get(ctx, ps.confirmed, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("nats engine: state of partition %d: %w", p, err)
		}
		out[p] = b
	}
	return out, nil
}

// Restore stores each partition's state from a checkpoint; the first
// round's workers load them.
func (e *Engine) Restore(ctx context.Context, states [][]byte) error {
	if len(states) != len(e.parts) {
		return fmt.Errorf("nats engine: %d partition states for %d partitions", len(states), len(e.parts))
	}
	for p, b := range states {
		name := stateObject(-1, p, "restored-"+e.epoch)
		if _, err := e.ss.put(ctx, name, b); err != nil {
			return fmt.Errorf("nats engine: %w", err)
		}
		e.parts[p] = partState{committed: name, confirmed: name, round: -1, confRound: -1}
	}
	return nil
}

// serveFull answers a worker's request for the round's weights whole (it
// does not hold the previous round's, which the round's update applies
// to): it stores them as a blob, once per round, and replies "<blob>
// <size>", or "error: ..." when the round asked for is not in flight.
func (e *Engine) serveFull(m *nc.Msg) {
	round, err := strconv.Atoi(string(m.Data))
	if err != nil {
		_ = m.Respond([]byte("error: malformed request"))
		return
	}
	e.bcastMu.Lock()
	defer e.bcastMu.Unlock()
	b := e.bcast
	if b == nil || b.round != round {
		_ = m.Respond([]byte(fmt.Sprintf("error: round %d is not in flight", round)))
		return
	}
	if b.full == "" {
		e.fbuf = encodeGlobal(e.fbuf, b.run, b.round, b.iter, b.weights, nil, e.job.Layout.Blobs(), b.history)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		name := fullObject(round)
		if _, err := e.rt.put(ctx, name, e.fbuf); err != nil {
			_ = m.Respond([]byte("error: " + err.Error()))
			return
		}
		b.full, b.fullSize = name, int64(len(e.fbuf))
	}
	_ = m.Respond([]byte(b.full + " " + strconv.FormatInt(b.fullSize, 10)))
}
