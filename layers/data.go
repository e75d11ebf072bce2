package layers

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/data/parquet"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Data", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		dp := p.GetDataParam()
		if dp.GetSource() == "" {
			return nil, errors.New("data_param.source is empty")
		}
		if dp.GetBatchSize() == 0 {
			return nil, errors.New("data_param.batch_size must be positive")
		}
		if ctx == nil {
			ctx = NewContext(pb.Phase_TRAIN, 0)
		}
		l := &Data{prefetching: prefetching{typ: "Data"}, p: p, ctx: ctx}
		if dp.GetBackend() == pb.DataParameter_PARQUET {
			l.parquet = true
			return l, nil
		}
		backend, err := data.BackendOf(dp.GetBackend())
		if err != nil {
			return nil, err
		}
		l.backend = backend
		return l, nil
	})
}

// Data is Caffe's DataLayer: it reads Datum records from an LMDB or
// LevelDB database (data_param.source, backend), transforms them
// (transform_param) and outputs batches of data_param.batch_size examples
// and, with a second top, their labels.
//
// Records are read in key order and wrap around at the end, as in Caffe;
// the layer never shuffles. In TRAIN, a net built for worker Shard of
// Shards (Context) reads records Shard, Shard+Shards, ... (see package
// data); TEST nets read every record. Batches are prepared ahead by a
// background goroutine (data_param.prefetch batches, default 4); random
// crops and mirrors are reproducible from the context's seed. The layer's
// position is saved and restored through MarshalState/UnmarshalState.
//
// With backend PARQUET (a sparknet extension), source is a Parquet file or
// a folder of them as Spark writes a DataFrame, and data_param.parquet_param
// names the columns (package data/parquet). Workers then get whole row
// groups: shard Shard of Shards is a contiguous run of row groups
// (data.Blocked) instead of every Shards-th record; one reader gives the
// same records in the same order as an LMDB of the same rows.
type Data struct {
	prefetching
	p       *pb.LayerParameter
	ctx     *Context
	backend data.Backend
	parquet bool
}

// Type returns "Data".
func (l *Data) Type() string { return "Data" }

// Arity is no bottom, a data top and an optional label top.
func (l *Data) Arity() Arity { return Arity{0, -1, -1, -1, 1, 2, false, false} }

// Setup opens the database, checks the first record against the
// transformation and starts prefetching.
func (l *Data) Setup(bottom, top []*tensor.Blob) error {
	dp := l.p.GetDataParam()
	tp := l.p.GetTransformParam()
	tr, err := data.NewTransformer(tp, l.ctx.Phase)
	if err != nil {
		return err
	}
	mode := tr.DecodeMode()
	if dp.GetForceEncodedColor() && !tp.GetForceGray() {
		mode = data.Color
	}
	var src data.Source
	var shard data.Shard
	if l.parquet {
		ps, perr := parquet.Open(dp.GetSource(), parquet.OptionsOf(dp.GetParquetParam(), len(top) > 1, mode))
		if perr != nil {
			return fmt.Errorf("data_param.source: %w", perr)
		}
		k, i := shardOf(l.ctx)
		src = ps
		shard, err = data.NewBlockShard(ps.Blocks(), ps.Len(), k, i)
	} else {
		ds, derr := data.OpenDatumSource(l.backend, dp.GetSource(), mode)
		if derr != nil {
			return fmt.Errorf("data_param.source: %w", derr)
		}
		src = ds
		shard, err = shardFor(src.Len(), l.ctx, data.Strided)
	}
	if err != nil {
		src.Close()
		return fmt.Errorf("%s: %w", dp.GetSource(), err)
	}
	cfg := data.LoaderConfig{
		Source: src, Transformer: tr, BatchSize: int(dp.GetBatchSize()), Shard: shard,
		Seed: l.ctx.Seed, Prefetch: int(dp.GetPrefetch()),
	}
	start := data.Position{Offset: randomSkip(l.ctx, shard, dp.GetRandSkip())}
	if err := l.start(cfg, start, top); err != nil {
		return err
	}
	runtime.AddCleanup(l, func(c *loaderCloser) { c.close() }, l.closer)
	return nil
}
