package parquet

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/parquet/compress"

	"github.com/sparknet/sparknet/data"
)

// fuzzSeeds returns small valid files: raw images with a dictionary label in
// two row groups (snappy and uncompressed), and list<double> features.
func fuzzSeeds(t testing.TB) [][]byte {
	var out [][]byte
	for _, sp := range []sparkSpec{
		{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 3, fileRows: 6},
		{kind: "raw", codec: compress.Codecs.Uncompressed, rowGroup: 4, fileRows: 6},
		{kind: "doubles", codec: compress.Codecs.Snappy, rowGroup: 2, fileRows: 4},
		{kind: "fixed", codec: compress.Codecs.Gzip, rowGroup: 4, fileRows: 4},
	} {
		dir := writeSpark(t, t.TempDir(), sp.fileRows, sp)
		files, err := listFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(files[0].path)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzRead opens arbitrary bytes as a Parquet file and reads every row:
// errors are fine, panics and multi-line errors are not.
func FuzzRead(f *testing.F) {
	for _, b := range fuzzSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "part-0.parquet"), b, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, opt := range []Options{
			{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw},
			{FloatColumn: "features", LabelColumn: "label"},
		} {
			src, err := Open(dir, opt)
			if err != nil {
				checkOneLine(t, err)
				continue
			}
			if src.Len() > 1<<12 {
				continue // a corrupt row count; reading it would only allocate
			}
			r := src.NewReader()
			var ex data.Example
			for i := 0; i < src.Len(); i++ {
				if err := r.Read(i, &ex); err != nil {
					checkOneLine(t, err)
					break
				}
			}
			r.Close()
		}
	})
}

func checkOneLine(t *testing.T, err error) {
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error of several lines: %q", err)
	}
}
