package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/protobuf/proto"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/parallel"
)

// WorkerConfig configures a worker process.
type WorkerConfig struct {
	// URL and Security reach the NATS server.
	URL      string
	Security Security
	// Name identifies the worker (default host-pid); it must be unique
	// among the server's workers.
	Name string
	// Threads is the number of compute threads (for the status listing;
	// the caller sizes the pool).
	Threads int
	// CacheDir keeps shipped data between runs (default: the user cache
	// directory's sparknet/worker).
	CacheDir string
	// MaxPartitions bounds the partitions (net replicas) kept in memory per
	// run (0: 8).
	MaxPartitions int
	// Log receives the worker's messages.
	Log io.Writer
	// StoreEvery is how often a partition's state is stored in the run's state
	// stream. Zero stores it after every round (in the background, after
	// the report): a worker's death then loses nothing and the run's
	// result is the undisturbed one. A longer period saves that traffic
	// (a state is the size of the model or twice it, more than a
	// compressed delta): in between, a worker that takes a partition over
	// asks this one for its state, and this worker's death loses up to
	// that much of its partitions' progress (their data position and
	// history continue from the last stored state).
	StoreEvery time.Duration
	// shuffle (tests) ignores which partitions the worker ran last, so
	// partitions move between workers as often as they can.
	shuffle bool
	// Quiet drops the per-task log lines.
	Quiet bool
	// Fault corrupts every delta the worker sends, for tests of the
	// driver's validation: "nan" (a NaN weight) or "shape" (a blob one
	// value short). Empty: none.
	Fault string
}

// worker is a running worker process.
type worker struct {
	cfg     WorkerConfig
	log     io.Writer
	conn    *nc.Conn
	js      jetstream.JetStream
	workers jetstream.KeyValue
	runs    jetstream.KeyValue
	// slot is held while fetching and running a task: one task at a time.
	slot chan struct{}
	// dbuf is the encoded delta's buffer, reused from task to task.
	dbuf []byte

	mu     sync.Mutex
	info   WorkerInfo
	active map[string]context.CancelFunc // run loops by run id
	caches map[string]*runCache
	// uploads tracks the run loops and the state uploads in flight, which
	// a worker finishes before it exits; closing is set then.
	uploads sync.WaitGroup
	closing bool
}

// runCache is what a worker keeps of a run between tasks.
type runCache struct {
	run    string
	epoch  string
	st     *store     // specification, data
	rt     *blobStore // the round's weights and deltas
	ss     *blobStore // partition states
	spec   *runSpec
	solver *pb.SolverParameter
	layout parallel.Layout
	// The last round's weights (what its workers started from), the
	// reference of the next round's update; wRound is -1 when unknown.
	wName   string
	wRound  int
	weights []float32
	history []float32
	// mu guards parts against the state requests of other workers.
	mu         sync.Mutex
	parts      map[int]*partCache
	useCounter int
}

// partCache is one partition's worker replica; state names the state its
// memory holds ("" for a fresh replica that has not run, "?" after a
// failed round: unknown). held is the encoded state after the replica's
// last round (named heldName), encoded after its report (heldReady is
// closed then): other workers ask for it when the partition moves to them
// (see serveState); stored says it is in the state stream.
type partCache struct {
	w        *parallel.Worker
	state    string
	used     int
	held     []byte
	heldName string
	stored   bool
	storedAt time.Time
	// heldReady, when not nil, is closed once held is encoded.
	heldReady chan struct{}
	// uploading is set while held is being stored; spare is an earlier
	// state's buffer, free for the next (so a state is not a fresh
	// allocation every round).
	uploading bool
	spare     []byte
	// storeMu serializes the stores of a held state.
	storeMu sync.Mutex
}

