package lmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kv is one test record.
type kv struct{ k, v []byte }

// genRecords makes n records with keys "%08d"+pad and values whose sizes
// vary from empty to several overflow pages.
func genRecords(n, keyPad int, sizes []int, seed uint64) []kv {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]kv, n)
	for i := range out {
		k := []byte(fmt.Sprintf("%08d", i) + strings.Repeat("k", keyPad))
		v := make([]byte, sizes[i%len(sizes)])
		for j := range v {
			v[j] = byte(r.Uint32())
		}
		out[i] = kv{k, v}
	}
	return out
}

func writeDB(t testing.TB, dir string, recs []kv) {
	t.Helper()
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := w.Put(r.k, r.v); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func checkRecords(t *testing.T, db *DB, want []kv) {
	t.Helper()
	if db.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", db.Len(), len(want))
	}
	for i, r := range want {
		k, v := db.Get(i)
		if !bytes.Equal(k, r.k) || !bytes.Equal(v, r.v) {
			t.Fatalf("record %d: got key %q (%d-byte value), want %q (%d-byte value)", i, k, len(v), r.k, len(r.v))
		}
	}
}

// walkBranches returns the number of children of every branch page.
func walkBranches(t *testing.T, db *DB) []int {
	t.Helper()
	var counts []int
	le := binary.LittleEndian
	var walk func(pgno uint64)
	walk = func(pgno uint64) {
		p := db.buf[int(pgno)*db.psize:]
		if le.Uint16(p[10:])&pBranch == 0 {
			return
		}
		n := (int(le.Uint16(p[12:])) - pageHeaderSize) / 2
		counts = append(counts, n)
		for i := 0; i < n; i++ {
			no := int(le.Uint16(p[pageHeaderSize+2*i:]))
			walk(uint64(le.Uint16(p[no:])) | uint64(le.Uint16(p[no+2:]))<<16 | uint64(le.Uint16(p[no+4:]))<<32)
		}
	}
	if db.m.main.root != invalidPage {
		walk(db.m.main.root)
	}
	return counts
}

func TestRoundTrip(t *testing.T) {
	nm := nodeMax(DefaultPageSize)
	cases := []struct {
		name   string
		n, pad int
		sizes  []int
		depth  int
	}{
		{"empty", 0, 0, []int{1}, 0},
		{"one", 1, 0, []int{5}, 1},
		{"one-leaf", 10, 0, []int{0, 1, 100}, 1},
		// values at and around the inline/overflow threshold, and values
		// spanning several overflow pages (CIFAR and ImageNet datums).
		{"overflow", 300, 0, []int{nm - 16, nm - 15, nm - 17, 3072 + 15, 4096, 4080, 4081, 20000, 0}, 2},
		// 18 records of 200 bytes fill a leaf and 227 children a branch
		// page: 227*18+1 records make 228 leaves, which puts one child on
		// the last branch page unless the writer rebalances.
		{"rebalance", 227*18 + 1, 0, []int{200}, 3},
		// 500-byte keys give 7 records per leaf and 8 children per branch
		// page: a deep tree.
		{"deep", 4000, 492, []int{1, 9}, 5},
		{"max-key", 50, MaxKeySize - 8, []int{3000}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "db")
			recs := genRecords(c.n, c.pad, c.sizes, 7)
			writeDB(t, dir, recs)
			db, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			checkRecords(t, db, recs)
			st := db.Stat()
			if st.Entries != uint64(c.n) {
				t.Errorf("Stat.Entries = %d, want %d", st.Entries, c.n)
			}
			if c.depth > 0 && st.Depth != c.depth {
				t.Errorf("Stat.Depth = %d, want %d", st.Depth, c.depth)
			}
			fi, err := os.Stat(filepath.Join(dir, "data.mdb"))
			if err != nil {
				t.Fatal(err)
			}
			if want := int64(st.LastPage+1) * DefaultPageSize; fi.Size() != want {
				t.Errorf("file is %d bytes, want (last page + 1) * page size = %d", fi.Size(), want)
			}
			if got := st.BranchPages + st.LeafPages + st.OverflowPages + 2; got != st.LastPage+1 {
				t.Errorf("branch+leaf+overflow+meta pages = %d, want %d (no page wasted or shared)", got, st.LastPage+1)
			}
			for i, n := range walkBranches(t, db) {
				if n < 2 {
					t.Errorf("branch page #%d has %d child(ren); liblmdb keeps at least 2", i, n)
				}
			}
			// Opening the data file itself (MDB_NOSUBDIR layout) works too.
			db2, err := Open(filepath.Join(dir, "data.mdb"))
			if err != nil {
				t.Fatal(err)
			}
			checkRecords(t, db2, recs)
			db2.Close()
		})
	}
}

