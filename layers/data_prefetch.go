package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/tensor"
)

// Stateful is implemented by layers that keep a position that a checkpoint
// must save to resume exactly (data layers' cursors). The state is opaque
// bytes; UnmarshalState rejects a state saved for different data.
type Stateful interface {
	MarshalState() ([]byte, error)
	UnmarshalState([]byte) error
}

// prefetching is the part shared by the data layers that read through a
// data.Loader (Caffe's BasePrefetchingDataLayer): Setup sizes the tops from
// the first example and starts the background loader; Forward copies the
// next ready batch into the tops; errors are kept for Err.
type prefetching struct {
	typ    string
	src    data.Source
	loader *data.Loader
	shard  data.Shard
	err    error
	closer *loaderCloser
}

// loaderCloser releases a loader and its source once: from Close, or from
// a cleanup (runtime.AddCleanup, registered by each layer) when a layer that
// was never closed becomes unreachable, so that a dropped net does not leave
// its prefetch goroutine behind.
type loaderCloser struct {
	loader *data.Loader
	src    data.Source
	done   bool
}

func (c *loaderCloser) close() error {
	if c.done {
		return nil
	}
	c.done = true
	err := c.loader.Close()
	if serr := c.src.Close(); err == nil {
		err = serr
	}
	return err
}

// start builds the loader over src and sizes the tops: data to batch x C x
// H x W of the example at the start position, label (if asked for) to
// batch.
func (p *prefetching) start(cfg data.LoaderConfig, start data.Position, top []*tensor.Blob) error {
	l, err := data.NewLoader(cfg)
	if err != nil {
		cfg.Source.Close()
		return err
	}
	p.src, p.loader, p.shard = cfg.Source, l, cfg.Shard
	p.closer = &loaderCloser{loader: l, src: cfg.Source}
	c, h, w, err := l.Peek(start)
	if err != nil {
		p.closer.close()
		return err
	}
	top[0].Reshape(cfg.BatchSize, c, h, w)
	if len(top) > 1 {
		top[1].Reshape(cfg.BatchSize)
	}
	if err := l.Start(start); err != nil {
		p.closer.close()
		return err
	}
	return nil
}

// Reshape keeps the tops: Forward shapes them from each batch, as Caffe's
// data layers do (a batch takes the shape of its first example).
func (p *prefetching) Reshape(bottom, top []*tensor.Blob) error { return nil }

// Forward copies the next prefetched batch into the tops. An error (a
// record that cannot be read or decoded, a crop that does not fit) leaves
// the tops as they were and is reported by Err.
func (p *prefetching) Forward(bottom, top []*tensor.Blob) {
	if p.err != nil {
		return
	}
	if p.loader == nil {
		p.err = fmt.Errorf("%s: Forward before Setup", p.typ)
		return
	}
	b, err := p.loader.Next()
	if err != nil {
		p.err = err
		return
	}
	top[0].Reshape(b.N, b.C, b.H, b.W)
	copy(top[0].Data, b.Data)
	if len(top) > 1 {
		top[1].Reshape(b.N)
		copy(top[1].Data, b.Labels)
	}
	p.loader.Release(b)
}

// Backward does nothing: data layers take no gradient.
func (p *prefetching) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}

// Params returns nil.
func (p *prefetching) Params() []*tensor.Blob { return nil }

// Err returns the first error met while reading, naming the source and
// record.
func (p *prefetching) Err() error { return p.err }

// MarshalState saves the position after the last batch Forward delivered.
func (p *prefetching) MarshalState() ([]byte, error) {
	if p.loader == nil {
		return nil, errors.New("data layer state before Setup")
	}
	return data.MarshalState(p.src.Name(), p.shard, p.loader.Position())
}

// UnmarshalState moves the layer to a saved position: the next Forward
// delivers the batch that followed it.
func (p *prefetching) UnmarshalState(b []byte) error {
	if p.loader == nil {
		return errors.New("data layer state restored before Setup")
	}
	pos, err := data.UnmarshalState(b, p.shard)
	if err != nil {
		return fmt.Errorf("%s: %w", p.src.Name(), err)
	}
	p.err = nil
	return p.loader.Start(pos)
}

// Close stops the prefetch goroutine and releases the source.
func (p *prefetching) Close() error {
	if p.closer == nil {
		return nil
	}
	return p.closer.close()
}

// shardFor returns the shard a data layer reads: ctx's shard of the
// training data; the whole source in TEST (as Caffe's Data layer, which
// does not split its test data among solvers).
func shardFor(n int, ctx *Context, partition data.Partition) (data.Shard, error) {
	k, i := shardOf(ctx)
	return data.NewShard(n, k, i, partition)
}

// shardOf returns the shard a data layer reads and the number of shards.
func shardOf(ctx *Context) (k, i int) {
	if ctx != nil && ctx.Phase != pb.Phase_TEST && ctx.Shards > 1 {
		return ctx.Shards, ctx.Shard
	}
	return 1, 0
}

// randomSkip returns the start offset for rand_skip (0 when unset): a
// number below randSkip drawn from the run seed and shard, so that it is
// reproducible.
func randomSkip(ctx *Context, shard data.Shard, randSkip uint32) int64 {
	if randSkip == 0 {
		return 0
	}
	return int64(data.DeriveSeed(seedOf(ctx), 3, uint64(shard.I))%uint64(randSkip)) % int64(shard.Len())
}

func seedOf(ctx *Context) uint64 {
	if ctx == nil {
		return 0
	}
	return ctx.Seed
}