// RunWorker serves tasks of every run on the server until ctx is done.
func RunWorker(ctx context.Context, cfg WorkerConfig) error {
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	cfg.Name = SanitizeName(cfg.Name)
	if cfg.MaxPartitions <= 0 {
		cfg.MaxPartitions = 8
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cfg.CacheDir = filepath.Join(dir, "sparknet", "worker")
	}
	switch cfg.Fault {
	case "", "nan", "shape":
	default:
		return fmt.Errorf("unknown fault %q (want nan or shape)", cfg.Fault)
	}
	w := &worker{cfg: cfg, log: cfg.Log, slot: make(chan struct{}, 1),
		active: map[string]context.CancelFunc{}, caches: map[string]*runCache{}}
	if w.log == nil {
		w.log = io.Discard
	}
	// A server that is not up yet (workers may start first), or too busy
	// to answer in time, is waited for; refused credentials end the
	// worker at once.
	host, _ := os.Hostname()
	w.info = WorkerInfo{Name: cfg.Name, Host: host, PID: os.Getpid(), Threads: cfg.Threads, Started: time.Now().UTC(), LastRound: -1}
	var logged time.Time
	for {
		err := w.connect(ctx)
		if err == nil {
			break
		}
		if !transient(err) {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
		if time.Since(logged) > 30*time.Second {
			w.logf("%v; retrying", err)
			logged = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	conn := w.conn
	defer conn.Close()
	var err error
	w.logf("worker %s connected to %s", cfg.Name, RedactURL(cfg.URL))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		w.heartbeat(ctx)
	}()
	err = w.watchRuns(ctx)
	w.mu.Lock()
	w.closing = true // keep the caches: their states are flushed below
	for _, cancel := range w.active {
		cancel()
	}
	w.mu.Unlock()
	wg.Wait()
	// Finish the state uploads in flight: another worker may need them.
	flushed := make(chan struct{})
	go func() {
		w.uploads.Wait()
		close(flushed)
	}()
	// (Without a server there is nobody to hand them to.)
	if conn.IsConnected() {
		select {
		case <-flushed:
		case <-time.After(15 * time.Second):
			w.logf("giving up on state uploads still in flight")
		}
		fctx, fcancel := context.WithTimeout(context.Background(), 15*time.Second)
		w.flush(fctx)
		fcancel()
	}
	dctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	_ = w.workers.Delete(dctx, cfg.Name)
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// connect connects to the server, opens the shared buckets and registers
// the worker; on failure it leaves no connection open.
func (w *worker) connect(ctx context.Context) (err error) {
	conn, err := Connect(w.cfg.URL, "sparknet worker "+w.cfg.Name, w.cfg.Security)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			conn.Close()
		}
	}()
	if w.js, err = jetstream.New(conn); err != nil {
		return err
	}
	if w.runs, w.workers, err = sharedBuckets(ctx, w.js); err != nil {
		return err
	}
	if err := w.register(ctx); err != nil {
		return err
	}
	w.conn = conn
	return nil
}

// transient reports whether an error connecting may go away by itself: no
// server yet, or one too busy to answer in time.
func transient(err error) bool {
	var ne net.Error
	return errors.Is(err, nc.ErrNoServers) || errors.Is(err, nc.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, jetstream.ErrJetStreamNotEnabled) ||
		errors.As(err, &ne) && ne.Timeout()
}

func (w *worker) logf(format string, args ...any) {
	fmt.Fprintf(w.log, "%s %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (w *worker) register(ctx context.Context) error {
	w.mu.Lock()
	w.info.Seen = time.Now().UTC()
	b, err := json.Marshal(w.info)
	w.mu.Unlock()
	if err != nil {
		return err
	}
	_, err = w.workers.Put(ctx, w.cfg.Name, b)
	return err
}

func (w *worker) heartbeat(ctx context.Context) {
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			if err := w.register(rctx); err != nil && ctx.Err() == nil {
				w.logf("heartbeat: %v", err)
			}
			cancel()
		}
	}
}

// watchRuns starts a task loop for every run announced in the runs bucket
// and stops it when the run's entry goes away.
func (w *worker) watchRuns(ctx context.Context) error {
	for {
		watcher, err := w.runs.WatchAll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("watching runs: %w", err)
		}
		for {
			var e jetstream.KeyValueEntry
			var ok bool
			select {
			case <-ctx.Done():
				watcher.Stop()
				return nil
			case e, ok = <-watcher.Updates():
			}
			if !ok {
				break
			}
			if e == nil {
				continue // end of the initial values
			}
			run := e.Key()
			switch e.Operation() {
			case jetstream.KeyValuePut:
				w.startRun(ctx, run, e.Value())
			default:
				w.stopRun(run)
			}
		}
		watcher.Stop()
		if ctx.Err() != nil {
			return nil
		}
		time.Sleep(time.Second) // the watcher ended (reconnect): watch again
	}
}

func (w *worker) startRun(ctx context.Context, run string, value []byte) {
	if CheckRunID(run) != nil {
		return
	}
	var info RunInfo
	if err := decodeJSON(value, &info); err != nil || info.Partitions < 1 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.active[run]; ok {
		return
	}
	rctx, cancel := context.WithCancel(ctx)
	w.active[run] = cancel
	w.uploads.Add(1)
	go func() {
		defer w.uploads.Done()
		w.serveRun(rctx, run, info.Partitions)
	}()
}

func (w *worker) stopRun(run string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if cancel, ok := w.active[run]; ok {
		cancel()
		delete(w.active, run)
	}
	if !w.closing {
		delete(w.caches, run)
	}
}

// Task polling. A worker asks first for the partitions it ran last (their
// state is in its memory), and only after stealGrace for the others, so
// that partitions stay with their workers while those live; a woken
// worker that finds nothing polls again every pollEvery (for tasks
// redelivered after a worker died, whose wake-up was long ago).
const (
	stealGrace = 5 * time.Millisecond
	pollEvery  = 500 * time.Millisecond
)

