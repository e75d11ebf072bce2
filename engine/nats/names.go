package nats

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Every name a run uses carries its run id, so two runs on one server never
// share a stream, a subject or a bucket:
//
//	stream   SPARKNET_<run>            work queue of the subjects task.> and result.> below
//	subject  sparknet.<run>.task.<p>   a round's task for partition p (consumer "p<p>")
//	subject  sparknet.<run>.result.<p> a worker's reports for partition p (consumer "driver")
//	stream   SPARKNET_<run>_RT         (memory) blobs sparknet.<run>.rt.>: the round's weights and deltas
//	stream   SPARKNET_<run>_ST         (memory) blobs sparknet.<run>.st.>: partition states
//	subject  sparknet.<run>.round      (core NATS, not stored) "a round's tasks are queued"
//	subject  sparknet.<run>.state.<w>  (core NATS request) "worker w, store the partition state you hold"
//	subject  sparknet.<run>.full       (core NATS request) "driver, store the round's weights whole"
//	bucket   sparknet_<run>            object store (file): spec, data files
//
// (blobs.go describes the blob streams).
//
// One consumer per partition lets a worker ask for the partitions whose
// state it holds in memory first (affinity), and take any other when
// those are done.
//
// and two buckets are shared by every run on the server:
//
//	KV sparknet_runs     run id -> RunInfo (the driver refreshes it; it expires when the driver dies)
//	KV sparknet_workers  worker name -> WorkerInfo (heartbeats; expires when the worker dies)
const (
	runsBucket    = "sparknet_runs"
	workersBucket = "sparknet_workers"
	// entryTTL is how long a run or worker entry lives without a refresh.
	entryTTL = 15 * time.Second
	// heartbeat is how often the driver and the workers refresh their
	// entries.
	heartbeat = 2 * time.Second
	// driverConsumer is the durable consumer of a run's results; the
	// tasks of partition p have the consumer taskConsumer(p).
	driverConsumer = "driver"
)

// NewRunID returns a fresh random run id: "r" and 16 hex digits.
func NewRunID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		// crypto/rand does not fail on supported platforms; a time-based
		// id is still unique enough.
		return "r" + strconv.FormatInt(time.Now().UnixNano(), 16)
	}
	return "r" + hex.EncodeToString(b[:])
}

// CheckRunID accepts ids of 1 to 64 characters from [A-Za-z0-9-], which are
// valid in subjects, stream and bucket names alike.
func CheckRunID(id string) error {
	if id == "" || len(id) > 64 {
		return fmt.Errorf("run id %q: want 1 to 64 characters", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("run id %q: only letters, digits and '-' are allowed", id)
		}
	}
	return nil
}

// runNames are the names of one run's resources.
type runNames struct {
	run string
}

func (n runNames) stream() string { return "SPARKNET_" + n.run }

// The blob streams: the round's traffic and partition states (both in
// memory).
func (n runNames) roundStream() string { return "SPARKNET_" + n.run + "_RT" }
func (n runNames) roundPrefix() string { return "sparknet." + n.run + ".rt." }
func (n runNames) stateStream() string { return "SPARKNET_" + n.run + "_ST" }
func (n runNames) statePrefix() string { return "sparknet." + n.run + ".st." }
func (n runNames) fullSubject() string { return "sparknet." + n.run + ".full" }
func (n runNames) streams() []string   { return []string{n.stream(), n.roundStream(), n.stateStream()} }
func (n runNames) subjects() []string {
	return []string{"sparknet." + n.run + ".task.>", "sparknet." + n.run + ".result.>"}
}
func (n runNames) roundSubject() string     { return "sparknet." + n.run + ".round" }
func (n runNames) taskSubject(p int) string { return "sparknet." + n.run + ".task." + strconv.Itoa(p) }
func (n runNames) taskFilter() string       { return "sparknet." + n.run + ".task.>" }
func (n runNames) resultSubject(p int) string {
	return "sparknet." + n.run + ".result." + strconv.Itoa(p)
}
func (n runNames) resultFilter() string { return "sparknet." + n.run + ".result.>" }
func (n runNames) bucket() string       { return "sparknet_" + n.run }

// stateRequestSubject is where worker asks another for a partition state
// it holds (core NATS request and reply).
func (n runNames) stateRequestSubject(worker string) string {
	return "sparknet." + n.run + ".state." + worker
}

// taskConsumer names the consumer of partition p's tasks.
func taskConsumer(p int) string { return "p" + strconv.Itoa(p) }

// Object names inside a run's bucket.
const specObject = "spec"

func weightsObject(round int) string { return "w/" + strconv.Itoa(round) }

// fullObject is the round's weights whole, stored when a worker asks.
func fullObject(round int) string { return "f/" + strconv.Itoa(round) }

func deltaObject(round, p int, worker string) string {
	return "d/" + strconv.Itoa(round) + "/" + strconv.Itoa(p) + "/" + worker
}

func stateObject(round, p int, worker string) string {
	return "s/" + strconv.Itoa(p) + "/" + strconv.Itoa(round) + "/" + worker
}

func dataObject(sum string) string { return "data/" + sum }

// SanitizeName turns s into a worker name usable as a KV key and in object
// names: letters, digits, '-' and '_' are kept, anything else becomes '-'.
func SanitizeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	if b.Len() == 0 {
		return "worker"
	}
	if b.Len() > 64 {
		return b.String()[:64]
	}
	return b.String()
}
