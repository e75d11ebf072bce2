// Package parquet reads and writes training data as Apache Parquet, the
// way Spark stores DataFrames, so that sparknet trains on a Spark job's
// output directly. Decoding is Apache Arrow's (github.com/apache/arrow-go
// parquet/pqarrow): every codec it supports (Spark's default snappy, gzip,
// zstd, ...) and dictionary-encoded columns read transparently.
//
// # Layout
//
// A source is one Parquet file or a folder, walked recursively in sorted
// path order: part files (any name) at any depth under Hive-style
// key=value partition folders. Names starting with "_" or "." (_SUCCESS,
// _committed_*, _started_*, _temporary/, .part-*.crc) and "*.crc" files are
// skipped. Partition keys are ignored, except that the label column may be
// one (a DataFrame written with partitionBy("label") keeps the label only
// in its folder names); point the source at a partition folder
// (".../split=train") to read one partition.
//
// # Columns
//
// An example is one row: a binary column of encoded images (JPEG, PNG, GIF,
// BMP, decoded as an encoded Datum is) or of raw C*H*W uint8 pixels in
// Datum order (channel-major, BGR), or a struct column of Spark's image
// schema (spark.read.format("image"): height, width, nChannels, mode and
// data, rows of interleaved BGR(A) pixels, read as channel planes), or a
// list column (array<float>, array<double>, variable or fixed size) of
// features; and a label column of any integer or floating-point type. The shape of raw pixels and features
// comes from Options, else from the file's "sparknet.shape" metadata
// (written by Writer), else encoded images / len x 1 x 1 features.
// Columns are found by top-level name in each file, so files may differ in
// their other columns and column order.
//
// # Reading
//
// A Source's records are the rows of its files' row groups in order; the
// row groups are its blocks (data.BlockSource), so that K workers get
// disjoint contiguous runs of whole row groups, balanced by row count
// (data.NewBlockShard). A Reader decodes one row group at a time and reads
// the next one ahead on a goroutine, so a worker holds at most two row
// groups in memory, never the dataset. The data package's Loader, Cursor,
// Transformer and State work on a Source as on an LMDB: a Source whose rows
// equal an LMDB's records gives bit-identical batches.
//
// # Errors
//
// A missing column, a column of the wrong type, a corrupt file, row group
// or value is an error of one line naming the file, the row group and the
// column (and the row, for values). Arrow's decoders panic on some corrupt
// input; those panics are recovered and reported the same way.
//
// # Writing
//
// Writer writes a folder as Spark does: part-NNNNN-<job uuid>-c000.<codec>.parquet
// files of at most FileRows rows, row groups of at most RowGroupRows rows or
// RowGroupBytes bytes, snappy by default, a nullable binary or list<float>
// data column, a dictionary-encoded int32 label column, and an empty
// _SUCCESS file; FromDB and ToDB convert from and to Caffe's Datum
// databases.
package parquet