// serveRun takes the run's tasks, one at a time (sharing the slot with the
// other runs), until the run ends.
func (w *worker) serveRun(ctx context.Context, run string, k int) {
	defer w.stopRun(run)
	names := runNames{run: run}
	wake := make(chan int, 1)
	sub, err := w.conn.Subscribe(names.roundSubject(), func(m *nc.Msg) {
		r, err := strconv.Atoi(string(m.Data))
		if err != nil {
			return
		}
		select {
		case wake <- r:
		default:
			// A wake-up is pending: keep the newer round.
			select {
			case old := <-wake:
				r = max(r, old)
			default:
			}
			select {
			case wake <- r:
			default:
			}
		}
	})
	if err != nil {
		w.logf("run %s: %v", run, err)
		return
	}
	defer sub.Unsubscribe()
	req, err := w.conn.Subscribe(names.stateRequestSubject(w.cfg.Name), func(m *nc.Msg) {
		go w.serveState(run, m)
	})
	if err != nil {
		w.logf("run %s: %v", run, err)
		return
	}
	defer req.Unsubscribe()
	cons := make([]jetstream.Consumer, k)
	for p := range cons {
		for {
			cons[p], err = w.js.Consumer(ctx, names.stream(), taskConsumer(p))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, jetstream.ErrStreamNotFound) {
				return // the run is over
			}
			time.Sleep(200 * time.Millisecond) // the driver is still creating it
		}
	}
	ackWait := cons[0].CachedInfo().Config.AckWait
	w.logf("serving run %s (%d partitions)", run, k)
	var recent []int // partitions run here, most recent first
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(os.Getpid())))
	try := func(p int) (jetstream.Msg, bool) {
		batch, err := cons[p].FetchNoWait(1)
		if err != nil {
			return nil, !isGone(err)
		}
		for m := range batch.Messages() {
			return m, true
		}
		return nil, !isGone(batch.Error())
	}
	// roundOf reads a task's round.
	roundOf := func(data []byte) int {
		var t struct {
			Round int `json:"round"`
		}
		if decodeJSON(data, &t) != nil {
			return -1
		}
		return t.Round
	}
	stream, err := w.js.Stream(ctx, names.stream())
	if err != nil {
		if ctx.Err() == nil {
			w.logf("run %s: %v", run, err)
		}
		return
	}
	// queued reports whether partition p has a task of round r queued
	// (it peeks without taking it).
	queued := func(p, r int) bool {
		m, err := stream.GetLastMsgForSubject(ctx, names.taskSubject(p))
		return err == nil && roundOf(m.Data) == r
	}
	// lastRound is the newest round this worker heard of (wake-ups and
	// tasks); afterTask says the sweep follows a task rather than a
	// wake-up or a poll.
	lastRound, afterTask := -1, false
	for ctx.Err() == nil {
		select {
		case w.slot <- struct{}{}:
		case <-ctx.Done():
			return
		}
		var m jetstream.Msg
		alive := true
		for _, p := range recent {
			if m, alive = try(p); m != nil || !alive {
				break
			}
		}
		if m == nil && alive {
			if len(recent) > 0 && !afterTask {
				time.Sleep(stealGrace)
			}
			for _, p := range rng.Perm(k) {
				// Right after a task, only tasks of the same round are
				// taken from other partitions: a newer round's task is
				// for the worker that holds its state, which has its
				// wake-up on the way.
				if afterTask && !queued(p, lastRound) {
					continue
				}
				if m, alive = try(p); m != nil || !alive {
					break
				}
			}
			if m != nil && afterTask && roundOf(m.Data()) > lastRound {
				_ = m.Nak() // the round moved on between the peek and the fetch
				m = nil
			}
		}
		if m != nil {
			lastRound = max(lastRound, roundOf(m.Data()))
			if p := w.handle(ctx, m, ackWait); p >= 0 && !w.cfg.shuffle {
				recent = append([]int{p}, slices.DeleteFunc(recent, func(q int) bool { return q == p })...)
				if len(recent) > w.cfg.MaxPartitions {
					recent = recent[:w.cfg.MaxPartitions]
				}
			}
		}
		<-w.slot
		if !alive {
			w.logf("run %s ended", run)
			return
		}
		if afterTask = m != nil; afterTask {
			continue
		}
		w.waitWake(ctx, wake, &lastRound)
	}
}

// waitWake waits for the wake-up of a round newer than *lastRound (a
// wake-up for a round whose task this worker already ran is stale), or
// for pollEvery.
func (w *worker) waitWake(ctx context.Context, wake <-chan int, lastRound *int) {
	timeout := time.After(pollEvery)
	for {
		select {
		case r := <-wake:
			if r <= *lastRound {
				continue
			}
			*lastRound = r
			return
		case <-timeout:
			return
		case <-ctx.Done():
			return
		}
	}
}

