package nats

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	nc "github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/sparknet/sparknet/parallel"
)

// Config configures the NATS engine on the driver.
type Config struct {
	// URL is an existing NATS server (with JetStream) to use; "" starts
	// one embedded in the driver, listening on Listen with its storage in
	// StoreDir.
	URL      string
	Listen   string
	StoreDir string
	// Security is the credentials and TLS of every process of the run.
	Security Security
	// Spawn starts that many `sparknet worker` processes (Executable,
	// default os.Executable()) for the run, with WorkerArgs added to their
	// command line; they stop with the engine.
	Spawn      int
	WorkerArgs []string
	Executable string
	// ShipData puts the net's data files in the object store, for workers
	// that do not share a filesystem with the driver.
	ShipData bool
	// AckWait is how long a task may go without a sign of life from the
	// worker running it before it is given to another (the workers signal
	// progress every AckWait/3); 0 means 30 s. MaxDeliver bounds the tries
	// of one task (0: 5).
	AckWait    time.Duration
	MaxDeliver int
	// OnRound, when set, receives every round's statistics.
	OnRound func(RoundStats)
	// RoundsLog appends every round's statistics as a JSON line to
	// <snapshot_prefix>_nats_rounds.jsonl.
	RoundsLog bool
	// Log receives the engine's messages (nil: the job's log).
	Log io.Writer
	// WorkerLog receives the output of spawned workers (nil: Log).
	WorkerLog io.Writer
}

// Engine runs the rounds of a parallel run on `sparknet worker` processes
// through NATS JetStream. It implements parallel.Engine.
type Engine struct {
	cfg Config
	log io.Writer

	srv      *Server
	conn     *nc.Conn
	js       jetstream.JetStream
	names    runNames
	stream   jetstream.Stream
	st       *store     // specification and shipped data (object store, file storage)
	rt       *blobStore // the round's weights and deltas (memory)
	ss       *blobStore // partition states (file)
	runs     jetstream.KeyValue
	workers  jetstream.KeyValue
	job      parallel.Job
	spec     *runSpec
	netName  string
	results  chan jetstream.Msg
	consume  jetstream.ConsumeContext
	maxDeliv *nc.Subscription
	fullSub  *nc.Subscription
	failedCh chan uint64
	spawned  *spawner

	// parts[p] tracks partition p's state; accepted holds the states of
	// accepted results not known stored yet, pendingStored states
	// reported stored before their result was accepted, rejected those
	// whose result was not (deleted once stored).
	parts         []partState
	pendingStored map[string]bool
	rejected      map[string]bool
	accepted      map[string]bool
	// epoch distinguishes this driver process from an earlier one of the
	// same run (resumed from a snapshot): workers drop their caches of it.
	epoch string
	// bcast is the round in flight's broadcast, for workers that ask for
	// its weights whole (serveFull); nil between rounds.
	bcastMu sync.Mutex
	bcast   *roundBroadcast
	// wbuf and fbuf are reused encoding buffers of the broadcast and of
	// the weights whole.
	wbuf, fbuf []byte
	// seqs maps the stream sequence of a published task to its partition,
	// for the max-deliveries advisories.
	seqMu sync.Mutex
	seqs  map[uint64]taskRef

	infoMu sync.Mutex
	info   RunInfo
	dirty  chan struct{}
	stop   chan struct{}
	wg     sync.WaitGroup

	// Stats of the last round; storedBytes counts the states reported
	// stored since.
	last        RoundStats
	storedBytes int64
	// rounds is the open RoundsLog file.
	rounds *os.File
	// started, when set (tests), receives the server's URL once the
	// engine has started.
	started chan<- string
}

// partState is what the driver knows of a partition's state: the state
// after its last accepted round (committed: held in the memory of the
// worker that ran it, which stores it after every round or when asked)
// and the last state known to be stored (confirmed), which a task names as
// the fallback should the committed one be lost with its worker. Both are
// "" for a fresh partition; round and confRound are their rounds.
type partState struct {
	committed, confirmed string
	round, confRound     int
}

type taskRef struct{ round, partition int }

// roundBroadcast is what the driver knows of the round in flight's
// broadcast: the weights the workers start from (unchanged until Round
// returns) and, once a worker asked, the blob holding them whole.
type roundBroadcast struct {
	run         string
	round, iter int
	weights     []float32
	history     []float32
	full        string // the blob of the weights whole ("" until asked)
	fullSize    int64
}

