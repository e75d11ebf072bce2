package data

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
)

// Partition selects how N records are split into K shards.
type Partition int

const (
	// Strided gives shard i the records i, i+K, i+2K, ... (Caffe's
	// multi-GPU Data layer, PyTorch's DistributedSampler). The default.
	Strided Partition = iota
	// Contiguous gives shard i the records [i*N/K, (i+1)*N/K).
	Contiguous
	// Blocked gives each shard a contiguous run of whole blocks (Parquet
	// row groups), cut at the block boundaries nearest to i*N/K, so that
	// no block is split between shards and each reads its blocks
	// sequentially. See NewBlockShard.
	Blocked
)

// String returns "strided", "contiguous" or "blocked".
func (p Partition) String() string {
	switch p {
	case Contiguous:
		return "contiguous"
	case Blocked:
		return "blocked"
	}
	return "strided"
}

// Shard is shard I of K of a source of N records. Its records are numbered
// 0..Len()-1; Record maps that number to the source's record index.
type Shard struct {
	N, K, I int
	Mode    Partition
	// lo, hi bound a Blocked shard's records: [lo, hi).
	lo, hi int
}

// BlockSource is implemented by sources whose records come in blocks that
// are read as a unit (Parquet row groups): their shards should be Blocked.
type BlockSource interface {
	Source
	// Blocks returns the index of each block's first record, ascending,
	// starting with 0; no block is empty.
	Blocks() []int
}

// ShardSource is implemented by sources whose readers read ahead: the
// loader gives NewShardReader the shard it will walk, so that the reader
// can read ahead in the shard's order, wrapping at its end.
type ShardSource interface {
	Source
	NewShardReader(s Shard) SourceReader
}

// NewBlockShard returns shard i of k of a source of n records in blocks
// that start at the given record indices (BlockSource.Blocks). Shard i gets
// the blocks from boundary b[i] to b[i+1], where b[j] is the block
// boundary nearest to record j*n/k (ties to the lower one) that leaves
// every shard at least one block; so shards differ in size by at most
// about one block. k <= 1 gives the whole source.
func NewBlockShard(starts []int, n, k, i int) (Shard, error) {
	if k <= 1 {
		k, i = 1, 0
	}
	if i < 0 || i >= k {
		return Shard{}, fmt.Errorf("shard %d out of range [0, %d)", i, k)
	}
	nb := len(starts)
	if nb == 0 || starts[0] != 0 || n <= starts[nb-1] {
		return Shard{}, fmt.Errorf("block starts %v do not cover %d records", starts, n)
	}
	for j := 1; j < nb; j++ {
		if starts[j] <= starts[j-1] {
			return Shard{}, fmt.Errorf("block starts %v are not strictly increasing", starts)
		}
	}
	if nb < k {
		return Shard{}, fmt.Errorf("%d blocks (row groups) cannot be split into %d shards: write the data in at least %d", nb, k, k)
	}
	// Boundaries in blocks; bound(0) = 0, bound(k) = nb.
	prev := 0
	bound := func(j int) int {
		switch j {
		case 0:
			return 0
		case k:
			return nb
		}
		target := int(int64(j) * int64(n) / int64(k))
		lo, hi := prev+1, nb-(k-j) // leave a block to every shard
		b := sort.SearchInts(starts, target)
		if b > 0 && (b == nb || target-starts[b-1] <= starts[b]-target) {
			b--
		}
		return min(max(b, lo), hi)
	}
	var b0, b1 int
	for j := 1; j <= i+1; j++ {
		b := bound(j)
		if j == i {
			b0 = b
		}
		b1, prev = b, b
	}
	s := Shard{N: n, K: k, I: i, Mode: Blocked, lo: starts[b0], hi: n}
	if b1 < nb {
		s.hi = starts[b1]
	}
	return s, nil
}

// Range returns the source records [lo, hi) of a Contiguous or Blocked
// shard; for a Strided shard, the span from its first record to one past
// its last.
func (s Shard) Range() (lo, hi int) {
	switch s.Mode {
	case Blocked:
		return s.lo, s.hi
	case Contiguous:
		return s.I * s.N / s.K, (s.I + 1) * s.N / s.K
	}
	return s.I, s.Record(s.Len()-1) + 1
}

// NewShard checks and returns shard i of k (k <= 1: the whole source).
// Every shard must get at least one record.
func NewShard(n, k, i int, mode Partition) (Shard, error) {
	if k <= 1 {
		k, i = 1, 0
	}
	if i < 0 || i >= k {
		return Shard{}, fmt.Errorf("shard %d out of range [0, %d)", i, k)
	}
	if n < k {
		return Shard{}, fmt.Errorf("%d records cannot be split into %d shards", n, k)
	}
	return Shard{N: n, K: k, I: i, Mode: mode}, nil
}

// Len returns the number of records in the shard.
func (s Shard) Len() int {
	if s.Mode == Blocked {
		return s.hi - s.lo
	}
	if s.Mode == Contiguous {
		return (s.I+1)*s.N/s.K - s.I*s.N/s.K
	}
	return (s.N - s.I + s.K - 1) / s.K
}

// Record returns the source index of the shard's j-th record.
func (s Shard) Record(j int) int {
	if s.Mode == Blocked {
		return s.lo + j
	}
	if s.Mode == Contiguous {
		return s.I*s.N/s.K + j
	}
	return s.I + j*s.K
}

// Position is where a cursor stands: the epoch (full passes over the
// shard so far), the offset of the next record within the epoch's order,
// and the number of batches taken so far (which seeds the transformation
// draws of the next batch).
type Position struct {
	Epoch  int64 `json:"epoch"`
	Offset int64 `json:"offset"`
	Batch  int64 `json:"batch"`
}