// isGone reports whether a fetch failed because the run's stream or
// consumer is gone (the run ended).
func isGone(err error) bool {
	return errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrConsumerDeleted) ||
		errors.Is(err, jetstream.ErrStreamNotFound)
}

// taskError is a failure that retrying elsewhere would not fix.
type taskError struct{ err error }

func (e *taskError) Error() string { return e.err.Error() }
func (e *taskError) Unwrap() error { return e.err }

// handle runs one task and returns its partition (-1 when it did not run).
// The message is acknowledged once the result is reported, terminated after
// a failure of the task itself (reported too), and handed back (nak) after a
// failure of this worker's connection or store, for another try.
func (w *worker) handle(ctx context.Context, m jetstream.Msg, ackWait time.Duration) int {
	var t Task
	if err := decodeJSON(m.Data(), &t); err != nil {
		w.logf("dropping an unreadable task: %v", err)
		_ = m.Term()
		return -1
	}
	if err := t.check(); err != nil {
		w.logf("dropping a malformed task: %v", err)
		_ = m.Term()
		return -1
	}
	delivery := uint64(1)
	if md, err := m.Metadata(); err == nil {
		delivery = md.NumDelivered
	}
	tctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if t.Deadline > 0 {
		dl := time.UnixMilli(t.Deadline)
		if time.Until(dl) <= 0 {
			_ = m.Term() // the driver stopped waiting for this round
			return -1
		}
		var c2 context.CancelFunc
		tctx, c2 = context.WithDeadline(tctx, dl)
		defer c2()
	}
	// Tell the server the task is alive while it runs.
	stopProgress := make(chan struct{})
	var pg sync.WaitGroup
	pg.Add(1)
	go func() {
		defer pg.Done()
		tk := time.NewTicker(max(ackWait/3, 100*time.Millisecond))
		defer tk.Stop()
		for {
			select {
			case <-stopProgress:
				return
			case <-tk.C:
				_ = m.InProgress()
			}
		}
	}()
	defer func() {
		close(stopProgress)
		pg.Wait()
	}()

	what := fmt.Sprintf("run %s round %d partition %d", t.Run, t.Round, t.Partition)
	w.setBusy(what)
	defer w.setBusy("")
	if !w.cfg.Quiet {
		w.logf("%s: started (delivery %d)", what, delivery)
	}
	res, hold, err := w.run(tctx, &t)
	res.Run, res.Round, res.Partition, res.Worker, res.Delivery = t.Run, t.Round, t.Partition, w.cfg.Name, delivery
	var te *taskError
	switch {
	case err == nil:
	case tctx.Err() != nil && ctx.Err() == nil:
		w.logf("%s: stopped at the round's deadline", what)
		_ = m.Term()
		return -1
	case ctx.Err() != nil:
		_ = m.Nak() // shutting down: another worker takes it now
		return -1
	case errors.As(err, &te):
		res.Error = err.Error()
		w.logf("%s: failed: %v", what, err)
	default:
		w.logf("%s: %v (handed back for another try)", what, err)
		_ = m.NakWithDelay(time.Second)
		return -1
	}
	b, _ := json.Marshal(res)
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	subject := runNames{run: t.Run}.resultSubject(t.Partition)
	if _, err := w.js.Publish(pctx, subject, b); err != nil {
		w.logf("%s: reporting: %v (handed back for another try)", what, err)
		_ = m.NakWithDelay(time.Second)
		if hold != nil {
			hold()
		}
		return -1
	}
	// The report is stored: the task is done. (A lost acknowledgement only
	// means a redelivery, whose duplicate result the driver ignores.)
	if res.Error != "" {
		_ = m.Term()
	} else if err := m.Ack(); err != nil {
		w.logf("%s: acknowledging: %v", what, err)
	}
	var upload func(context.Context)
	if hold != nil {
		upload = hold()
	}
	if upload != nil {
		// Now and then the partition's state is stored, off the round's
		// critical path, so that a worker's death loses little; in
		// between, a worker that takes the partition over asks this one.
		w.uploads.Add(1)
		go func() {
			defer w.uploads.Done()
			uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Minute)
			defer cancel()
			upload(uctx)
		}()
	}
	if !w.cfg.Quiet {
		w.logf("%s: done (fetch %.1f ms, compute %.1f ms, store %.1f ms)%s", what, res.FetchS*1e3, res.ComputeS*1e3, res.StoreS*1e3, errSuffix(res.Error))
	}
	w.mu.Lock()
	w.info.Tasks++
	if res.Error != "" {
		w.info.Failed++
	}
	w.info.LastRun, w.info.LastRound = t.Run, t.Round
	w.info.LastFetchS, w.info.LastComputeS, w.info.LastStoreS = res.FetchS, res.ComputeS, res.StoreS
	w.mu.Unlock()
	return t.Partition
}

func errSuffix(s string) string {
	if s == "" {
		return ""
	}
	return " with an error"
}