// RoundStats describes the traffic and timing of one round on the NATS
// engine.
type RoundStats struct {
	// Wall is the round's duration on the driver; Compute the longest tau
	// iterations of a worker (parallel.WorkerStats.Compute); Overhead
	// their difference: what moving the round cost.
	Wall, Compute, Overhead time.Duration
	// WeightsBytes is the size of the round's broadcast blob (the weights
	// whole, or with a lossy codec their update, see parallel.Broadcast);
	// WeightsFetched the bytes the workers of the combined partitions
	// read of the broadcast (once per worker per round), FullFetches how
	// many of them read the weights whole instead of the update (they did
	// not hold the previous round's) and FullBytes what those cost (part
	// of WeightsFetched). DeltaBytes is the results the driver accepted.
	WeightsBytes, WeightsFetched, DeltaBytes int64
	FullFetches                              int
	FullBytes                                int64
	// StateBytes is the partition states workers read (a partition
	// moved); StateStored the states workers reported stored during the
	// round (in the background, after their results).
	StateBytes, StateStored int64
}

// New returns a NATS engine; Start connects it.
func New(cfg Config) *Engine {
	if cfg.AckWait <= 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxDeliver <= 0 {
		cfg.MaxDeliver = 5
	}
	return &Engine{cfg: cfg}
}

func (e *Engine) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "nats: "+format+"\n", args...)
}

// URL returns the URL of the server the engine uses (after Start).
func (e *Engine) URL() string {
	if e.srv != nil {
		return e.srv.URL()
	}
	return e.cfg.URL
}

// LastRound returns the statistics of the last round.
func (e *Engine) LastRound() RoundStats { return e.last }

// Start connects (or starts the embedded server), creates the run's
// stream, consumers and bucket, publishes the run's specification, and
// spawns workers if asked.
func (e *Engine) Start(ctx context.Context, job parallel.Job) (err error) {
	e.job = job
	e.log = e.cfg.Log
	if e.log == nil {
		e.log = job.Log
	}
	if e.log == nil {
		e.log = io.Discard
	}
	if err := CheckRunID(job.RunID); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	e.names = runNames{run: job.RunID}
	e.epoch = NewRunID()[1:9]
	url := e.cfg.URL
	if url == "" {
		dir := e.cfg.StoreDir
		if dir == "" {
			// Beside the run's snapshots, as Caffe names them.
			prefix := job.Solver.GetSnapshotPrefix()
			if prefix == "" {
				prefix = "sparknet"
			}
			dir = prefix + "_nats"
		}
		e.srv, err = StartServer(ServerConfig{Listen: e.cfg.Listen, StoreDir: dir, Security: e.cfg.Security, Log: e.log})
		if err != nil {
			return err
		}
		e.logf("embedded NATS server with JetStream listening at %s (storage %s)", e.srv.URL(), dir)
		e.conn, err = e.srv.Connect("sparknet driver " + job.RunID)
	} else {
		e.conn, err = Connect(url, "sparknet driver "+job.RunID, e.cfg.Security)
	}
	if err != nil {
		return err
	}
	if e.js, err = jetstream.New(e.conn); err != nil {
		return err
	}
	if e.runs, e.workers, err = sharedBuckets(ctx, e.js); err != nil {
		return err
	}
	if err := e.removeStale(ctx); err != nil {
		return err
	}
	if err := e.createRun(ctx); err != nil {
		return err
	}
	if err := e.publishSpec(ctx); err != nil {
		return err
	}
	e.parts = make([]partState, job.Partitions)
	e.pendingStored, e.rejected, e.accepted = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for p := range e.parts {
		e.parts[p].round, e.parts[p].confRound = -1, -1
	}
	e.seqs = map[uint64]taskRef{}
	host, _ := os.Hostname()
	e.info = RunInfo{
		Run: job.RunID, Net: e.netName, Driver: fmt.Sprintf("%s/%d", host, os.Getpid()),
		Partitions: job.Partitions, Started: time.Now().UTC(), Round: -1,
		MaxIter: int(job.Solver.GetMaxIter()),
	}
	e.dirty = make(chan struct{}, 1)
	e.stop = make(chan struct{})
	if err := e.putInfo(ctx); err != nil {
		return err
	}
	e.wg.Add(1)
	go e.refresh()
	if e.cfg.Spawn > 0 {
		exe := e.cfg.Executable
		if exe == "" {
			if exe, err = os.Executable(); err != nil {
				return fmt.Errorf("-spawn: %w", err)
			}
		}
		wlog := e.cfg.WorkerLog
		if wlog == nil {
			wlog = e.log
		}
		url := e.URL()
		if e.srv != nil {
			url = e.srv.LocalURL()
		}
		e.spawned, err = spawnWorkers(exe, url, e.cfg.Security, e.cfg.Spawn, e.cfg.WorkerArgs, wlog)
		if err != nil {
			return err
		}
		e.logf("started %d worker processes", e.cfg.Spawn)
	}
	if e.cfg.RoundsLog {
		path := job.Solver.GetSnapshotPrefix() + "_nats_rounds.jsonl"
		if e.rounds, err = os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return fmt.Errorf("round statistics: %w", err)
		}
	}
	if e.started != nil {
		e.started <- e.URL()
	}
	return nil
}

