package data

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
)

func TestShards(t *testing.T) {
	for _, mode := range []Partition{Strided, Contiguous} {
		for _, c := range []struct{ n, k int }{{10, 1}, {10, 3}, {7, 7}, {1000, 16}} {
			seen := make([]int, c.n)
			total := 0
			for i := 0; i < c.k; i++ {
				s, err := NewShard(c.n, c.k, i, mode)
				if err != nil {
					t.Fatal(err)
				}
				if l := s.Len(); l < c.n/c.k || l > c.n/c.k+1 {
					t.Errorf("%v %d/%d of %d: %d records, want balanced", mode, i, c.k, c.n, l)
				}
				for j := 0; j < s.Len(); j++ {
					seen[s.Record(j)]++
				}
				total += s.Len()
			}
			for r, n := range seen {
				if n != 1 {
					t.Fatalf("%v k=%d: record %d is in %d shards", mode, c.k, r, n)
				}
			}
		}
	}
	s, _ := NewShard(10, 3, 1, Strided)
	if s.Record(0) != 1 || s.Record(1) != 4 || s.Record(2) != 7 {
		t.Errorf("strided shard 1 of 3: records %d %d %d, want 1 4 7", s.Record(0), s.Record(1), s.Record(2))
	}
	s, _ = NewShard(10, 3, 1, Contiguous)
	if s.Record(0) != 3 || s.Len() != 3 {
		t.Errorf("contiguous shard 1 of 3: starts at %d with %d records, want 3, 3", s.Record(0), s.Len())
	}
	if _, err := NewShard(3, 4, 0, Strided); err == nil {
		t.Error("NewShard(3 records, 4 shards) succeeded")
	}
}

func TestCursor(t *testing.T) {
	s, _ := NewShard(10, 2, 1, Strided) // records 1 3 5 7 9
	c := NewCursor(s, false, 1)
	var got []int
	for range 7 {
		got = append(got, c.Next())
	}
	if want := []int{1, 3, 5, 7, 9, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("unshuffled: %v, want %v", got, want)
	}
	if p := c.Position(); p.Epoch != 1 || p.Offset != 2 {
		t.Errorf("position %+v, want epoch 1 offset 2", p)
	}
	// Shuffled: every epoch is a permutation of the shard, epochs differ,
	// and the order depends only on (seed, shard, epoch).
	s, _ = NewShard(1000, 4, 2, Strided)
	epoch := func(c *Cursor) []int {
		out := make([]int, s.Len())
		for i := range out {
			out[i] = c.Next()
		}
		return out
	}
	c1 := NewCursor(s, true, 42)
	e0, e1 := epoch(c1), epoch(c1)
	sorted := slices.Sorted(slices.Values(e0))
	for j, r := range sorted {
		if r != s.Record(j) {
			t.Fatalf("epoch 0 is not a permutation of the shard")
		}
	}
	if slices.Equal(e0, e1) || slices.Equal(e0, sorted) {
		t.Error("shuffled epochs repeat or are unshuffled")
	}
	c2 := NewCursor(s, true, 42)
	c2.Seek(Position{Epoch: 1})
	if !slices.Equal(epoch(c2), e1) {
		t.Error("seeking to epoch 1 gives a different order")
	}
	if slices.Equal(epoch(NewCursor(s, true, 43)), e0) {
		t.Error("another seed gives the same order")
	}
}

func TestStateRoundTrip(t *testing.T) {
	s, _ := NewShard(100, 4, 3, Strided)
	p := Position{Epoch: 2, Offset: 7, Batch: 99}
	b, err := MarshalState("train_lmdb", s, p)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnmarshalState(b, s)
	if err != nil || got != p {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	other, _ := NewShard(100, 2, 1, Strided)
	if _, err := UnmarshalState(b, other); err == nil || !strings.Contains(err.Error(), "shard 3 of 4 of 100 records") {
		t.Errorf("state for another sharding: err = %v", err)
	}
	if _, err := UnmarshalState([]byte("{"), s); err == nil {
		t.Error("accepted a malformed state")
	}
}

// collect reads n batches (copies of data and labels).
func collect(t *testing.T, l *Loader, n int) (data [][]float32, labels [][]float32) {
	t.Helper()
	for range n {
		b, err := l.Next()
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, slices.Clone(b.Data))
		labels = append(labels, slices.Clone(b.Labels))
		l.Release(b)
	}
	return
}