func (w *worker) setBusy(s string) {
	w.mu.Lock()
	w.info.Busy = s
	w.mu.Unlock()
}

// cache returns the run's cache, loading its specification (and shipped
// data) on first use and again when the driver changed (Epoch).
func (w *worker) cache(ctx context.Context, t *Task) (*runCache, error) {
	w.mu.Lock()
	rc := w.caches[t.Run]
	w.mu.Unlock()
	if rc != nil && rc.epoch == t.Epoch {
		return rc, nil
	}
	names := runNames{run: t.Run}
	obs, err := w.js.ObjectStore(ctx, names.bucket())
	if err != nil {
		return nil, fmt.Errorf("run %s: object store: %w", t.Run, err)
	}
	st := &store{obs: obs, chunk: chunkFor(w.conn)}
	rt, err := newBlobStore(ctx, w.js, w.conn, names.roundStream(), names.roundPrefix())
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", t.Run, err)
	}
	ss, err := newBlobStore(ctx, w.js, w.conn, names.stateStream(), names.statePrefix())
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", t.Run, err)
	}
	b, err := st.get(ctx, t.Spec, 0, maxSpec)
	if err != nil {
		return nil, err
	}
	spec, param, err := decodeSpec(b, t.Run)
	if err != nil {
		return nil, &taskError{err}
	}
	layout, err := parallel.NewLayout(spec.LayoutNames, spec.LayoutCounts)
	if err != nil {
		return nil, &taskError{fmt.Errorf("run spec: %w", err)}
	}
	if len(spec.Data) > 0 {
		t0 := time.Now()
		local, err := fetchData(ctx, st, w.cfg.CacheDir, spec.Data)
		if err != nil {
			return nil, err
		}
		if param.TrainNetParam == nil {
			return nil, &taskError{errors.New("run spec: the solver has no inline train net")}
		}
		rewriteData(param.TrainNetParam, local)
		w.logf("run %s: data ready in %s (%.1fs)", t.Run, w.cfg.CacheDir, time.Since(t0).Seconds())
	}
	rc = &runCache{run: t.Run, epoch: t.Epoch, st: st, rt: rt, ss: ss, spec: spec, solver: param, layout: layout, wRound: -1, parts: map[int]*partCache{}}
	w.mu.Lock()
	if _, ok := w.active[t.Run]; ok {
		w.caches[t.Run] = rc
	}
	w.mu.Unlock()
	return rc, nil
}

// fetchWeights brings rc's weights (and history) to the task's round: it
// applies the round's update to the previous round's weights when the task
// sends an update and the worker holds those, and otherwise reads the
// weights whole (asking the driver to store them, for an update round).
func (w *worker) fetchWeights(ctx context.Context, rc *runCache, t *Task, codec parallel.Codec, res *Result) error {
	l := rc.layout
	n := l.Len()
	if len(rc.weights) != n {
		rc.weights, rc.wRound = make([]float32, n), -1
	}
	if cap(rc.history) < t.HistoryLen {
		rc.history = make([]float32, t.HistoryLen)
	}
	rc.history = rc.history[:t.HistoryLen]
	name, size := t.Weights, t.WeightsSize
	if !t.Update {
		codec = parallel.CodecNone
	} else if !codec.Lossy() {
		return &taskError{fmt.Errorf("an update of the weights in codec %s", codec)}
	} else if rc.wRound < 0 || rc.wRound != t.Round-1 {
		var err error
		if name, size, err = requestFull(ctx, w.conn, t.Run, t.Round); err != nil {
			return err
		}
		codec = parallel.CodecNone
		res.WeightsFull = true
	}
	if want := globalSize(t.Run, n, l.Blobs(), t.HistoryLen, codec); size != want {
		return &taskError{fmt.Errorf("the weights blob of %d bytes does not fit the model's %d parameters (want %d)", size, n, want)}
	}
	b, err := rc.rt.get(ctx, name, size, 0)
	if err != nil {
		return err
	}
	res.WeightsReadB += int64(len(b))
	upd, err := decodeGlobal(b, t.Run, t.Round, t.Iter, l, codec, rc.weights, rc.history)
	if err != nil {
		rc.wName, rc.wRound = "", -1
		return &taskError{err}
	}
	if upd != nil {
		upd.Apply(l, rc.weights)
	}
	rc.wName, rc.wRound = t.Weights, t.Round
	return nil
}

// requestFull asks the driver to store the round's weights whole and
// returns their blob and size.
func requestFull(ctx context.Context, conn *nc.Conn, run string, round int) (string, int64, error) {
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	msg, err := conn.RequestWithContext(rctx, runNames{run: run}.fullSubject(), []byte(strconv.Itoa(round)))
	if err != nil {
		return "", 0, fmt.Errorf("asking the driver for round %d's weights whole: %w", round, err)
	}
	reply := string(msg.Data)
	if why, ok := strings.CutPrefix(reply, "error: "); ok {
		return "", 0, &taskError{fmt.Errorf("the driver did not send round %d's weights whole: %s", round, why)}
	}
	name, sizeStr, ok := strings.Cut(reply, " ")
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if !ok || err != nil || size <= 0 {
		return "", 0, &taskError{fmt.Errorf("the driver's reply %q names no weights", reply)}
	}
	return name, size, nil
}

