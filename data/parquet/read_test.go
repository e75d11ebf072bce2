package parquet

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sparknet/sparknet/data"
)

// checkExample compares a record read with example i of the spec.
func checkExample(t *testing.T, what string, ex *data.Example, sp sparkSpec, i int) {
	t.Helper()
	if ex.C != tc || ex.H != th || ex.W != tw {
		if sp.kind == "doubles" || sp.kind == "fixed" {
			if ex.C*ex.H*ex.W != tc*th*tw {
				t.Fatalf("%s: shape %dx%dx%d", what, ex.C, ex.H, ex.W)
			}
		} else {
			t.Fatalf("%s: shape %dx%dx%d, want %dx%dx%d", what, ex.C, ex.H, ex.W, tc, th, tw)
		}
	}
	for j := 0; j < tc*th*tw; j++ {
		var got float32
		if ex.U8 != nil {
			got = float32(ex.U8[j])
		} else {
			got = ex.F32[j]
		}
		if want := float32(sparkValue(sp.kind, i, j)); got != want {
			t.Fatalf("%s: example %d value %d = %v, want %v", what, i, j, got, want)
		}
	}
	if want := float32(sparkLabel(i)); ex.Label != want {
		t.Fatalf("%s: example %d label %v, want %v", what, i, ex.Label, want)
	}
}

// TestSparkLayout reads datasets laid out as Spark writes them (several part
// files, row groups, a partition folder, dictionary-encoded labels, marker
// and checksum files) in each codec and column type, sequentially and in
// random order.
func TestSparkLayout(t *testing.T) {
	const n = 53
	for _, c := range []struct {
		name string
		sp   sparkSpec
		opt  Options
	}{
		{"raw-snappy", sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 5, fileRows: 20, folder: "split=train"},
			Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw}},
		{"png-gzip-int64", sparkSpec{kind: "png", codec: compress.Codecs.Gzip, rowGroup: 7, fileRows: 30, folder: "split=train", labelType: arrow.PrimitiveTypes.Int64},
			Options{ImageColumn: "features", LabelColumn: "label"}},
		{"doubles-zstd-float-label", sparkSpec{kind: "doubles", codec: compress.Codecs.Zstd, rowGroup: 4, fileRows: 16, folder: "split=train", labelType: arrow.PrimitiveTypes.Float64},
			Options{FloatColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw}},
		{"fixed-uncompressed", sparkSpec{kind: "fixed", codec: compress.Codecs.Uncompressed, rowGroup: 53, fileRows: 53, folder: "y=2024/m=01"},
			Options{FloatColumn: "features", LabelColumn: "label"}},
		{"label-partition", sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 3, labelInPath: true, folder: "split=train"},
			Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw}},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			dir := writeSpark(t, root, n, c.sp)
			// A sibling partition that must not be read.
			other := c.sp
			other.folder = "split=test"
			if !strings.HasPrefix(c.sp.folder, "y=") {
				writeSpark(t, root, 11, other)
			}
			src, err := Open(dir, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if src.Len() != n {
				t.Fatalf("Len = %d, want %d", src.Len(), n)
			}
			for _, f := range src.Files() {
				if base := filepath.Base(f); !strings.HasPrefix(base, "part-") || !strings.HasSuffix(base, ".parquet") {
					t.Errorf("read %s", f)
				}
				if !c.sp.labelInPath && !usesDictionary(t, f, 2) {
					t.Errorf("%s: the label column is not dictionary-encoded", f)
				}
			}
			for _, fi := range src.files {
				if want := fi.kind == raw || fi.kind == encoded; fi.prealloc != want {
					t.Errorf("%s: prealloc = %v, want %v", fi.path, fi.prealloc, want)
				}
			}
			want := order(n, c.sp)
			r := src.NewReader()
			defer r.Close()
			var ex data.Example
			for pass := 0; pass < 2; pass++ { // the second pass wraps around
				for k, i := range want {
					if err := r.Read(k, &ex); err != nil {
						t.Fatal(err)
					}
					checkExample(t, "sequential", &ex, c.sp, i)
				}
			}
			rng := rand.New(rand.NewPCG(1, 2))
			for range 200 {
				k := rng.IntN(n)
				if err := r.Read(k, &ex); err != nil {
					t.Fatal(err)
				}
				checkExample(t, "random", &ex, c.sp, want[k])
			}
		})
	}
}

