// Package parallel is SparkNet's parallel scheme, independent of where the
// workers run: every round the driver broadcasts the global weights, each of
// K workers runs tau SGD iterations on its own partition of the data, and
// the driver averages their results and applies an outer step. An Engine
// moves weights and results (engine/local: goroutines; engine/nats: worker
// processes); Train drives the rounds, tests and checkpoints.
//
// # Semantics
//
//   - Data: worker i of K reads partition i of the training data, strided
//     (records i, i+K, i+2K, ... of the source, see package data); batch_size
//     in the prototxt is per worker, so a global iteration consumes K
//     batches. Test nets (on the driver) read all their data.
//   - Iterations are global: round r runs iterations [it, it+tau) where it is
//     the global iteration at its start, so the learning-rate schedule,
//     display, test_interval, snapshot and max_iter count the same
//     iterations whatever K and tau. Every worker's solver is set to it at
//     the start of the round (Solver.SetIter). The last round runs only
//     what is left of max_iter.
//   - Tests, snapshots and displays are tau-aligned: they happen at the end
//     of a round whose iterations cross a multiple of test_interval,
//     snapshot or display, on the global model, and are labelled with the
//     round's final global iteration (a snapshot is <prefix>_iter_N with N
//     the round's end); a snapshot comes before the test of the same
//     iteration, as in Caffe. For tau = 1 this is exactly Caffe's schedule. The
//     display shows the mean over the combined workers of their smoothed
//     losses; observers get one TrainRecord per round (Iter: the round's
//     last iteration, Loss and Smoothed: the workers' means).
//   - Averaging is exact and order-independent: every element of the K
//     results is summed exactly (see ExactSum), so the result does not depend
//     on the order in which results arrive, on the engine, or on the thread
//     count, and the mean of one worker's weights is those weights.
//     Therefore -workers 1 -tau 1 is plain training bit for bit, and a seeded
//     run of any K is reproducible bit for bit.
//   - Seeds: worker 0's solver uses the run's seed (so K = 1 is plain
//     training), worker i > 0 a seed derived from it (WorkerSeed); a
//     time-based seed (random_seed -1) is drawn once, on the driver.
//   - Outer step (OuterOptimizer): avg (SparkNet: the new global weights are
//     the mean of the workers') or nesterov (DiLoCo: the outer gradient is
//     the global weights minus the mean, applied with Nesterov momentum, lr
//     0.7, momentum 0.9).
//   - Momentum (MomentumMode): local by default — each worker keeps its
//     solver history across rounds, as SparkNet did. It costs no
//     communication, and it is what makes K = 1 exactly plain training;
//     reset zeroes it each round; average sends it with the weights (twice
//     the bytes) and starts every worker from the mean.
//   - Compression (Codec), both ways: none sends the weights as float32
//     (exactly), down and up. fp16, bf16 and int8 (one scale per parameter
//     blob) send down the update that turns the workers' replica R of the
//     global weights G into the next (encode(G - R), after which R +=
//     decode; the first round sends G whole) and up each worker's update
//     w - R with error feedback on the worker; the driver adds the mean
//     update to G, so what the broadcast could not carry is in G - R and
//     goes out with the next round's (see Broadcast).
//   - Faults: a worker that returns an error or panics (recovered) is left
//     out of the round and logged by partition; so is one that misses the
//     round deadline, or whose delta fails validation (shape, values not
//     finite, wrong run or round: never averaged in). It rejoins the next
//     round with the current global weights (after an error, a panic or a
//     rejected delta, with zero history and residual). Fewer than the quorum
//     (default ceil(K/2)) in a round stops the run with an error naming the
//     failures.
//   - Communication model: SyncLatency + bytes / SyncBandwidth per round,
//     where bytes is K broadcasts (the update, with a lossy codec) plus the
//     deltas; slept by default (wall
//     times show it), or kept on a virtual clock.
//   - Checkpoints (see RunStatePath): the global model as Caffe's
//     .caffemodel and .solverstate (iter = the global iteration, history =
//     the mean of the workers'), readable by Caffe, plus a run state with the
//     round, the outer optimizer's state, the broadcast replica (lossy
//     codecs) and every worker's data cursor, random state, history and
//     residual; resuming from it continues bit for
//     bit. A run cancelled through its context stops without a snapshot (the
//     round in flight is lost; the last snapshot is consistent); a stop
//     requested through Config.Action snapshots first, as Caffe's.
package parallel