// run executes a task: it stores the delta and returns the report and, on
// success, hold, which the caller must call after reporting and before the
// next task: it encodes the partition's state and returns the function that
// stores it (nil when it is not due), to run in the background.
func (w *worker) run(ctx context.Context, t *Task) (Result, func() func(context.Context), error) {
	var res Result
	t0 := time.Now()
	rc, err := w.cache(ctx, t)
	if err != nil {
		return res, nil, err
	}
	if t.Partitions != rc.spec.Partitions {
		return res, nil, &taskError{fmt.Errorf("task for %d partitions, the run has %d", t.Partitions, rc.spec.Partitions)}
	}
	codec, err := parallel.ParseCodec(t.Codec)
	if err != nil {
		return res, nil, &taskError{err}
	}
	mom, err := parallel.ParseMomentumMode(t.Momentum)
	if err != nil {
		return res, nil, &taskError{err}
	}
	// The round's weights, once per round.
	if rc.wName != t.Weights || rc.wRound != t.Round {
		if err := w.fetchWeights(ctx, rc, t, codec, &res); err != nil {
			return res, nil, err
		}
	}
	// The partition's replica, in the state the task names.
	pc, err := w.partition(ctx, rc, t, &res)
	if err != nil {
		return res, nil, err
	}
	res.FetchS = time.Since(t0).Seconds()

	g := parallel.Global{Weights: rc.weights}
	if t.LoadHistory {
		g.History = rc.history
	}
	spec := parallel.RoundSpec{
		Run: t.Run, Round: t.Round, Iter: t.Iter, Steps: t.Tau, Partitions: t.Partitions,
		Codec: codec, Momentum: mom, LoadHistory: t.LoadHistory, FaultPartition: -1,
	}
	if t.Fault {
		spec.FaultPartition = t.Partition
	}
	rc.mu.Lock()
	pc.state = "?" // unknown until the round completes
	rc.mu.Unlock()
	d, err := pc.w.RunRound(ctx, g, spec)
	if err != nil {
		if ctx.Err() != nil {
			return res, nil, err
		}
		return res, nil, &taskError{err}
	}
	res.ComputeS = d.Stats.Compute.Seconds()
	res.Loss = d.Stats.Loss
	t1 := time.Now()
	delta, err := w.encodeDelta(d, w.dbuf[:0])
	if err != nil {
		return res, nil, &taskError{err}
	}
	dname := deltaObject(t.Round, t.Partition, w.cfg.Name)
	sname := stateObject(t.Round, t.Partition, w.cfg.Name)
	if _, err := rc.rt.put(ctx, dname, delta); err != nil {
		return res, nil, err
	}
	w.dbuf = delta[:0] // stored: reusable
	// The replica now holds the state sname. It is encoded after the
	// report, off the round's critical path, but before this worker runs
	// another task (hold); until then a request for it waits (heldReady).
	ready := make(chan struct{})
	rc.mu.Lock()
	pc.state, pc.held, pc.heldName, pc.stored, pc.heldReady = sname, nil, sname, false, ready
	due := w.cfg.StoreEvery <= 0 || time.Since(pc.storedAt) >= w.cfg.StoreEvery
	rc.mu.Unlock()
	res.Delta, res.DeltaSize = dname, int64(len(delta))
	res.State = sname
	res.StoreS = time.Since(t1).Seconds()
	hold := func() func(context.Context) {
		rc.mu.Lock()
		buf := pc.spare
		pc.spare = nil
		rc.mu.Unlock()
		state, err := pc.w.AppendState(buf[:0])
		rc.mu.Lock()
		if pc.heldName == sname {
			old := pc.held
			if err == nil {
				pc.held = state
			} else {
				pc.held, pc.heldName = nil, "" // nobody can have it: requests fall back
			}
			if old != nil && !pc.uploading {
				pc.spare = old
			}
		}
		rc.mu.Unlock()
		close(ready)
		if err != nil {
			w.logf("run %s partition %d: encoding its state: %v", t.Run, t.Partition, err)
			return nil
		}
		if !due {
			return nil
		}
		return func(ctx context.Context) {
			if err := w.storeHeld(ctx, rc, t.Partition, sname); err != nil {
				w.logf("run %s partition %d: storing its state: %v", t.Run, t.Partition, err)
			}
		}
	}
	return res, hold, nil
}