// roundRecord is a line of the RoundsLog file.
type roundRecord struct {
	Round          int     `json:"round"`
	Iter           int     `json:"iter"`
	Steps          int     `json:"steps"`
	Combined       int     `json:"combined"`
	WallS          float64 `json:"wall_s"`
	ComputeS       float64 `json:"compute_s"`
	OverheadS      float64 `json:"overhead_s"`
	WeightsBytes   int64   `json:"weights_bytes"`
	WeightsFetched int64   `json:"weights_fetched_bytes"`
	FullFetches    int     `json:"full_fetches"`
	FullBytes      int64   `json:"full_bytes"`
	DeltaBytes     int64   `json:"delta_bytes"`
	StateBytes     int64   `json:"state_read_bytes"`
	StateStored    int64   `json:"state_stored_bytes"`
}

// sharedBuckets opens (creating when missing) the runs and workers buckets.
func sharedBuckets(ctx context.Context, js jetstream.JetStream) (runs, workers jetstream.KeyValue, err error) {
	mk := func(name, desc string) (jetstream.KeyValue, error) {
		kv, err := js.KeyValue(ctx, name)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, fmt.Errorf("bucket %s: %w", name, err)
		}
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: name, Description: desc, History: 1, TTL: entryTTL,
			LimitMarkerTTL: entryTTL, Storage: jetstream.FileStorage,
		})
		if err != nil {
			return nil, fmt.Errorf("creating bucket %s: %w", name, err)
		}
		return kv, nil
	}
	if runs, err = mk(runsBucket, "sparknet runs (driver heartbeats)"); err != nil {
		return nil, nil, err
	}
	if workers, err = mk(workersBucket, "sparknet workers (heartbeats)"); err != nil {
		return nil, nil, err
	}
	return runs, workers, nil
}

// removeStale deletes what a previous driver left behind: the resources of
// this run id (a driver killed and resumed from a snapshot takes its run
// over), and, on the embedded server, which no other driver uses, those of
// every run.
func (e *Engine) removeStale(ctx context.Context) error {
	var runs []string
	seen := map[string]bool{}
	if e.srv != nil {
		lister := e.js.StreamNames(ctx)
		for name := range lister.Name() {
			run, ok := strings.CutPrefix(name, "SPARKNET_")
			run = strings.TrimSuffix(strings.TrimSuffix(run, "_RT"), "_ST")
			if ok && CheckRunID(run) == nil && !seen[run] {
				seen[run] = true
				runs = append(runs, run)
			}
		}
		if err := lister.Err(); err != nil {
			return fmt.Errorf("listing streams: %w", err)
		}
	} else {
		for _, s := range e.names.streams() {
			if _, err := e.js.Stream(ctx, s); err == nil {
				runs = append(runs, e.names.run)
				break
			}
		}
	}
	for _, run := range runs {
		n := runNames{run: run}
		e.logf("removing the streams and bucket a previous driver of run %s left", run)
		for _, s := range n.streams() {
			if err := e.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				return fmt.Errorf("removing stream %s: %w", s, err)
			}
		}
		if err := e.js.DeleteObjectStore(ctx, n.bucket()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
			return fmt.Errorf("removing bucket %s: %w", n.bucket(), err)
		}
		_ = e.runs.Delete(ctx, run)
	}
	return nil
}