// TestRowGroupsAreBlocks checks that a Source's blocks are its non-empty
// row groups and that RowGroup locates records.
func TestRowGroupsAreBlocks(t *testing.T) {
	dir := writeSpark(t, t.TempDir(), 23, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 4, fileRows: 10})
	src, err := Open(dir, Options{ImageColumn: "features", C: tc, H: th, W: tw})
	if err != nil {
		t.Fatal(err)
	}
	// Files of 10, 10, 3 rows in row groups of 4, 4, 2 | 4, 4, 2 | 3.
	want := []int{0, 4, 8, 10, 14, 18, 20}
	if got := src.Blocks(); !equalInts(got, want) {
		t.Fatalf("Blocks = %v, want %v", got, want)
	}
	f, rg, row := src.RowGroup(19)
	if filepath.Base(f)[:10] != "part-00001" || rg != 2 || row != 1 {
		t.Errorf("RowGroup(19) = %s, %d, %d; want part-00001, 2, 1", f, rg, row)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestWriter writes with Writer and reads back: part file names, row group
// and file sizes, _SUCCESS, the stored shape, the label's dictionary
// encoding.
func TestWriter(t *testing.T) {
	for _, floats := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "out")
		w, err := Create(dir, WriteOptions{Floats: floats, C: tc, H: th, W: tw, RowGroupRows: 4, FileRows: 10})
		if err != nil {
			t.Fatal(err)
		}
		const n = 25
		for i := 0; i < n; i++ {
			if floats {
				v := make([]float32, tc*th*tw)
				for j := range v {
					v[j] = float32(sparkValue("fixed", i, j))
				}
				err = w.WriteFloats(v, int32(sparkLabel(i)))
			} else {
				v := make([]byte, tc*th*tw)
				for j := range v {
					v[j] = byte(sparkValue("raw", i, j))
				}
				err = w.WriteImage(v, int32(sparkLabel(i)))
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got := w.Written(); got != (Written{Rows: n, Files: 3, RowGroups: 8}) {
			t.Errorf("Written = %+v, want 25 rows, 3 files, 8 row groups", got)
		}
		if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err != nil {
			t.Error(err)
		}
		opt := Options{LabelColumn: "label"} // shape from the metadata
		if floats {
			opt.FloatColumn = "features"
		}
		src, err := Open(dir, opt)
		if err != nil {
			t.Fatal(err)
		}
		// Files of exactly 10 rows: row groups of 4, 4, 2 | 4, 4, 2 | 4, 1.
		if want := []int{0, 4, 8, 10, 14, 18, 20, 24}; !equalInts(src.Blocks(), want) {
			t.Errorf("Blocks = %v, want %v", src.Blocks(), want)
		}
		for k, f := range src.Files() {
			base := filepath.Base(f)
			if !strings.HasPrefix(base, "part-0000"+string(rune('0'+k))+"-") || !strings.HasSuffix(base, "-c000.snappy.parquet") {
				t.Errorf("part file %s", base)
			}
			if !usesDictionary(t, f, 1) {
				t.Errorf("%s: label not dictionary-encoded", base)
			}
		}
		r := src.NewReader()
		var ex data.Example
		kind := "raw"
		if floats {
			kind = "fixed"
		}
		for i := 0; i < n; i++ {
			if err := r.Read(i, &ex); err != nil {
				t.Fatal(err)
			}
			checkExample(t, "written", &ex, sparkSpec{kind: kind}, i)
		}
		r.Close()
	}
	if _, err := Create(t.TempDir(), WriteOptions{}); err == nil {
		t.Error("Create over an existing folder succeeded")
	}
	dir := filepath.Join(t.TempDir(), "aborted")
	w, err := Create(dir, WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w.WriteImage([]byte("x"), 1)
	w.Abort()
	if ents, _ := os.ReadDir(filepath.Dir(dir)); len(ents) != 0 {
		t.Errorf("Abort left %v", ents)
	}
}

// TestSparkImageSchema reads a column of Spark's image schema (what
// spark.read.format("image") gives): pixels come out as Caffe's channel
// planes, in BGR order as stored.
func TestSparkImageSchema(t *testing.T) {
	imageType := arrow.StructOf(
		arrow.Field{Name: "origin", Type: arrow.BinaryTypes.String, Nullable: true},
		arrow.Field{Name: "height", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "width", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "nChannels", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "mode", Type: arrow.PrimitiveTypes.Int32},
		arrow.Field{Name: "data", Type: arrow.BinaryTypes.Binary},
	)
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: imageType, Nullable: true},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "part-00000.snappy.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy)), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	// Image i: 2 x 3 pixels, value of (y, x, channel ch) = 100*i + 10*(y*3+x) + ch.
	shapes := [][3]int{{3, 2, 3}, {1, 2, 3}, {4, 2, 3}, {3, 2, 3}} // nChannels, height, width
	modes := []int32{16, 0, 24, 7}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	sb := rb.Field(0).(*array.StructBuilder)
	for i, s := range shapes {
		c, h, w := s[0], s[1], s[2]
		var pix []byte
		for p := 0; p < h*w; p++ {
			for ch := 0; ch < c; ch++ {
				pix = append(pix, byte(100*i+10*p+ch))
			}
		}
		sb.Append(true)
		sb.FieldBuilder(0).(*array.StringBuilder).Append(fmt.Sprintf("file:/images/%d.png", i))
		sb.FieldBuilder(1).(*array.Int32Builder).Append(int32(h))
		sb.FieldBuilder(2).(*array.Int32Builder).Append(int32(w))
		sb.FieldBuilder(3).(*array.Int32Builder).Append(int32(c))
		sb.FieldBuilder(4).(*array.Int32Builder).Append(modes[i])
		sb.FieldBuilder(5).(*array.BinaryBuilder).Append(pix)
		rb.Field(1).(*array.Int32Builder).Append(int32(i))
	}
	if err := fw.Write(rb.NewRecordBatch()); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := Open(dir, Options{LabelColumn: "label"})
	if err != nil {
		t.Fatal(err)
	}
	r := src.NewReader()
	defer r.Close()
	var ex data.Example
	for i, s := range shapes[:3] {
		if err := r.Read(i, &ex); err != nil {
			t.Fatal(err)
		}
		c, h, w := s[0], s[1], s[2]
		if ex.C != c || ex.H != h || ex.W != w || ex.Label != float32(i) {
			t.Fatalf("image %d: %dx%dx%d label %v, want %dx%dx%d label %d", i, ex.C, ex.H, ex.W, ex.Label, c, h, w, i)
		}
		for ch := 0; ch < c; ch++ {
			for p := 0; p < h*w; p++ {
				if got, want := ex.U8[ch*h*w+p], byte(100*i+10*p+ch); got != want {
					t.Fatalf("image %d channel %d pixel %d = %d, want %d", i, ch, p, got, want)
				}
			}
		}
	}
	wantErr(t, "mode", r.Read(3, &ex), "^"+regexp.QuoteMeta(path)+`: row group 0: column "image": row 3: mode 7 is not an 8-bit OpenCV type`)
}