// storeHeld stores the held state name of partition p (if the replica still
// holds it and it is not stored yet) and reports it to the driver.
func (w *worker) storeHeld(ctx context.Context, rc *runCache, p int, name string) error {
	rc.mu.Lock()
	pc := rc.parts[p]
	rc.mu.Unlock()
	if pc == nil {
		return errStateGone
	}
	rc.mu.Lock()
	ready := pc.heldReady
	rc.mu.Unlock()
	if ready != nil {
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	pc.storeMu.Lock()
	defer pc.storeMu.Unlock()
	rc.mu.Lock()
	if pc.heldName != name || pc.held == nil {
		rc.mu.Unlock()
		return errStateGone
	}
	if pc.stored {
		rc.mu.Unlock()
		return nil
	}
	held := pc.held
	pc.uploading = true
	rc.mu.Unlock()
	_, err := rc.ss.put(ctx, name, held)
	rc.mu.Lock()
	pc.uploading = false
	if err == nil && pc.heldName == name {
		pc.stored, pc.storedAt = true, time.Now()
	}
	if !sameArray(pc.held, held) && pc.spare == nil {
		pc.spare = held // replaced while it was stored
	}
	rc.mu.Unlock()
	if err != nil {
		return err
	}
	sr := Result{Kind: kindStored, Run: rc.run, Partition: p, Worker: w.cfg.Name, State: name, StateSize: int64(len(held))}
	sb, _ := json.Marshal(sr)
	_, err = w.js.Publish(ctx, runNames{run: rc.run}.resultSubject(p), sb)
	return err
}

// sameArray reports whether a and b share their backing array.
func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:cap(a)][0] == &b[:cap(b)][0]
}

// errStateGone answers a request for a state this worker no longer holds.
var errStateGone = errors.New("the state is no longer held")

