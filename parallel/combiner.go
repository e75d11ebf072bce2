package parallel

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
)

// ErrRoundClosed is returned by Combiner.Add for a delta that arrives after
// the round was finished (e.g. past its deadline).
var ErrRoundClosed = errors.New("the round is closed")

// Combiner averages the deltas of one round as they arrive. It validates
// each delta against the round (run, round, partition, codec, shapes, finite
// values, no partition twice) and accumulates it exactly, so the average
// does not depend on the order of arrival, and it never holds more than one
// model-sized float64 sum per averaged quantity (plus, for lossy codecs, one
// float32 decode buffer): the NATS engine feeds it deltas one at a time.
// With codec none it averages the workers' weights; with a lossy codec their
// updates, which it adds to the round's global weights.
// Its methods are safe for concurrent use.
type Combiner struct {
	mu     sync.Mutex
	expect Expect
	global []float32 // the round's global weights, which lossy updates are added to

	weights, history *ExactSum
	// held are deltas added with AddNoCopy, summed at Finish.
	held    []*Delta
	scratch []float32

	got      map[int]WorkerStats
	rejected map[int]error
	bytes    int64
	closed   bool
}

// NewCombiner returns a combiner for a round with the given expectations;
// global is the driver's global weights (flat, e.Layout): with a lossy
// codec, Finish adds the mean of the workers' updates to them (the workers
// started from Global.Weights, which may differ, see Broadcast). It must
// stay unchanged until Finish.
func NewCombiner(e Expect, global []float32) *Combiner {
	return &Combiner{expect: e, global: global, got: map[int]WorkerStats{}}
}

// Expect returns what the combiner expects of the round's deltas (for
// Decode).
func (c *Combiner) Expect() Expect { return c.expect }

// check validates d's header against the round; c.mu is held.
func (c *Combiner) check(d *Delta) error {
	e := c.expect
	switch {
	case c.closed:
		return fmt.Errorf("partition %d: %w", d.Partition, ErrRoundClosed)
	case d.Run != e.Run:
		return fmt.Errorf("%w: from run %q, not this run %q", ErrBadDelta, d.Run, e.Run)
	case d.Round != e.Round || d.Iter != e.Iter:
		return fmt.Errorf("%w: for round %d (iteration %d), this is round %d (iteration %d)", ErrBadDelta, d.Round, d.Iter, e.Round, e.Iter)
	case d.Partitions != e.Partitions || d.Partition < 0 || d.Partition >= e.Partitions:
		return fmt.Errorf("%w: partition %d of %d, this run has %d partitions", ErrBadDelta, d.Partition, d.Partitions, e.Partitions)
	case d.Codec != e.Codec:
		return fmt.Errorf("%w: codec %s, this run uses %s", ErrBadDelta, d.Codec, e.Codec)
	}
	if _, dup := c.got[d.Partition]; dup {
		return fmt.Errorf("%w: partition %d sent twice in round %d", ErrBadDelta, d.Partition, d.Round)
	}
	if err := e.Layout.CheckCounts(d.Counts); err != nil {
		return fmt.Errorf("%w: %v", ErrBadDelta, err)
	}
	if err := d.checkShape(); err != nil {
		return err
	}
	if (d.History != nil) != (e.HistorySets > 0) || len(d.History) != e.HistorySets*e.Layout.Blobs() {
		return fmt.Errorf("%w: %d history blobs, want %d", ErrBadDelta, len(d.History), e.HistorySets*e.Layout.Blobs())
	}
	return d.checkStats()
}