// Cursor walks a shard sequentially, epoch after epoch. With shuffling on,
// each epoch visits the shard in the order of a permutation seeded by
// (seed, shard, epoch); without, in record order. A Cursor is not safe for
// concurrent use.
type Cursor struct {
	shard   Shard
	shuffle bool
	seed    uint64
	pos     Position
	perm    []int32
	permFor int64 // epoch perm was drawn for; -1 none
}

// NewCursor returns a cursor at the start of epoch 0.
func NewCursor(s Shard, shuffle bool, seed uint64) *Cursor {
	return &Cursor{shard: s, shuffle: shuffle, seed: seed, permFor: -1}
}

// Shard returns the cursor's shard.
func (c *Cursor) Shard() Shard { return c.shard }

// Position returns the current position.
func (c *Cursor) Position() Position { return c.pos }

// Seek moves the cursor to p. The offset must lie within the epoch.
func (c *Cursor) Seek(p Position) error {
	if p.Epoch < 0 || p.Batch < 0 || p.Offset < 0 || p.Offset >= int64(c.shard.Len()) {
		return fmt.Errorf("data position %+v is outside a shard of %d records", p, c.shard.Len())
	}
	c.pos = p
	return nil
}

// Next returns the source index of the next record and advances, starting
// a new epoch (reshuffled when shuffling) at the end of the shard.
func (c *Cursor) Next() int {
	j := int(c.pos.Offset)
	if c.shuffle {
		if c.permFor != c.pos.Epoch {
			c.drawPerm()
		}
		j = int(c.perm[j])
	}
	c.pos.Offset++
	if c.pos.Offset == int64(c.shard.Len()) {
		c.pos.Offset = 0
		c.pos.Epoch++
	}
	return c.shard.Record(j)
}

// drawPerm draws the permutation of the current epoch (Fisher-Yates).
func (c *Cursor) drawPerm() {
	n := c.shard.Len()
	if cap(c.perm) < n {
		c.perm = make([]int32, n)
	}
	c.perm = c.perm[:n]
	for i := range c.perm {
		c.perm[i] = int32(i)
	}
	r := rand.New(rand.NewPCG(DeriveSeed(c.seed, seedShuffle, uint64(c.shard.I), uint64(c.pos.Epoch)), 0))
	r.Shuffle(n, func(i, j int) { c.perm[i], c.perm[j] = c.perm[j], c.perm[i] })
	c.permFor = c.pos.Epoch
}

// Domains of DeriveSeed, so that the shuffles, the transformation draws and
// the skips of one run never share a stream.
const (
	seedShuffle uint64 = iota + 1
	seedTransform
	seedSkip
)

// DeriveSeed mixes a run seed with any number of values (a domain tag,
// shard, epoch or batch number) into a new 64-bit seed, with SplitMix64's
// finalizer, so that nearby inputs give unrelated seeds.
func DeriveSeed(seed uint64, parts ...uint64) uint64 {
	x := mix64(seed ^ 0x243f6a8885a308d3)
	for _, p := range parts {
		x = mix64(x ^ mix64(p+0x9e3779b97f4a7c15))
	}
	return x
}

func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// State is what a data layer saves in a checkpoint: its position and what
// it was reading, so that a resume against a different source or sharding
// is an error instead of silently different data.
type State struct {
	Version int    `json:"version"`
	Source  string `json:"source"`
	Records int    `json:"records"`
	Shard   int    `json:"shard"`
	Shards  int    `json:"shards"`
	// First and Last are a Blocked shard's first and last record, so
	// that a resume against data in different blocks is refused.
	First int `json:"first,omitempty"`
	Last  int `json:"last,omitempty"`
	Position
}

const stateVersion = 1

// MarshalState encodes the cursor state of a loader reading source.
func MarshalState(source string, s Shard, p Position) ([]byte, error) {
	st := State{Version: stateVersion, Source: source, Records: s.N, Shard: s.I, Shards: s.K, Position: p}
	if s.Mode == Blocked {
		st.First, st.Last = s.lo, s.hi-1
	}
	return json.Marshal(st)
}

// UnmarshalState decodes a state and checks it against the shard being
// read; the source name is not compared (a dataset may move), the record
// count and sharding are.
func UnmarshalState(b []byte, s Shard) (Position, error) {
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return Position{}, fmt.Errorf("data state: %w", err)
	}
	if st.Version != stateVersion {
		return Position{}, fmt.Errorf("data state has version %d, want %d", st.Version, stateVersion)
	}
	if st.Records != s.N || st.Shard != s.I || st.Shards != s.K {
		return Position{}, fmt.Errorf("data state was saved reading shard %d of %d of %d records (%s), but this is shard %d of %d of %d records",
			st.Shard, st.Shards, st.Records, st.Source, s.I, s.K, s.N)
	}
	if s.Mode == Blocked && (st.First != s.lo || st.Last != s.hi-1) {
		return Position{}, fmt.Errorf("data state was saved reading records %d..%d (%s), but shard %d of %d now holds records %d..%d: the data's row groups changed",
			st.First, st.Last, st.Source, s.I, s.K, s.lo, s.hi-1)
	}
	if st.Epoch < 0 || st.Batch < 0 || st.Offset < 0 || st.Offset >= int64(s.Len()) {
		return Position{}, fmt.Errorf("data state position %+v is outside a shard of %d records", st.Position, s.Len())
	}
	return st.Position, nil
}
