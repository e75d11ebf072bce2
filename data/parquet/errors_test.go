package parquet

import (
	"context"
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
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sparknet/sparknet/data"
)

// wantErr checks that err is one line matching each pattern.
func wantErr(t *testing.T, what string, err error, patterns ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error", what)
		return
	}
	msg := err.Error()
	t.Logf("%s: %s", what, msg)
	if strings.Contains(msg, "\n") {
		t.Errorf("%s: error of several lines: %q", what, msg)
	}
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(msg) {
			t.Errorf("%s: error %q does not match %q", what, msg, p)
		}
	}
}

// readAll reads every record of src in order; it returns the first error
// and the record it happened at.
func readAll(src *Source) (int, error) {
	r := src.NewReader()
	defer r.Close()
	var ex data.Example
	for i := 0; i < src.Len(); i++ {
		if err := r.Read(i, &ex); err != nil {
			return i, err
		}
	}
	return -1, nil
}

func rawDataset(t *testing.T) (dir, first string) {
	dir = writeSpark(t, t.TempDir(), 20, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 5, fileRows: 10, folder: "split=train"})
	src, err := Open(dir, Options{ImageColumn: "features", C: tc, H: th, W: tw})
	if err != nil {
		t.Fatal(err)
	}
	return dir, src.Files()[0]
}

func TestBadColumns(t *testing.T) {
	dir, first := rawDataset(t)
	f := regexp.QuoteMeta(first)
	raw := Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw}
	for _, c := range []struct {
		name     string
		opt      Options
		patterns []string
	}{
		{"missing image", Options{ImageColumn: "image"}, []string{"^" + f + `: column "image" not found \(the file has columns: id, features, label`}},
		{"missing label", Options{ImageColumn: "features", LabelColumn: "class"}, []string{"^" + f + `: column "class" not found`, "key=value folder"}},
		{"image not binary", Options{ImageColumn: "id"}, []string{"^" + f + `: column "id" has type int64, want binary`}},
		{"floats not a list", Options{FloatColumn: "features"}, []string{"^" + f + `: column "features" has type binary, want a list of float`}},
		{"label binary", Options{FloatColumn: "", ImageColumn: "features", LabelColumn: "features", C: 1, H: 1, W: 12}, []string{`column "features" has type binary, want an integer or floating-point label`}},
		{"two data columns", Options{ImageColumn: "a", FloatColumn: "b"}, []string{"both image_column"}},
		{"partial shape", Options{ImageColumn: "features", C: 1, H: 3}, []string{"set channels, height and width all, or none"}},
	} {
		_, err := Open(dir, c.opt)
		wantErr(t, c.name, err, c.patterns...)
	}

	// A shape that does not fit the rows: an error at the first read,
	// naming the file, row group, column and row.
	bad := raw
	bad.W = 5
	src, err := Open(dir, bad)
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(src)
	wantErr(t, "wrong shape", err, "^"+f+`: row group 0: column "features": row 0: 12 bytes, want channels\*height\*width = 1\*3\*5 = 15`)

	// Raw bytes read as encoded images.
	src, err = Open(dir, Options{ImageColumn: "features"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = readAll(src)
	wantErr(t, "not an image", err, "^"+f+`: row group 0: column "features": row 0: decoding image`)

	// A label folder that is not a number.
	root := t.TempDir()
	writeSpark(t, root, 20, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 5, labelInPath: true})
	if err := os.Rename(filepath.Join(root, "label=3"), filepath.Join(root, "label=cat")); err != nil {
		t.Fatal(err)
	}
	_, err = Open(root, Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw})
	wantErr(t, "label folder", err, `label=cat/part-00003-[^:]*: label label="cat" of the partition folder is not a number`)
	// Without a label top, the folders do not matter.
	if _, err := Open(root, Options{ImageColumn: "features", C: tc, H: th, W: tw}); err != nil {
		t.Error(err)
	}
}

func TestBadFiles(t *testing.T) {
	dir, first := rawDataset(t)
	opt := Options{ImageColumn: "features", C: tc, H: th, W: tw}

	// A stray file among the part files.
	stray := filepath.Join(dir, "notes.txt")
	writeFile(t, stray, []byte("not parquet"))
	_, err := Open(dir, opt)
	wantErr(t, "stray file", err, "^"+regexp.QuoteMeta(stray)+": not a readable Parquet file")
	os.Remove(stray)

	// A truncated file (its footer cut off).
	b, _ := os.ReadFile(first)
	writeFile(t, first, b[:len(b)/2])
	_, err = Open(dir, opt)
	wantErr(t, "truncated", err, "^"+regexp.QuoteMeta(first)+": ")
	writeFile(t, first, b)

	// No files at all.
	empty := t.TempDir()
	writeFile(t, filepath.Join(empty, "_SUCCESS"), nil)
	_, err = Open(empty, opt)
	wantErr(t, "empty folder", err, "no Parquet files")
	_, err = Open(filepath.Join(empty, "missing"), opt)
	wantErr(t, "missing path", err, "no such file")
}

