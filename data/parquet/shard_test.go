package parquet

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
)

// TestBlockShards splits row groups of various sizes among K workers:
// shards are disjoint, cover every record, consist of whole row groups,
// and differ from N/K by at most one row group.
func TestBlockShards(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	layouts := [][]int{
		{10, 10, 10, 10, 10, 10, 10, 3},
		{1, 100, 1, 1, 1, 50, 50, 2, 7},
		{5},
	}
	for range 20 {
		var sizes []int
		for range 1 + rng.IntN(40) {
			sizes = append(sizes, 1+rng.IntN(30))
		}
		layouts = append(layouts, sizes)
	}
	for _, sizes := range layouts {
		var starts []int
		n, biggest := 0, 0
		for _, s := range sizes {
			starts = append(starts, n)
			n += s
			biggest = max(biggest, s)
		}
		for k := 1; k <= len(sizes); k++ {
			owner := make([]int, n)
			for i := range owner {
				owner[i] = -1
			}
			for i := 0; i < k; i++ {
				s, err := data.NewBlockShard(starts, n, k, i)
				if err != nil {
					t.Fatalf("sizes %v, shard %d of %d: %v", sizes, i, k, err)
				}
				lo, hi := s.Range()
				if !slices.Contains(starts, lo) || hi != n && !slices.Contains(starts, hi) {
					t.Fatalf("sizes %v, shard %d of %d: [%d, %d) splits a row group", sizes, i, k, lo, hi)
				}
				if s.Len() != hi-lo || s.Record(0) != lo || s.Record(s.Len()-1) != hi-1 {
					t.Fatalf("shard %d of %d: Len %d, records %d..%d, range [%d, %d)", i, k, s.Len(), s.Record(0), s.Record(s.Len()-1), lo, hi)
				}
				// Each boundary is the row group boundary nearest to
				// j*n/k (unless that would leave a shard empty), so a
				// shard is within one row group of n/k.
				if ideal := n / k; s.Len() > ideal+biggest+1 || s.Len() < ideal-biggest-1 {
					t.Errorf("sizes %v, shard %d of %d: %d records, ideal %d, biggest group %d", sizes, i, k, s.Len(), ideal, biggest)
				}
				for j := lo; j < hi; j++ {
					if owner[j] != -1 {
						t.Fatalf("sizes %v, k %d: record %d in shards %d and %d", sizes, k, j, owner[j], i)
					}
					owner[j] = i
				}
			}
			if slices.Contains(owner, -1) {
				t.Fatalf("sizes %v, k %d: records not in any shard: %v", sizes, k, owner)
			}
		}
		if _, err := data.NewBlockShard(starts, n, len(sizes)+1, 0); err == nil || !strings.Contains(err.Error(), "cannot be split") {
			t.Errorf("more shards than row groups: %v", err)
		}
	}
	// Equal row groups split evenly.
	starts := []int{0, 10, 20, 30, 40, 50}
	for i, want := range [][2]int{{0, 20}, {20, 40}, {40, 60}} {
		s, _ := data.NewBlockShard(starts, 60, 3, i)
		if lo, hi := s.Range(); lo != want[0] || hi != want[1] {
			t.Errorf("shard %d of 3: [%d, %d), want %v", i, lo, hi, want)
		}
	}
}

// batches reads n batches from a loader (copies).
func batches(t *testing.T, l *data.Loader, n int) (out [][]float32, labels [][]float32, pos []data.Position) {
	t.Helper()
	for range n {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, slices.Clone(b.Data))
		labels = append(labels, slices.Clone(b.Labels))
		pos = append(pos, b.Pos)
		l.Release(b)
	}
	return
}

// TestLoaderResume reads a shard of a Parquet source through data.Loader
// with random crops and mirrors: the batches hold the shard's records in
// order, wrapping at its end, and a loader restarted from a saved state
// continues with exactly the batches that followed.
func TestLoaderResume(t *testing.T) {
	dir := writeSpark(t, t.TempDir(), 61, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 6, fileRows: 24})
	src, err := Open(dir, Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw})
	if err != nil {
		t.Fatal(err)
	}
	crop := uint32(2)
	mirror := true
	tr, err := data.NewTransformer(&pb.TransformationParameter{CropSize: &crop, Mirror: &mirror}, pb.Phase_TRAIN)
	if err != nil {
		t.Fatal(err)
	}
	shard, err := data.NewBlockShard(src.Blocks(), src.Len(), 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := shard.Range()
	cfg := data.LoaderConfig{Source: src, Transformer: tr, BatchSize: 7, Shard: shard, Seed: 42, Prefetch: 3}
	l, err := data.NewLoader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	all, labels, pos := batches(t, l, 12)
	l.Close()
	// Records in order within the shard, wrapping around.
	rec := lo
	for b := range labels {
		for _, got := range labels[b] {
			if want := float32(sparkLabel(rec)); got != want {
				t.Fatalf("batch %d: label %v, want %v (record %d of shard [%d, %d))", b, got, want, rec, lo, hi)
			}
			if rec++; rec == hi {
				rec = lo
			}
		}
	}
	state, err := data.MarshalState(src.Name(), shard, pos[4])
	if err != nil {
		t.Fatal(err)
	}
	p, err := data.UnmarshalState(state, shard)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := data.NewLoader(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Start(p); err != nil {
		t.Fatal(err)
	}
	more, moreLabels, _ := batches(t, l2, 7)
	for b := range more {
		if !slices.Equal(more[b], all[5+b]) || !slices.Equal(moreLabels[b], labels[5+b]) {
			t.Fatalf("resumed batch %d differs from batch %d", b, 5+b)
		}
	}

	// The same state against data in other row groups is refused.
	dir2 := writeSpark(t, t.TempDir(), 61, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 5, fileRows: 24})
	src2, err := Open(dir2, Options{ImageColumn: "features", C: tc, H: th, W: tw})
	if err != nil {
		t.Fatal(err)
	}
	shard2, _ := data.NewBlockShard(src2.Blocks(), src2.Len(), 3, 1)
	if _, err := data.UnmarshalState(state, shard2); err == nil || !strings.Contains(err.Error(), "row groups changed") {
		t.Errorf("state for other row groups: %v", err)
	}
}

// TestReadAheadOrder checks that a shard reader serves the shard's records
// in order across its wrap-around, and any record after a jump.
func TestReadAheadOrder(t *testing.T) {
	dir := writeSpark(t, t.TempDir(), 40, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 4, fileRows: 12})
	src, err := Open(dir, Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw})
	if err != nil {
		t.Fatal(err)
	}
	shard, _ := data.NewBlockShard(src.Blocks(), src.Len(), 4, 2)
	lo, hi := shard.Range()
	r := src.NewShardReader(shard).(*Reader)
	defer r.Close()
	var ex data.Example
	for k := 0; k < 3*(hi-lo); k++ {
		i := lo + k%(hi-lo)
		if err := r.Read(i, &ex); err != nil {
			t.Fatal(err)
		}
		checkExample(t, "shard reader", &ex, sparkSpec{kind: "raw"}, i)
		if r.ahead != nil && r.ahead.b != r.next(r.cur.b) {
			t.Fatalf("reading ahead block %d after block %d", r.ahead.b, r.cur.b)
		}
	}
	for _, i := range []int{0, 39, 17, 18, 3} { // jumps out of the shard
		if err := r.Read(i, &ex); err != nil {
			t.Fatal(err)
		}
		checkExample(t, "jump", &ex, sparkSpec{kind: "raw"}, i)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Read(0, &ex); err == nil {
		t.Error("Read after Close succeeded")
	}
}
