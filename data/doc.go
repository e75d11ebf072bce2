// Package data feeds training data to sparknet's data layers the way
// Caffe's do, and reads and writes the datasets Caffe uses.
//
// Formats: IDX files (MNIST, Fashion-MNIST; gzipped or not), CIFAR-10/100
// binary batches, Caffe's Datum records (uint8 pixels, float features, or
// encoded JPEG/PNG) in LMDB (package data/lmdb, pure Go) or LevelDB
// (goleveldb) databases, and ImageData list files ("path label" lines).
//
// Pipeline: a Source yields examples by record index; a Shard selects the
// records one worker reads; a Cursor walks the shard epoch after epoch
// (reshuffled each epoch when shuffling is on); a Transformer applies
// Caffe's TransformationParameter (crop, mirror, mean, scale); a Loader
// assembles batches on a background goroutine ahead of the consumer.
//
// Semantics, stated once:
//
//   - Partitions are strided: of K shards, shard i reads records i, i+K,
//     i+2K, ... in key order. This is how Caffe's own multi-GPU Data layer
//     splits a database (DataLayer::Skip keeps offset % solver_count ==
//     rank) and how the PyTorch baseline in BENCHMARKS.md splits it, so K
//     workers with batch B together consume, in each global step, the same
//     K*B consecutive records one worker with batch K*B would: runs with
//     different K see the same data in the same order. Locality does not
//     suffer on one machine: all workers share one read-only map of the
//     LMDB file and the page cache. Contiguous partitions ([i*N/K,
//     (i+1)*N/K)) are available too, and Blocked ones for sources whose
//     unit of reading is a block (a BlockSource: Parquet row groups, see
//     package data/parquet): shard i gets a contiguous run of whole blocks
//     cut at the block boundaries nearest to i*N/K (NewBlockShard).
//   - Order: without shuffling (Caffe's Data layer never shuffles), a shard
//     is read in key order and wraps around at its end. With shuffling
//     (ImageData's shuffle), every epoch of a shard is a permutation drawn
//     from a seed derived from (run seed, shard, epoch).
//   - Randomness of transformations (crop offsets, mirror) for batch b of
//     shard s comes from a generator seeded by (run seed, shard, b), so it
//     does not depend on goroutine timing: a seeded run is reproducible,
//     and a run resumed from a saved Position continues exactly.
package data