// createRun creates the run's streams, the task stream's consumers and the
// bucket.
func (e *Engine) createRun(ctx context.Context) error {
	n := e.names
	var err error
	e.stream, err = e.js.CreateStream(ctx, jetstream.StreamConfig{
		Name:        n.stream(),
		Description: "sparknet run " + n.run + ": tasks and results",
		Subjects:    n.subjects(),
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		MaxMsgSize:  maxMessage,
		Duplicates:  time.Minute,
		// Workers peek at queued tasks (the last of a partition's subject)
		// without the JSON API.
		AllowDirect: true,
	})
	if err != nil {
		return fmt.Errorf("creating stream %s: %w", n.stream(), err)
	}
	for p := 0; p < e.job.Partitions; p++ {
		_, err = e.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       taskConsumer(p),
			Description:   "tasks of partition " + strconv.Itoa(p),
			FilterSubject: n.taskSubject(p),
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       e.cfg.AckWait,
			MaxDeliver:    e.cfg.MaxDeliver,
			MaxAckPending: -1,
		})
		if err != nil {
			return fmt.Errorf("creating the consumer of partition %d's tasks: %w", p, err)
		}
	}
	cons, err := e.stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       driverConsumer,
		Description:   "results for the sparknet driver",
		FilterSubject: n.resultFilter(),
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       time.Minute,
		MaxAckPending: -1,
	})
	if err != nil {
		return fmt.Errorf("creating the driver's consumer: %w", err)
	}
	obs, err := e.js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      n.bucket(),
		Description: "sparknet run " + n.run + ": specification, data",
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("creating object store %s: %w", n.bucket(), err)
	}
	e.st = &store{obs: obs, chunk: chunkFor(e.conn)}
	// The round's traffic (weights, deltas) lives for one round, partition
	// states until the next is accepted (about two per partition are
	// held): both in memory. States must outlive their workers, not the
	// server: the durable copy of the run is the driver's checkpoint, and
	// a server restarted with the run in flight loses its round anyway.
	// (A file stream would write every state to disk and read its block
	// back to delete it, for every partition and round.)
	for _, c := range []jetstream.StreamConfig{
		{Name: n.roundStream(), Description: "sparknet run " + n.run + ": the round's weights and deltas",
			Subjects: []string{n.roundPrefix() + ">"}, Storage: jetstream.MemoryStorage, AllowDirect: true},
		{Name: n.stateStream(), Description: "sparknet run " + n.run + ": partition states",
			Subjects: []string{n.statePrefix() + ">"}, Storage: jetstream.MemoryStorage, AllowDirect: true},
	} {
		if _, err := e.js.CreateStream(ctx, c); err != nil {
			return fmt.Errorf("creating stream %s: %w", c.Name, err)
		}
	}
	if e.rt, err = newBlobStore(ctx, e.js, e.conn, n.roundStream(), n.roundPrefix()); err != nil {
		return err
	}
	if e.ss, err = newBlobStore(ctx, e.js, e.conn, n.stateStream(), n.statePrefix()); err != nil {
		return err
	}
	// Workers that do not hold the previous round's weights ask for the
	// round's whole.
	if e.fullSub, err = e.conn.Subscribe(n.fullSubject(), e.serveFull); err != nil {
		return err
	}
	e.results = make(chan jetstream.Msg, 8*e.job.Partitions+64)
	e.consume, err = cons.Consume(func(m jetstream.Msg) { e.results <- m },
		jetstream.PullMaxMessages(2*e.job.Partitions+8),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			if !errors.Is(err, jetstream.ErrNoHeartbeat) {
				e.logf("results: %v", err)
			}
		}))
	if err != nil {
		return fmt.Errorf("consuming results: %w", err)
	}
	// A task that ran out of deliveries (its workers kept dying) will
	// never report: the server announces it.
	e.failedCh = make(chan uint64, 4*e.job.Partitions+16)
	subj := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + n.stream() + ".*"
	e.maxDeliv, err = e.conn.Subscribe(subj, func(m *nc.Msg) {
		var adv struct {
			Seq uint64 `json:"stream_seq"`
		}
		if json.Unmarshal(m.Data, &adv) == nil {
			select {
			case e.failedCh <- adv.Seq:
			default:
			}
		}
	})
	if err != nil {
		return err
	}
	return nil
}