func TestWriterRejects(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Put([]byte("b"), nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		want string
	}{
		{"a", "ascending key order"},
		{"b", "ascending key order"},
		{"", "empty key"},
		{strings.Repeat("z", MaxKeySize+1), "longer than LMDB's limit"},
	} {
		err := w.Put([]byte(c.key), []byte("v"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Put(%.10q): err = %v, want one containing %q", c.key, err, c.want)
		}
	}
	// Rejected records leave the writer usable.
	if err := w.Put([]byte("c"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkRecords(t, db, []kv{{[]byte("b"), nil}, {[]byte("c"), []byte("v")}})

	if _, err := Create(dir); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Create on an existing path: err = %v, want 'already exists'", err)
	}
}

func TestAbortRemoves(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	w, err := Create(dir)
	if err != nil {
		t.Fatal(err)
	}
	w.Put([]byte("a"), []byte("b"))
	w.Abort()
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after Abort, %s: %v, want it removed", dir, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	writeDB(t, dir, genRecords(500, 0, []int{10, 5000}, 3))
	good, err := os.ReadFile(filepath.Join(dir, "data.mdb"))
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	le := binary.LittleEndian
	cases := []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "too short"},
		{"text", []byte(strings.Repeat("hello world\n", 100)), "not a meta page"},
		{"magic", mutate(func(b []byte) []byte { le.PutUint32(b[offMagic:], 1); return b }), "magic"},
		{"version", mutate(func(b []byte) []byte { le.PutUint32(b[DefaultPageSize+offVersion:], 999); return b }), "version"},
		{"truncated", good[:len(good)-DefaultPageSize], "truncated"},
		{"page size", mutate(func(b []byte) []byte { le.PutUint32(b[offFreeDB:], 1000); return b }), "page size"},
		{"entries", mutate(func(b []byte) []byte { le.PutUint64(b[DefaultPageSize+offMainDB+32:], 499); return b }), "entries"},
		{"root", mutate(func(b []byte) []byte { le.PutUint64(b[DefaultPageSize+offMainDB+40:], 1<<40); return b }), "out of range"},
		{"depth", mutate(func(b []byte) []byte { le.PutUint16(b[DefaultPageSize+offMainDB+6:], 1); return b }), "depth"},
		{"dupsort", mutate(func(b []byte) []byte { le.PutUint16(b[DefaultPageSize+offMainDB+4:], mdbDupSort); return b }), "DUPSORT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := FromBytes("x.mdb", c.b)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want one containing %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "x.mdb") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Open(missing): err = %v, want not-exist", err)
	}
}

// FuzzFromBytes checks that no input makes the reader panic or hang, and
// that whatever it accepts can be read in full.
func FuzzFromBytes(f *testing.F) {
	for _, sizes := range [][]int{{3}, {10, 3000}, {100}} {
		dir := filepath.Join(f.TempDir(), fmt.Sprint(len(sizes), sizes[0]))
		writeDB(f, dir, genRecords(60, 0, sizes, 1))
		b, err := os.ReadFile(filepath.Join(dir, "data.mdb"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		db, err := FromBytes("fuzz", b)
		if err != nil {
			return
		}
		for i := 0; i < db.Len(); i++ {
			db.Get(i)
		}
	})
}

func BenchmarkIndex(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "db")
	writeDB(b, dir, genRecords(60000, 0, []int{800}, 1))
	buf, err := os.ReadFile(filepath.Join(dir, "data.mdb"))
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if _, err := FromBytes("bench", buf); err != nil {
			b.Fatal(err)
		}
	}
}
