package layers

import (
	"errors"
	"fmt"
	"runtime"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
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
		backend, err := data.BackendOf(dp.GetBackend())
		if err != nil {
			return nil, err
		}
		if ctx == nil {
			ctx = NewContext(pb.Phase_TRAIN, 0)
		}
		return &Data{prefetching: prefetching{typ: "Data"}, p: p, ctx: ctx, backend: backend}, nil
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
type Data struct {
	prefetching
	p       *pb.LayerParameter
	ctx     *Context
	backend data.Backend
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
	src, err := data.OpenDatumSource(l.backend, dp.GetSource(), mode)
	if err != nil {
		return fmt.Errorf("data_param.source: %w", err)
	}
	shard, err := shardFor(src.Len(), l.ctx, data.Strided)
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
