package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// LoaderConfig describes what a Loader reads and how.
type LoaderConfig struct {
	// Source is read through one reader owned by the loader.
	Source Source
	// Transformer turns examples into net input; nil means identity.
	Transformer *Transformer
	// BatchSize is the number of examples per batch (> 0).
	BatchSize int
	// Shard is the part of Source this loader reads.
	Shard Shard
	// Shuffle reshuffles the shard every epoch.
	Shuffle bool
	// Seed is the run seed; shuffles and transformation draws derive from
	// it, the shard and the epoch or batch number.
	Seed uint64
	// Prefetch is the number of batches prepared ahead (Caffe's
	// DataParameter.prefetch, default 4); values below 1 mean 1.
	Prefetch int
}

// Batch is one batch of transformed examples: Data is N x C x H x W,
// Labels has N values.
type Batch struct {
	N, C, H, W int
	Data       []float32
	Labels     []float32
	// Pos is the loader's position after this batch: saving it and
	// resuming from it continues with the next batch.
	Pos Position
	err error
}

// Loader assembles batches on a background goroutine, up to Prefetch ahead
// of the consumer, so that training does not wait on reading and decoding.
// The batches are a deterministic function of the configuration and the
// start position: records come from the Cursor, and the random
// transformation choices of batch b come from a generator seeded by (Seed,
// shard, b), not from any shared stream.
//
// A Loader is used by one consumer goroutine: Next, Release, Start,
// Position and Close must not be called concurrently.
type Loader struct {
	cfg     LoaderConfig
	reader  SourceReader
	cursor  *Cursor
	ex      Example
	pcg     *rand.PCG
	rng     *rand.Rand
	batches []*Batch

	free, full chan *Batch
	quit       chan struct{}
	wg         sync.WaitGroup
	running    bool
	held       *Batch

	pos    Position // after the last batch handed out
	err    error    // sticky
	closed bool
}

// NewLoader checks cfg and returns a loader positioned at the start of
// epoch 0; it starts reading on the first Next (or Start).
func NewLoader(cfg LoaderConfig) (*Loader, error) {
	if cfg.Source == nil {
		return nil, errors.New("data: loader without a source")
	}
	if cfg.BatchSize <= 0 {
		return nil, fmt.Errorf("%s: batch_size must be positive, got %d", cfg.Source.Name(), cfg.BatchSize)
	}
	if cfg.Shard.N != cfg.Source.Len() {
		return nil, fmt.Errorf("%s: shard of %d records for a source of %d", cfg.Source.Name(), cfg.Shard.N, cfg.Source.Len())
	}
	if cfg.Transformer == nil {
		cfg.Transformer = &Transformer{scale: 1}
	}
	cfg.Prefetch = max(cfg.Prefetch, 1)
	var reader SourceReader
	if ss, ok := cfg.Source.(ShardSource); ok {
		reader = ss.NewShardReader(cfg.Shard)
	} else {
		reader = cfg.Source.NewReader()
	}
	l := &Loader{
		cfg:    cfg,
		reader: reader,
		cursor: NewCursor(cfg.Shard, cfg.Shuffle, cfg.Seed),
		pcg:    rand.NewPCG(0, 0),
	}
	l.rng = rand.New(l.pcg)
	for range cfg.Prefetch {
		l.batches = append(l.batches, &Batch{})
	}
	return l, nil
}

// Position returns the position after the last batch Next returned (the
// start position before any).
func (l *Loader) Position() Position { return l.pos }

// Peek reads the record at position p without moving and returns the
// shape of its transformed example: what the first batch from p will
// have. Call it before the loader starts reading.
func (l *Loader) Peek(p Position) (c, h, w int, err error) {
	if l.running {
		return 0, 0, 0, errors.New("data: Peek while the loader is running")
	}
	cur := NewCursor(l.cfg.Shard, l.cfg.Shuffle, l.cfg.Seed)
	if err := cur.Seek(p); err != nil {
		return 0, 0, 0, err
	}
	i := cur.Next()
	if err := l.reader.Read(i, &l.ex); err != nil {
		return 0, 0, 0, err
	}
	c, h, w, err = l.cfg.Transformer.OutputShape(l.ex.C, l.ex.H, l.ex.W)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("%s: %w", l.where(i), err)
	}
	return c, h, w, nil
}