// Add validates d and adds it to the round's sums now; d may be reused or
// dropped when Add returns. A delta that fails validation is not added and
// the error (wrapping ErrBadDelta or ErrRoundClosed) says why.
func (c *Combiner) Add(d *Delta) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(d); err != nil {
		return err
	}
	if !d.checked {
		if err := d.checkValues(); err != nil {
			return err
		}
	}
	l := c.expect.Layout
	if c.weights == nil {
		c.weights = NewExactSum(l.Len())
	}
	if d.Codec.Lossy() {
		if c.scratch == nil {
			c.scratch = make([]float32, l.Len())
		}
		if err := c.decode(d, c.scratch); err != nil {
			return err
		}
		c.weights.Add(0, c.scratch)
	} else {
		for i, w := range d.Weights {
			c.weights.Add(l.Offset(i), w)
		}
	}
	if d.History != nil {
		if c.history == nil {
			c.history = NewExactSum(l.Len() * c.expect.HistorySets)
		}
		for i, h := range d.History {
			c.history.Add(c.historyOffset(i), h)
		}
	}
	c.accept(d)
	return nil
}

// AddNoCopy validates d's header and shapes now and sums it at Finish,
// reading its slices then: they must stay unchanged until Finish returns.
// With every delta added this way and codec none, Finish averages in one
// pass without a float64 buffer, checking the values are finite in the
// same pass (the local engine's zero-copy path); a delta with a NaN or an
// infinity is then rejected at Finish (see Rejected). The result is the
// same as with Add.
func (c *Combiner) AddNoCopy(d *Delta) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.check(d); err != nil {
		return err
	}
	if d.Codec.Lossy() {
		if !d.checked {
			if err := d.checkValues(); err != nil {
				return err
			}
		}
		// Decoded updates need a buffer anyway: sum them now.
		l := c.expect.Layout
		if c.weights == nil {
			c.weights = NewExactSum(l.Len())
		}
		if c.scratch == nil {
			c.scratch = make([]float32, l.Len())
		}
		if err := c.decode(d, c.scratch); err != nil {
			return err
		}
		c.weights.Add(0, c.scratch)
		// Only its history (if any) waits for Finish.
		rest := *d
		rest.Weights, rest.Half, rest.Int8 = nil, nil, nil
		c.held = append(c.held, &rest)
	} else {
		c.held = append(c.held, d)
	}
	c.accept(d)
	return nil
}

// accept records d's partition, statistics and size; c.mu is held.
func (c *Combiner) accept(d *Delta) {
	c.got[d.Partition] = d.Stats
	c.bytes += int64(d.EncodedSize())
}

// historyOffset returns where history blob i starts in the flat history.
func (c *Combiner) historyOffset(i int) int {
	l := c.expect.Layout
	return (i/l.Blobs())*l.Len() + l.Offset(i%l.Blobs())
}

// decode writes the update decode(d) to out and checks that the global
// weights plus it are finite.
func (c *Combiner) decode(d *Delta, out []float32) error {
	l := c.expect.Layout
	for i := 0; i < l.Blobs(); i++ {
		lo, hi := l.Offset(i), l.Offset(i)+l.Count(i)
		var half []uint16
		var q []int8
		var scale float32
		switch d.Codec {
		case CodecFP16, CodecBF16:
			half = d.Half[lo:hi]
		case CodecInt8:
			q, scale = d.Int8[lo:hi], d.Scales[i]
		}
		decodeValues(d.Codec, half, q, scale, out[lo:hi])
	}
	g := c.global[:len(out)]
	for j, u := range out {
		if x := g[j] + u; math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return fmt.Errorf("%w: partition %d: global weight %d plus its update is %v", ErrBadDelta, d.Partition, j, x)
		}
	}
	return nil
}

// Count returns the number of deltas accepted so far.
func (c *Combiner) Count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.got)
}

// Partitions returns the partitions whose deltas were accepted, in order.
func (c *Combiner) Partitions() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps := make([]int, 0, len(c.got))
	for p := range c.got {
		ps = append(ps, p)
	}
	sort.Ints(ps)
	return ps
}

// Stats returns the statistics of the accepted deltas, by partition.
func (c *Combiner) Stats() map[int]WorkerStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[int]WorkerStats, len(c.got))
	for k, v := range c.got {
		m[k] = v
	}
	return m
}

// Bytes returns the encoded size of the accepted deltas: what the round's
// results cost on the wire.
func (c *Combiner) Bytes() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