func newTestLoader(t *testing.T, src Source, p *pb.TransformationParameter, phase pb.Phase, bs, k, i int, shuffle bool, prefetch int) *Loader {
	t.Helper()
	tr, err := NewTransformer(p, phase)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewShard(src.Len(), k, i, Strided)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLoader(LoaderConfig{Source: src, Transformer: tr, BatchSize: bs, Shard: s, Shuffle: shuffle, Seed: 7, Prefetch: prefetch})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func TestLoaderOrderAndValues(t *testing.T) {
	for _, b := range []Backend{LMDB, LevelDB} {
		t.Run(b.String(), func(t *testing.T) {
			path := datumDB(t, b, 23, 1, 2, 3)
			src, err := OpenDatumSource(b, path, Native)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { src.Close() }) // after the loaders (cleanups run last-in first-out)
			// Shard 1 of 2 (records 1, 3, ..., 21: 11 of them), batch 4,
			// scale 0.5: batches wrap around the shard's end as Caffe does.
			l := newTestLoader(t, src, &pb.TransformationParameter{Scale: f32(0.5)}, pb.Phase_TEST, 4, 2, 1, false, 2)
			data, labels := collect(t, l, 4)
			rec := []int{1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 1, 3, 5, 7, 9}
			for bi := range data {
				for item := 0; item < 4; item++ {
					r := rec[bi*4+item]
					if labels[bi][item] != float32(r%10) {
						t.Fatalf("batch %d item %d: label %v, want %v (record %d)", bi, item, labels[bi][item], r%10, r)
					}
					for j := 0; j < 6; j++ {
						if got, want := data[bi][item*6+j], pixel(r, j)*0.5; got != want {
							t.Fatalf("batch %d item %d value %d = %v, want %v", bi, item, j, got, want)
						}
					}
				}
			}
			if p := l.Position(); p.Epoch != 1 || p.Offset != 5 || p.Batch != 4 {
				t.Errorf("position after 16 of 11 records: %+v", p)
			}
		})
	}
}

// TestLoaderDeterministic checks that random crops and mirrors, and
// shuffled orders, depend only on the seed and the position: not on the
// prefetch depth, and not on stopping and resuming.
func TestLoaderDeterministic(t *testing.T) {
	path := datumDB(t, LMDB, 50, 3, 8, 8)
	src, err := OpenDatumSource(LMDB, path, Native)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() }) // after the loaders (cleanups run last-in first-out)
	p := &pb.TransformationParameter{CropSize: u32(5), Mirror: bp(true), MeanValue: []float32{1, 2, 3}}
	ref, _ := collect(t, newTestLoader(t, src, p, pb.Phase_TRAIN, 7, 1, 0, true, 1), 20)
	deep, _ := collect(t, newTestLoader(t, src, p, pb.Phase_TRAIN, 7, 1, 0, true, 6), 20)
	for i := range ref {
		if !slices.Equal(ref[i], deep[i]) {
			t.Fatalf("batch %d differs between prefetch 1 and 6", i)
		}
	}
	if slices.Equal(ref[0], ref[7]) {
		t.Error("batches 0 and 7 (both starting an epoch) are identical: no reshuffle or redraw")
	}
	// Stop after 9 batches, save, resume in a new loader.
	l := newTestLoader(t, src, p, pb.Phase_TRAIN, 7, 1, 0, true, 3)
	collect(t, l, 9)
	st, err := MarshalState(src.Name(), l.cfg.Shard, l.Position())
	if err != nil {
		t.Fatal(err)
	}
	l2 := newTestLoader(t, src, p, pb.Phase_TRAIN, 7, 1, 0, true, 3)
	pos, err := UnmarshalState(st, l2.cfg.Shard)
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Start(pos); err != nil {
		t.Fatal(err)
	}
	rest, _ := collect(t, l2, 11)
	for i := range rest {
		if !slices.Equal(rest[i], ref[9+i]) {
			t.Fatalf("resumed batch %d differs from the uninterrupted run's batch %d", i, 9+i)
		}
	}
	// Restarting a running loader at an earlier position replays it.
	l3 := newTestLoader(t, src, p, pb.Phase_TRAIN, 7, 1, 0, true, 4)
	collect(t, l3, 5)
	l3.Start(Position{})
	again, _ := collect(t, l3, 2)
	if !slices.Equal(again[1], ref[1]) {
		t.Error("restart at the beginning does not replay batch 1")
	}
}

func TestLoaderErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	w, err := CreateDB(LMDB, path)
	if err != nil {
		t.Fatal(err)
	}
	good := (&Datum{Channels: 1, Height: 2, Width: 2, Data: []byte{1, 2, 3, 4}}).AppendMarshal(nil)
	small := (&Datum{Channels: 1, Height: 1, Width: 2, Data: []byte{1, 2}}).AppendMarshal(nil)
	for i, v := range [][]byte{good, good, good, {0xff, 0xff}, good, small} {
		w.Put(fmt.Appendf(nil, "%08d", i), v)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := OpenDatumSource(LMDB, path, Native)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() }) // after the loaders (cleanups run last-in first-out)
	before := runtime.NumGoroutine()
	l := newTestLoader(t, src, nil, pb.Phase_TRAIN, 2, 1, 0, false, 4)
	if _, _, _, err := l.Peek(Position{}); err != nil {
		t.Fatal(err)
	}
	b, err := l.Next()
	if err != nil {
		t.Fatal(err)
	}
	l.Release(b)
	_, err = l.Next() // records 2 and 3: 3 is malformed
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `record 3 (key "00000003")`) {
		t.Fatalf("malformed record: err = %v, want it to name the database and record", err)
	}
	if _, err2 := l.Next(); err2 != err {
		t.Errorf("error is not sticky: %v", err2)
	}
	// Records 4 (1x2x2) and 5 (1x1x2) in one batch: shapes differ.
	l.Start(Position{Offset: 4})
	if _, err := l.Next(); err == nil || !strings.Contains(err.Error(), "first has 1x2x2") || !strings.Contains(err.Error(), "00000005") {
		t.Errorf("mixed shapes: err = %v", err)
	}
	// A crop larger than the image.
	lc := newTestLoader(t, src, &pb.TransformationParameter{CropSize: u32(3)}, pb.Phase_TRAIN, 1, 1, 0, false, 1)
	if _, err := lc.Next(); err == nil || !strings.Contains(err.Error(), "crop_size 3 is larger than the 2x2 image") || !strings.Contains(err.Error(), "00000000") {
		t.Errorf("crop: err = %v", err)
	}
	l.Close()
	lc.Close()
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before: the prefetch goroutine leaked", n, before)
	}
	if _, err := OpenDatumSource(LMDB, filepath.Join(dir, "missing"), Native); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing source: err = %v", err)
	}
}

func TestSharedDB(t *testing.T) {
	path := datumDB(t, LevelDB, 5, 1, 1, 1)
	a, err := OpenDB(LevelDB, path)
	if err != nil {
		t.Fatal(err)
	}
	// A second open in the same process shares the handle instead of
	// failing on LevelDB's lock.
	b, err := OpenDB(LevelDB, path)
	if err != nil {
		t.Fatal(err)
	}
	a.Close()
	r := b.NewReader()
	if _, v, err := r.Get(4); err != nil || len(v) == 0 {
		t.Fatalf("read after the other handle closed: %v", err)
	}
	r.Close()
	b.Close()
	if len(opened) != 0 {
		t.Errorf("%d databases still open", len(opened))
	}
}

func TestComputeMean(t *testing.T) {
	path := datumDB(t, LMDB, 9, 2, 2, 2)
	src, err := OpenDatumSource(LMDB, path, Native)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() }) // after the loaders (cleanups run last-in first-out)
	bp, err := ComputeMean(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if bp.GetNum() != 1 || bp.GetChannels() != 2 || bp.GetHeight() != 2 || bp.GetWidth() != 2 || len(bp.Data) != 8 {
		t.Fatalf("mean blob %v", bp)
	}
	for j := 0; j < 8; j++ {
		var sum float32
		for i := 0; i < 9; i++ {
			sum += pixel(i, j)
		}
		if want := sum / 9; math.Abs(float64(bp.Data[j]-want)) != 0 {
			t.Errorf("mean[%d] = %v, want %v", j, bp.Data[j], want)
		}
	}
}
