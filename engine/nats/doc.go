// Package nats runs the rounds of the SparkNet scheme on long-lived
// `sparknet worker` processes, on any number of hosts, through NATS
// JetStream: a work queue with acknowledgements and redelivery carries the
// tasks, two blob streams (see blobs.go) the megabytes, key-value buckets
// the membership. The driver embeds a NATS server
// (github.com/nats-io/nats-server/v2) or uses an existing one. Workers run
// the same parallel.Worker code as the local engine, so a seeded run gives
// the local engine's weights bit for bit.
//
// # A round
//
// The driver stores the round's broadcast once, as the blob w/<round> in
// the run's in-memory stream for round traffic: the weights whole (exact
// float32, with a CRC), or with a lossy codec the update of the previous
// round's weights (parallel.Broadcast). It queues one Task per partition
// and wakes the workers. A worker takes a task, brings its copy of the
// weights to the round (applying the update to the previous round's, or,
// when it does not hold those, reading the weights whole, which the driver
// stores as f/<round> when first asked), brings the partition's replica to
// the state the task names, runs tau iterations with
// parallel.Worker.RunRound, stores the encoded parallel.Delta as
// d/<round>/<p>/<worker>, reports a Result and acknowledges. While it
// computes it signals progress (in-progress acknowledgements), so a dead
// worker's task is redelivered after the ack wait and a slow one's is not.
// The driver fetches each delta as its result arrives (two at a time),
// checks it against the round (size before reading it, then run, round,
// partition, blob sizes, checksum and finite values: parallel.Decode) and
// adds it to the round's parallel.Combiner, whose exact sums make the
// average independent of the order of arrival; a bad delta is dropped and
// logged. The round ends when every partition reported or failed, or at the
// round deadline; unstarted tasks and the round's blobs are then purged.
//
// # Partition state
//
// Any worker may run any partition in any round, and the result must be
// what the local engine's worker for that partition would compute, so
// everything a parallel.Worker carries from round to round (solver history,
// data cursor, random state, smoothed loss, error-feedback residual:
// Worker.MarshalState) is the partition's state, named s/<p>/<round>/<worker>
// after each round. The worker that ran a partition keeps its replica and,
// once it has reported, the encoded state in memory, and by default stores
// the state in the run's state stream (off the round's critical path). Workers ask
// for their own partitions first (one consumer per partition), so
// partitions stay where their state is; a worker that takes over a
// partition fetches its state, asking the previous worker to store it when
// it is not stored yet. A task names the partition's committed state (that
// of its last accepted round) and, as a fallback should that be lost with
// its worker, the last state known stored. A failed or dropped round leaves
// the partition's committed state as it was. Checkpoints (Engine.States)
// collect the committed states, and a resumed driver (Engine.Restore) stores
// them for its first round.
//
// # Names
//
// Everything a run uses carries its run id; see names.go. The shared
// buckets sparknet_runs and sparknet_workers hold one entry per run and per
// worker, refreshed every two seconds and expiring fifteen seconds after
// their owner stops: `sparknet status` reads them, and workers learn of new
// runs by watching sparknet_runs.
//
// # Security
//
// Security configures token or nkey authentication and TLS with optional
// client certificates for the embedded server and every client; an embedded
// server refuses to listen beyond loopback without credentials, and logs
// refused logins.
package nats