// Close stops accepting deltas: a later Add fails with ErrRoundClosed.
func (c *Combiner) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
}

// Rejected returns the deltas rejected by Finish (added with AddNoCopy,
// found to hold a NaN or an infinity), by partition.
func (c *Combiner) Rejected() map[int]error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[int]error, len(c.rejected))
	for k, v := range c.rejected {
		m[k] = v
	}
	return m
}

// Finish closes the round and writes the mean of the accepted workers'
// weights (codec none), or the global weights plus the mean of their
// updates (lossy codecs: float32(global + mean)), to weights (flat, the
// layout's length) and, when histories were sent, the mean of their
// histories to history. It returns the number of deltas averaged; with none
// it writes nothing.
func (c *Combiner) Finish(weights, history []float32) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	l := c.expect.Layout
	if len(weights) != l.Len() {
		return 0, fmt.Errorf("combiner: weights buffer of %d for %d parameters", len(weights), l.Len())
	}
	if c.expect.HistorySets > 0 && len(history) != l.Len()*c.expect.HistorySets {
		return 0, fmt.Errorf("combiner: history buffer of %d for %d values", len(history), l.Len()*c.expect.HistorySets)
	}
	if len(c.got) == 0 {
		return 0, nil
	}
	if c.weights != nil || c.history != nil {
		// Some deltas were summed already: the held ones join the sums
		// (checked first, as they can no longer be taken out).
		c.checkHeld()
		for _, d := range c.held {
			if !d.Codec.Lossy() {
				for i, w := range d.Weights {
					c.weights.Add(l.Offset(i), w)
				}
			}
			if d.History != nil {
				if c.history == nil {
					c.history = NewExactSum(l.Len() * c.expect.HistorySets)
				}
				for i, h := range d.History {
					c.history.Add(c.historyOffset(i), h)
				}
			}
		}
	}
	n := len(c.got)
	if n == 0 {
		return 0, nil
	}
	if c.weights != nil {
		c.weights.Mean(weights, n)
		if c.expect.Codec.Lossy() {
			g := c.global[:len(weights)]
			for j, u := range weights {
				weights[j] = g[j] + u
			}
		}
		if c.history != nil {
			c.history.Mean(history, n)
		}
		return n, nil
	}
	// Every delta is held, codec none: one pass per blob, finite check
	// included; a delta with a non-finite value is dropped and the means
	// are done again without it.
	if !c.meanHeld(weights, history) {
		c.checkHeld()
		if len(c.held) == 0 {
			return 0, nil
		}
		c.meanHeld(weights, history)
	}
	return len(c.got), nil
}

// meanHeld averages the held deltas; it reports whether every value was
// finite.
func (c *Combiner) meanHeld(weights, history []float32) bool {
	l := c.expect.Layout
	finite := true
	xs := make([][]float32, len(c.held))
	for i := 0; i < l.Blobs(); i++ {
		for k, d := range c.held {
			xs[k] = d.Weights[i]
		}
		finite = MeanOf(l.Segment(weights, i), xs) && finite
	}
	for i := 0; i < l.Blobs()*c.expect.HistorySets; i++ {
		for k, d := range c.held {
			xs[k] = d.History[i]
		}
		off := c.historyOffset(i)
		finite = MeanOf(history[off:off+l.Count(i%l.Blobs())], xs) && finite
	}
	return finite
}

// checkHeld checks the values of the held deltas not checked yet and drops
// the bad ones, recording why in rejected.
func (c *Combiner) checkHeld() {
	kept := c.held[:0]
	for _, d := range c.held {
		if !d.checked {
			if err := d.checkValues(); err != nil {
				if c.rejected == nil {
					c.rejected = map[int]error{}
				}
				c.rejected[d.Partition] = fmt.Errorf("partition %d: %w", d.Partition, err)
				delete(c.got, d.Partition)
				c.bytes -= int64(d.EncodedSize())
				continue
			}
		}
		kept = append(kept, d)
	}
	c.held = kept
}
