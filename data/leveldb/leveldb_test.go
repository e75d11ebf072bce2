package leveldb

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"
)

func TestRoundTripAndAccessPatterns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	w, err := Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const n = 2500 // more than one write batch
	val := func(i int) []byte { return bytes.Repeat([]byte{byte(i)}, i%300) }
	for i := 0; i < n; i++ {
		if err := w.Put(fmt.Appendf(nil, "%08d", i), val(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Create(path); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("Create on an existing path: err = %v", err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Len() != n {
		t.Fatalf("Len = %d, want %d", db.Len(), n)
	}
	check := func(name string, order []int) {
		r := db.NewReader()
		defer r.Close()
		for _, i := range order {
			k, v, err := r.Get(i)
			if err != nil {
				t.Fatalf("%s: record %d: %v", name, i, err)
			}
			if string(k) != fmt.Sprintf("%08d", i) || !bytes.Equal(v, val(i)) {
				t.Fatalf("%s: record %d: key %q, %d-byte value", name, i, k, len(v))
			}
		}
	}
	var seq, strided, random []int
	for i := 0; i < n; i++ {
		seq = append(seq, i)
	}
	for i := 3; i < n; i += 7 {
		strided = append(strided, i)
	}
	strided = append(strided, 3, 3) // wrap around, then the same record again
	random = rand.New(rand.NewPCG(1, 2)).Perm(n)
	check("sequential", seq)
	check("strided", strided)
	check("random", random)
	r := db.NewReader()
	if _, _, err := r.Get(n); err == nil {
		t.Error("Get past the end succeeded")
	}
	r.Close()
	if _, err := Open(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Open of a missing database succeeded")
	}
}