// serveState answers other workers' (and the driver's) requests for a
// partition state this worker holds: it stores it and replies "ok", or
// replies with why not.
func (w *worker) serveState(run string, m *nc.Msg) {
	name := string(m.Data)
	p, ok := statePartition(name)
	w.mu.Lock()
	rc := w.caches[run]
	w.mu.Unlock()
	if !ok || rc == nil {
		_ = m.Respond([]byte(errStateGone.Error()))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reply := "ok"
	if err := w.storeHeld(ctx, rc, p, name); err != nil {
		reply = err.Error()
	}
	_ = m.Respond([]byte(reply))
}

// statePartition parses the partition out of a state object name.
func statePartition(name string) (int, bool) {
	parts := strings.Split(name, "/")
	if len(parts) != 4 || parts[0] != "s" {
		return 0, false
	}
	p, err := strconv.Atoi(parts[1])
	return p, err == nil && p >= 0
}

// stateOwner returns the worker a state object name says made it.
func stateOwner(name string) string { return name[strings.LastIndexByte(name, '/')+1:] }

// requestState makes sure the state blob name exists: stored already, or
// stored now by the worker holding it, whom it asks. It reports false when
// neither is possible (that worker is gone).
func requestState(ctx context.Context, conn *nc.Conn, ss *blobStore, run, name string) (bool, error) {
	if ok, err := ss.exists(ctx, name); err != nil || ok {
		return ok, err
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	msg, err := conn.RequestWithContext(rctx, runNames{run: run}.stateRequestSubject(stateOwner(name)), []byte(name))
	if err != nil && ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err == nil && string(msg.Data) == "ok" {
		return true, nil
	}
	// No such worker any more, or it no longer holds the state: it may
	// have stored it meanwhile (a worker stores a state before dropping
	// it).
	return ss.exists(ctx, name)
}

// partition returns the replica of the task's partition in the state the
// task names: the cached replica when it holds that state, else the state
// fetched from the store (waiting for its worker to store it; if that
// worker died first, the task's fallback state) into a cached or new
// replica.
func (w *worker) partition(ctx context.Context, rc *runCache, t *Task, res *Result) (*partCache, error) {
	rc.mu.Lock()
	rc.useCounter++
	pc := rc.parts[t.Partition]
	rc.mu.Unlock()
	want := t.State
	if want != "" && (pc == nil || pc.state != want) {
		ok, err := requestState(ctx, w.conn, rc.ss, t.Run, want)
		if err != nil {
			return nil, err
		}
		if !ok {
			w.logf("run %s partition %d: state %s is lost with the worker that held it; continuing from %q", t.Run, t.Partition, want, t.Fallback)
			want = t.Fallback
		}
	}
	if pc != nil && pc.state == want {
		rc.mu.Lock()
		pc.used = rc.useCounter
		rc.mu.Unlock()
		return pc, nil
	}
	var state []byte
	if want != "" {
		b, err := rc.ss.get(ctx, want, 0, 0)
		switch {
		case errors.Is(err, errNotFound):
			// Lost with the server's storage: the partition starts afresh
			// (from the global weights, with zero history).
			w.logf("run %s partition %d: state %s is gone; the partition starts afresh", t.Run, t.Partition, want)
			want = ""
		case err != nil:
			return nil, err
		default:
			state = b
			res.StateReadB = int64(len(b))
		}
	}
	if pc == nil || want == "" {
		// A fresh replica, built as the local engine builds its workers.
		if err := w.evict(ctx, rc); err != nil {
			return nil, err
		}
		pw, err := parallel.NewWorker(parallel.WorkerConfig{
			Solver: rc.solver, Seed: rc.spec.Seed,
			Partition: t.Partition, Partitions: t.Partitions,
		})
		if err != nil {
			return nil, &taskError{err}
		}
		if !pw.Layout().SameShape(rc.layout) {
			return nil, &taskError{fmt.Errorf("this worker's model has %d parameters in %d blobs, the driver's %d in %d",
				pw.Layout().Len(), pw.Layout().Blobs(), rc.layout.Len(), rc.layout.Blobs())}
		}
		pc = &partCache{w: pw}
		rc.mu.Lock()
		rc.parts[t.Partition] = pc
		rc.mu.Unlock()
	}
	rc.mu.Lock()
	pc.used = rc.useCounter
	rc.mu.Unlock()
	if state != nil {
		rc.mu.Lock()
		pc.state = "?"
		rc.mu.Unlock()
		if err := pc.w.UnmarshalState(state); err != nil {
			return nil, &taskError{err}
		}
		rc.mu.Lock()
		pc.state = want
		rc.mu.Unlock()
	}
	return pc, nil
}

// evict drops the least recently used replicas beyond the limit, making
// room for one more.
func (w *worker) evict(ctx context.Context, rc *runCache) error {
	for {
		rc.mu.Lock()
		if len(rc.parts) < w.cfg.MaxPartitions {
			rc.mu.Unlock()
			return nil
		}
		var keys []int
		for p := range rc.parts {
			keys = append(keys, p)
		}
		sort.Slice(keys, func(i, j int) bool { return rc.parts[keys[i]].used < rc.parts[keys[j]].used })
		p := keys[0]
		pc := rc.parts[p]
		name, stored := pc.heldName, pc.stored
		rc.mu.Unlock()
		// A state nobody else has goes to the store before its replica.
		if name != "" && !stored {
			if err := w.storeHeld(ctx, rc, p, name); err != nil && !errors.Is(err, errStateGone) {
				return err
			}
		}
		rc.mu.Lock()
		if rc.parts[p] == pc {
			delete(rc.parts, p)
		}
		rc.mu.Unlock()
	}
}

// flush stores every held state not stored yet (a worker leaving hands its
// partitions over intact).
func (w *worker) flush(ctx context.Context) {
	w.mu.Lock()
	caches := make([]*runCache, 0, len(w.caches))
	for _, rc := range w.caches {
		caches = append(caches, rc)
	}
	w.mu.Unlock()
	for _, rc := range caches {
		rc.mu.Lock()
		type held struct {
			p    int
			name string
		}
		var todo []held
		for p, pc := range rc.parts {
			if pc.heldName != "" && !pc.stored {
				todo = append(todo, held{p, pc.heldName})
			}
		}
		rc.mu.Unlock()
		for _, h := range todo {
			if err := w.storeHeld(ctx, rc, h.p, h.name); err != nil && !errors.Is(err, errStateGone) {
				w.logf("run %s partition %d: storing its state before leaving: %v", rc.run, h.p, err)
			}
		}
	}
}

// encodeDelta appends a delta's encoding to dst, corrupting it first when
// the worker was told to (Fault). The corruption works on copies: the
// delta aliases the replica's parameters.
func (w *worker) encodeDelta(d *parallel.Delta, dst []byte) ([]byte, error) {
	switch w.cfg.Fault {
	case "nan":
		c := *d
		switch {
		case c.Weights != nil:
			c.Weights = append([][]float32(nil), d.Weights...)
			c.Weights[0] = append([]float32(nil), d.Weights[0]...)
			c.Weights[0][0] = float32(math.NaN())
		case c.Half != nil:
			c.Half = append([]uint16(nil), d.Half...)
			c.Half[0] = 0x7e00
		case c.Int8 != nil:
			c.Scales = append([]float32(nil), d.Scales...)
			c.Scales[0] = float32(math.NaN())
		}
		return c.AppendBinary(dst)
	case "shape":
		c := *d
		c.Counts = append([]int(nil), d.Counts...)
		last := len(c.Counts) - 1
		c.Counts[last]--
		switch {
		case c.Weights != nil:
			c.Weights = append([][]float32(nil), d.Weights...)
			c.Weights[last] = c.Weights[last][:len(c.Weights[last])-1]
		case c.Half != nil:
			c.Half = c.Half[:len(c.Half)-1]
		case c.Int8 != nil:
			c.Int8 = c.Int8[:len(c.Int8)-1]
		}
		return c.AppendBinary(dst)
	}
	return d.AppendBinary(dst)
}

// marshalProto encodes a message deterministically.
func marshalProto(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