// publishSpec stores the run's specification (and the data, -ship-data).
func (e *Engine) publishSpec(ctx context.Context) error {
	job := e.job
	ws, err := workerSolver(job, !e.cfg.ShipData)
	if err != nil {
		return fmt.Errorf("preparing the solver for the workers: %w", err)
	}
	spec := &runSpec{
		Version: specVersion, Run: job.RunID, Seed: job.Seed, Partitions: job.Partitions,
	}
	for i := 0; i < job.Layout.Blobs(); i++ {
		spec.LayoutNames = append(spec.LayoutNames, job.Layout.Name(i))
		spec.LayoutCounts = append(spec.LayoutCounts, job.Layout.Count(i))
	}
	if e.cfg.ShipData {
		t0 := time.Now()
		spec.Data, err = shipData(ctx, e.st, ws.TrainNetParam)
		if err != nil {
			return err
		}
		var files int
		var bytes int64
		for _, d := range spec.Data {
			for _, f := range d.Files {
				files++
				bytes += f.Size
			}
		}
		e.logf("shipped %d data files (%s) to the object store in %.1fs", files, fmtBytes(bytes), time.Since(t0).Seconds())
	}
	if spec.Solver, err = marshalProto(ws); err != nil {
		return err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	if len(b) > maxSpec {
		return fmt.Errorf("the run specification is %s, more than %s", fmtBytes(int64(len(b))), fmtBytes(maxSpec))
	}
	if _, err := e.st.put(ctx, specObject, b); err != nil {
		return err
	}
	e.spec = spec
	e.netName = ws.TrainNetParam.GetName()
	return nil
}

// refresh keeps the run's entry alive and publishes its changes.
func (e *Engine) refresh() {
	defer e.wg.Done()
	t := time.NewTicker(heartbeat)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
		case <-e.dirty:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := e.putInfo(ctx); err != nil && !errors.Is(err, nc.ErrConnectionClosed) {
			e.logf("updating the run entry: %v", err)
		}
		cancel()
	}
}

func (e *Engine) putInfo(ctx context.Context) error {
	e.infoMu.Lock()
	b, err := json.Marshal(e.info)
	e.infoMu.Unlock()
	if err != nil {
		return err
	}
	_, err = e.runs.Put(ctx, e.job.RunID, b)
	return err
}

// touchInfo updates the run entry under its lock and schedules a publish.
func (e *Engine) touchInfo(f func(*RunInfo)) {
	e.infoMu.Lock()
	f(&e.info)
	e.infoMu.Unlock()
	select {
	case e.dirty <- struct{}{}:
	default:
	}
}

// Close stops spawned workers, deletes the run's stream and bucket and
// disconnects (shutting the embedded server down).
func (e *Engine) Close() error {
	if e.stop != nil {
		close(e.stop)
		e.wg.Wait()
		e.stop = nil
	}
	if e.spawned != nil {
		e.spawned.stop()
		e.spawned = nil
	}
	if e.rounds != nil {
		e.rounds.Close()
		e.rounds = nil
	}
	if e.consume != nil {
		e.consume.Stop()
	}
	if e.maxDeliv != nil {
		_ = e.maxDeliv.Unsubscribe()
	}
	if e.fullSub != nil {
		_ = e.fullSub.Unsubscribe()
	}
	var errs []error
	if e.js != nil && e.names.run != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if e.runs != nil {
			_ = e.runs.Delete(ctx, e.names.run)
		}
		for _, s := range e.names.streams() {
			if err := e.js.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
				errs = append(errs, err)
			}
		}
		if err := e.js.DeleteObjectStore(ctx, e.names.bucket()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) && !errors.Is(err, jetstream.ErrBucketNotFound) {
			errs = append(errs, err)
		}
		cancel()
		e.js = nil
	}
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
	if e.srv != nil {
		e.srv.Close()
		e.srv = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nats engine: closing: %w", err)
	}
	return nil
}

// fmtBytes formats a byte count for people.
func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.2f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + " B"
}

var _ parallel.Engine = (*Engine)(nil)
