package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sparknet/sparknet/data"
	"github.com/sparknet/sparknet/data/parquet"
)

// datumDB writes n Datums made by mk to a new database.
func datumDB(t *testing.T, b data.Backend, path string, n int, mk func(i int) data.Datum) {
	t.Helper()
	w, err := data.CreateDB(b, path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		d := mk(i)
		if err := w.Put(fmt.Appendf(nil, "%08d", i), d.AppendMarshal(nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// sameRecords checks that two databases hold the same keys and values.
func sameRecords(t *testing.T, what string, ba data.Backend, a string, bb data.Backend, b string) {
	t.Helper()
	da, err := data.OpenDB(ba, a)
	if err != nil {
		t.Fatal(err)
	}
	defer da.Close()
	db, err := data.OpenDB(bb, b)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if da.Len() != db.Len() {
		t.Fatalf("%s: %d records, want %d", what, db.Len(), da.Len())
	}
	ra, rb := da.NewReader(), db.NewReader()
	defer ra.Close()
	defer rb.Close()
	for i := 0; i < da.Len(); i++ {
		ka, va, _ := ra.Get(i)
		ka, va = bytes.Clone(ka), bytes.Clone(va)
		kb, vb, err := rb.Get(i)
		if err != nil || !bytes.Equal(ka, kb) || !bytes.Equal(va, vb) {
			t.Fatalf("%s: record %d: %q = % x, want %q = % x (%v)", what, i, kb, vb, ka, va, err)
		}
	}
}

// TestConvertParquetRoundTrip converts Datum databases of raw, encoded and
// float records to Parquet and back: the records come back byte for byte.
func TestConvertParquetRoundTrip(t *testing.T) {
	dir := t.TempDir()
	kinds := map[string]func(i int) data.Datum{
		"raw": func(i int) data.Datum {
			return data.Datum{Channels: 3, Height: 2, Width: 2, Data: bytes.Repeat([]byte{byte(i), byte(2 * i)}, 6), Label: int32(i % 7)}
		},
		"encoded": func(i int) data.Datum {
			return data.Datum{Data: []byte(fmt.Sprintf("\x89PNG fake image %d", i)), Encoded: true, Label: int32(i)}
		},
		"floats": func(i int) data.Datum {
			return data.Datum{Channels: 4, Height: 1, Width: 1, FloatData: []float32{float32(i), -1.5, 0.25, 1e9}, Label: -int32(i)}
		},
	}
	for name, mk := range kinds {
		db := filepath.Join(dir, name+"_lmdb")
		datumDB(t, data.LMDB, db, 23, mk)
		pq := filepath.Join(dir, name+"_parquet")
		code, msg := runConvertCmd(t, "convert", "parquet", db, pq, "-row_group_rows", "5", "-file_rows", "10", "-compression", "zstd")
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", name, code, msg)
		}
		if !strings.Contains(msg, "Processed 23 records") || !strings.Contains(msg, "3 part files, 5 row groups") {
			t.Errorf("%s: message %q", name, msg)
		}
		if _, err := os.Stat(filepath.Join(pq, "_SUCCESS")); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		parts, _ := filepath.Glob(filepath.Join(pq, "part-*-c000.zstd.parquet"))
		if len(parts) != 3 {
			t.Errorf("%s: part files %v", name, parts)
		}
		back := filepath.Join(dir, name+"_back")
		args := []string{"convert", "parquet", pq, back, "-backend", "leveldb"}
		if name == "floats" {
			args = append(args, "-float_column", "features")
		}
		if code, msg := runConvertCmd(t, args...); code != 0 || !strings.Contains(msg, "Processed 23 rows") {
			t.Fatalf("%s: back: exit %d: %s", name, code, msg)
		}
		sameRecords(t, name, data.LMDB, db, data.LevelDB, back)
	}

	// Records of different shapes cannot share a dataset.
	mixed := filepath.Join(dir, "mixed_lmdb")
	datumDB(t, data.LMDB, mixed, 3, func(i int) data.Datum {
		return data.Datum{Channels: 1, Height: 1 + i, Width: 1, Data: make([]byte, 1+i), Label: 1}
	})
	if code, _ := runConvertCmd(t, "convert", "parquet", mixed, filepath.Join(dir, "mixed_parquet")); code != 1 {
		t.Errorf("mixed shapes: exit %d, want 1", code)
	}
	_, err := parquet.FromDB(context.Background(), data.LMDB, mixed, filepath.Join(dir, "mixed_parquet"), parquet.WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), `record 1 (key "00000001") is a 1x2x1 raw image, but the first (key "00000000") is a 1x1x1 raw image`) {
		t.Errorf("mixed shapes: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "mixed_parquet")); err == nil {
		t.Error("a failed conversion left its output")
	}
	// A label that is not a number.
	w, err := parquet.Create(filepath.Join(dir, "frac"), parquet.WriteOptions{Floats: true})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteFloats([]float32{1}, 1)
	w.Close()
	if code, msg := runConvertCmd(t, "convert", "parquet", filepath.Join(dir, "frac"), filepath.Join(dir, "frac_db"), "-float_column", "features", "-label_column", "features"); code != 1 {
		t.Errorf("a list as the label: exit %d: %s", code, msg)
	}
	if code, _ := runConvertCmd(t, "convert", "parquet", filepath.Join(dir, "nosuch"), filepath.Join(dir, "x")); code != 1 {
		t.Errorf("a missing input: exit %d, want 1", code)
	}
}