// TestCorruptRowGroup damages the data pages of one column chunk in
// several ways: the records before it read, the first record of that row
// group fails with an error naming file, row group and column, and nothing
// panics.
func TestCorruptRowGroup(t *testing.T) {
	for _, c := range []struct {
		name  string
		codec compress.Compression
		at    float64 // where in the chunk, as a fraction
		fill  func(i int) byte
	}{
		{"snappy-payload", compress.Codecs.Snappy, 0.6, func(i int) byte { return byte(i*151 + 7) }},
		{"snappy-header", compress.Codecs.Snappy, 0, func(i int) byte { return 0xff }},
		{"gzip-payload", compress.Codecs.Gzip, 0.5, func(i int) byte { return byte(i * 31) }},
		{"zstd-payload", compress.Codecs.Zstd, 0.5, func(i int) byte { return byte(i*17 + 3) }},
		{"plain-header", compress.Codecs.Uncompressed, 0, func(i int) byte { return byte(0x15 + i%3) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := writeSpark(t, t.TempDir(), 20, sparkSpec{kind: "raw", codec: c.codec, rowGroup: 5, fileRows: 20})
			src, err := Open(dir, Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw})
			if err != nil {
				t.Fatal(err)
			}
			path := src.Files()[0]
			damage(t, path, 1, 1, c.at, 24, c.fill) // row group 1, column "features"
			at, err := readAll(src)
			if err == nil {
				// Damage the payload of an uncompressed page may
				// go unnoticed; every other case must be caught.
				t.Fatalf("no error reading the damaged row group")
			}
			if at != 5 {
				t.Errorf("error at record %d, want 5 (the first of row group 1): %v", at, err)
			}
			wantErr(t, c.name, err, "^"+regexp.QuoteMeta(path)+`: row group 1: column "features": `)
		})
	}
}

// damage overwrites n bytes of column col's chunk in row group rg, at the
// given fraction of the chunk.
func damage(t *testing.T, path string, rg, col int, at float64, n int, fill func(int) byte) {
	t.Helper()
	r, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := r.MetaData().RowGroup(rg).ColumnChunk(col)
	if err != nil {
		t.Fatal(err)
	}
	start := cc.DataPageOffset()
	if cc.HasDictionaryPage() && cc.DictionaryPageOffset() < start {
		start = cc.DictionaryPageOffset()
	}
	size := cc.TotalCompressedSize()
	r.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	off := start + int64(at*float64(size))
	for i := 0; i < n && off+int64(i) < start+size; i++ {
		b[off+int64(i)] = fill(i)
	}
	writeFile(t, path, b)
}

// TestNulls reads a file with a null image and a null label.
func TestNulls(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "part-00000.parquet")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: arrow.BinaryTypes.Binary, Nullable: true},
		{Name: "label", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	img, lab := rb.Field(0).(*array.BinaryBuilder), rb.Field(1).(*array.Int32Builder)
	img.Append([]byte{1, 2})
	lab.Append(1)
	img.Append([]byte{3, 4})
	lab.AppendNull()
	img.AppendNull()
	lab.Append(3)
	rec := rb.NewRecordBatch()
	if err := fw.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := fw.Close(); err != nil {
		t.Fatal(err)
	}
	src, err := Open(dir, Options{LabelColumn: "label", C: 1, H: 1, W: 2})
	if err != nil {
		t.Fatal(err)
	}
	r := src.NewReader()
	defer r.Close()
	var ex data.Example
	if err := r.Read(0, &ex); err != nil || ex.Label != 1 || ex.U8[1] != 2 {
		t.Fatalf("row 0: %v %+v", err, ex)
	}
	wantErr(t, "null label", r.Read(1, &ex), "^"+regexp.QuoteMeta(path)+`: row group 0: column "label": row 1: the label is null`)
	wantErr(t, "null image", r.Read(2, &ex), "^"+regexp.QuoteMeta(path)+`: row group 0: column "image": row 2: the value is null`)
}

// TestToDBLabels converts Parquet to LMDB: labels from a partitionBy
// folder become the Datums' labels; a fractional label is an error naming
// the row.
func TestToDBLabels(t *testing.T) {
	root := t.TempDir()
	dir := writeSpark(t, root, 12, sparkSpec{kind: "raw", codec: compress.Codecs.Snappy, rowGroup: 2, labelInPath: true})
	out := filepath.Join(t.TempDir(), "db")
	n, err := ToDB(context.Background(), dir, Options{ImageColumn: "features", LabelColumn: "label", C: tc, H: th, W: tw}, out, data.LMDB)
	if err != nil || n != 12 {
		t.Fatalf("ToDB: %d, %v", n, err)
	}
	src, err := data.OpenDatumSource(data.LMDB, out, data.Native)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r := src.NewReader()
	defer r.Close()
	var ex data.Example
	for k, i := range order(12, sparkSpec{labelInPath: true}) {
		if err := r.Read(k, &ex); err != nil {
			t.Fatal(err)
		}
		checkExample(t, "ToDB", &ex, sparkSpec{kind: "raw"}, i)
	}

	// Float labels: 1 is fine, 2.5 is not.
	fdir := t.TempDir()
	path := filepath.Join(fdir, "part-0.parquet")
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "image", Type: arrow.BinaryTypes.Binary},
		{Name: "label", Type: arrow.PrimitiveTypes.Float64},
	}, nil)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := pqarrow.NewFileWriter(schema, f, parquet.NewWriterProperties(), pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	rb := array.NewRecordBuilder(memory.DefaultAllocator, schema)
	rb.Field(0).(*array.BinaryBuilder).AppendValues([][]byte{{1}, {2}}, nil)
	rb.Field(1).(*array.Float64Builder).AppendValues([]float64{1, 2.5}, nil)
	if err := fw.Write(rb.NewRecordBatch()); err != nil {
		t.Fatal(err)
	}
	fw.Close()
	_, err = ToDB(context.Background(), fdir, Options{LabelColumn: "label", C: 1, H: 1, W: 1}, filepath.Join(t.TempDir(), "db"), data.LMDB)
	wantErr(t, "fractional label", err, "^"+regexp.QuoteMeta(path)+`: row group 0, row 1: label 2.5 is not an int32`)
}