// where names record i for errors.
func (l *Loader) where(i int) string {
	if d, ok := l.reader.(interface{ Where(int) string }); ok {
		return d.Where(i)
	}
	return fmt.Sprintf("%s: record %d", l.cfg.Source.Name(), i)
}

// Start (re)starts reading at position p, discarding batches prepared for
// the old position. A batch from Next must have been released.
func (l *Loader) Start(p Position) error {
	if l.closed {
		return errors.New("data: loader is closed")
	}
	if l.held != nil {
		return errors.New("data: Start while a batch is held (Release it first)")
	}
	l.stop()
	if err := l.cursor.Seek(p); err != nil {
		return err
	}
	l.pos, l.err = p, nil
	l.free = make(chan *Batch, len(l.batches))
	l.full = make(chan *Batch, len(l.batches))
	for _, b := range l.batches {
		l.free <- b
	}
	l.quit = make(chan struct{})
	l.running = true
	l.wg.Add(1)
	go l.run(l.quit, l.free, l.full)
	return nil
}

// stop ends the goroutine and waits for it.
func (l *Loader) stop() {
	if !l.running {
		return
	}
	close(l.quit)
	l.wg.Wait()
	l.running = false
}

func (l *Loader) run(quit <-chan struct{}, free <-chan *Batch, full chan<- *Batch) {
	defer l.wg.Done()
	for {
		var b *Batch
		select {
		case b = <-free:
		case <-quit:
			return
		}
		b.err = l.load(b)
		select {
		case full <- b:
		case <-quit:
			return
		}
		if b.err != nil {
			return
		}
	}
}

// load fills b with the next batch from the cursor.
func (l *Loader) load(b *Batch) error {
	t := l.cfg.Transformer
	bs := l.cfg.BatchSize
	pos := l.cursor.Position()
	l.pcg.Seed(DeriveSeed(l.cfg.Seed, seedTransform, uint64(l.cfg.Shard.I), uint64(pos.Batch)), 0)
	var inC, inH, inW, per int
	for item := 0; item < bs; item++ {
		i := l.cursor.Next()
		if err := l.reader.Read(i, &l.ex); err != nil {
			return err
		}
		ex := &l.ex
		if item == 0 {
			c, h, w, err := t.OutputShape(ex.C, ex.H, ex.W)
			if err != nil {
				return fmt.Errorf("%s: %w", l.where(i), err)
			}
			inC, inH, inW = ex.C, ex.H, ex.W
			b.N, b.C, b.H, b.W = bs, c, h, w
			per = c * h * w
			b.Data = grow(b.Data, bs*per)
			b.Labels = grow(b.Labels, bs)
		} else if ex.C != inC || ex.H != inH || ex.W != inW {
			return fmt.Errorf("%s: example has shape %dx%dx%d, but the batch's first has %dx%dx%d (examples of one batch must have one shape: set crop_size, or new_height and new_width)",
				l.where(i), ex.C, ex.H, ex.W, inC, inH, inW)
		}
		if err := t.Transform(ex, b.Data[item*per:(item+1)*per], l.rng); err != nil {
			return fmt.Errorf("%s: %w", l.where(i), err)
		}
		b.Labels[item] = ex.Label
	}
	l.cursor.pos.Batch++
	b.Pos = l.cursor.Position()
	return nil
}

func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// Next returns the next batch, waiting for it if it is not ready. The
// batch stays valid until Release, which must come before the next Next.
// After an error every later call returns the same error until Start.
func (l *Loader) Next() (*Batch, error) {
	if l.err != nil {
		return nil, l.err
	}
	if l.held != nil {
		return nil, errors.New("data: Next while a batch is held (Release it first)")
	}
	if !l.running {
		if err := l.Start(l.pos); err != nil {
			return nil, err
		}
	}
	b := <-l.full
	if b.err != nil {
		l.err = b.err
		l.free <- b
		return nil, l.err
	}
	l.pos = b.Pos
	l.held = b
	return b, nil
}

// Release hands a batch back for reuse.
func (l *Loader) Release(b *Batch) {
	if b == nil || b != l.held {
		return
	}
	l.held = nil
	l.free <- b
}

// Close stops the goroutine and closes the loader's reader (not the
// Source, which the caller owns).
func (l *Loader) Close() error {
	if l.closed {
		return nil
	}
	l.held = nil
	l.stop()
	l.closed = true
	return l.reader.Close()
}
