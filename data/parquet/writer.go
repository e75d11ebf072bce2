package parquet

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// WriteOptions configures a Writer.
type WriteOptions struct {
	// DataColumn names the data column: binary images (default "image"),
	// or, with Floats, a list<float> of features (default "features").
	DataColumn string
	// Floats writes features instead of images.
	Floats bool
	// LabelColumn names the int32 label column (default "label"); it is
	// dictionary-encoded, as Spark writes low-cardinality columns.
	LabelColumn string
	// C, H, W, when set, is stored as the ShapeKey file metadata: the
	// shape of raw images or of features, so that readers need not be
	// told. Leave it zero for encoded images.
	C, H, W int
	// Compression is "snappy" (default, as Spark), "gzip", "zstd" or
	// "none".
	Compression string
	// RowGroupRows and RowGroupBytes end a row group when it has that
	// many rows or that many bytes of data (defaults 1024 rows, 64 MiB).
	// Row groups are the unit by which workers share the data: write at
	// least as many as there will be workers.
	RowGroupRows  int
	RowGroupBytes int
	// FileRows starts a new part file after that many rows (Spark's
	// maxRecordsPerFile; default 16384; < 0: one file).
	FileRows int
}

// Defaults of WriteOptions.
const (
	DefaultRowGroupRows  = 1024
	DefaultRowGroupBytes = 64 << 20
	DefaultFileRows      = 16384
)

// codecs maps Compression names to codecs and the file name infix Spark
// uses for them.
var codecs = map[string]struct {
	c     compress.Compression
	infix string
}{
	"snappy": {compress.Codecs.Snappy, ".snappy"},
	"gzip":   {compress.Codecs.Gzip, ".gz"},
	"zstd":   {compress.Codecs.Zstd, ".zstd"},
	"none":   {compress.Codecs.Uncompressed, ""},
}

// Writer writes a dataset as Spark writes a DataFrame: a folder of part
// files part-NNNNN-<uuid>-c000.<codec>.parquet and an empty _SUCCESS
// marker. It writes into a temporary folder beside the target and renames
// it at Close, so that the target appears whole or not at all.
type Writer struct {
	dir, tmp string
	o        WriteOptions
	codec    compress.Compression
	infix    string
	job      string
	schema   *arrow.Schema
	props    *parquet.WriterProperties

	f        *os.File
	fw       *pqarrow.FileWriter
	part     int
	fileRows int

	rb       *array.RecordBuilder
	rows     int // in the row group being built
	bytes    int
	total    int
	groups   int
	finished bool
}

// Written counts what a Writer wrote.
type Written struct {
	Rows, Files, RowGroups int
}

// Create starts a dataset at dir, which must not exist.
func Create(dir string, o WriteOptions) (*Writer, error) {
	if o.DataColumn == "" {
		o.DataColumn = "image"
		if o.Floats {
			o.DataColumn = "features"
		}
	}
	if o.LabelColumn == "" {
		o.LabelColumn = "label"
	}
	if o.DataColumn == o.LabelColumn {
		return nil, fmt.Errorf("data and label columns are both named %q", o.DataColumn)
	}
	if o.Compression == "" {
		o.Compression = "snappy"
	}
	codec, ok := codecs[strings.ToLower(o.Compression)]
	if !ok {
		return nil, fmt.Errorf("unknown compression %q (want snappy, gzip, zstd or none)", o.Compression)
	}
	if o.RowGroupRows <= 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.RowGroupBytes <= 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.FileRows == 0 {
		o.FileRows = DefaultFileRows
	}
	if o.C < 0 || o.H < 0 || o.W < 0 || (o.C == 0 || o.H == 0 || o.W == 0) && o.C+o.H+o.W != 0 {
		return nil, fmt.Errorf("shape %dx%dx%d: set C, H and W all, or none", o.C, o.H, o.W)
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("%s already exists", dir)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return nil, err
	}
	var job [16]byte
	rand.Read(job[:])
	job[6] = job[6]&0x0f | 0x40 // a version 4 UUID, as Spark's job ids
	job[8] = job[8]&0x3f | 0x80
	dataType := arrow.DataType(arrow.BinaryTypes.Binary)
	if o.Floats {
		dataType = arrow.ListOf(arrow.PrimitiveTypes.Float32)
	}
	w := &Writer{
		dir: dir, tmp: tmp, o: o, codec: codec.c, infix: codec.infix,
		job: fmt.Sprintf("%x-%x-%x-%x-%x", job[0:4], job[4:6], job[6:8], job[8:10], job[10:]),
		schema: arrow.NewSchema([]arrow.Field{
			{Name: o.DataColumn, Type: dataType, Nullable: true},
			{Name: o.LabelColumn, Type: arrow.PrimitiveTypes.Int32, Nullable: true},
		}, nil),
	}
	w.props = parquet.NewWriterProperties(
		parquet.WithCompression(w.codec),
		parquet.WithDictionaryDefault(false),
		parquet.WithDictionaryFor(o.LabelColumn, true),
		parquet.WithMaxRowGroupLength(int64(o.RowGroupRows)),
		parquet.WithCreatedBy("sparknet (arrow-go parquet)"),
	)
	w.rb = array.NewRecordBuilder(memory.DefaultAllocator, w.schema)
	return w, nil
}

// Written returns the rows, part files and row groups written so far.
func (w *Writer) Written() Written { return Written{Rows: w.total, Files: w.part, RowGroups: w.groups} }

// WriteImage adds a row with an image (encoded, or raw pixels of the
// shape in WriteOptions).
func (w *Writer) WriteImage(b []byte, label int32) error {
	if w.o.Floats {
		return errors.New("parquet: WriteImage to a dataset of features")
	}
	w.rb.Field(0).(*array.BinaryBuilder).Append(b)
	w.bytes += len(b)
	return w.endRow(label)
}

// WriteFloats adds a row with features.
func (w *Writer) WriteFloats(v []float32, label int32) error {
	if !w.o.Floats {
		return errors.New("parquet: WriteFloats to a dataset of images")
	}
	lb := w.rb.Field(0).(*array.ListBuilder)
	lb.Append(true)
	lb.ValueBuilder().(*array.Float32Builder).AppendValues(v, nil)
	w.bytes += 4 * len(v)
	return w.endRow(label)
}

func (w *Writer) endRow(label int32) error {
	w.rb.Field(1).(*array.Int32Builder).Append(label)
	w.rows++
	w.total++
	if w.rows >= w.o.RowGroupRows || w.bytes >= w.o.RowGroupBytes || w.o.FileRows > 0 && w.fileRows+w.rows >= w.o.FileRows {
		return w.flush()
	}
	return nil
}

// flush writes the rows built so far as one row group, starting a part
// file first if needed and ending it when it is full.
func (w *Writer) flush() error {
	if w.rows == 0 {
		return nil
	}
	if w.fw == nil {
		name := fmt.Sprintf("part-%05d-%s-c000%s.parquet", w.part, w.job, w.infix)
		f, err := os.Create(filepath.Join(w.tmp, name))
		if err != nil {
			return err
		}
		fw, err := pqarrow.NewFileWriter(w.schema, f, w.props, pqarrow.DefaultWriterProps())
		if err != nil {
			f.Close()
			return err
		}
		if w.o.C > 0 {
			if err := fw.AppendKeyValueMetadata(ShapeKey, fmt.Sprintf("%d,%d,%d", w.o.C, w.o.H, w.o.W)); err != nil {
				f.Close()
				return err
			}
		}
		w.f, w.fw, w.fileRows = f, fw, 0
		w.part++
	}
	rec := w.rb.NewRecordBatch()
	err := w.fw.Write(rec)
	rec.Release()
	if err != nil {
		return fmt.Errorf("%s: %w", w.f.Name(), err)
	}
	w.fileRows += w.rows
	w.groups++
	w.rows, w.bytes = 0, 0
	if w.o.FileRows > 0 && w.fileRows >= w.o.FileRows {
		return w.closeFile()
	}
	return nil
}

func (w *Writer) closeFile() error {
	if w.fw == nil {
		return nil
	}
	err := w.fw.Close() // closes w.f too, unless it fails early
	name := w.f.Name()
	if err != nil {
		w.f.Close()
	}
	w.fw, w.f, w.fileRows = nil, nil, 0
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// Close writes the last row group, the _SUCCESS marker, and moves the
// folder into place.
func (w *Writer) Close() error {
	if w.finished {
		return nil
	}
	err := w.flush()
	if err == nil {
		err = w.closeFile()
	}
	if err == nil && w.part == 0 {
		err = errors.New("no rows to write")
	}
	if err == nil {
		err = syncDir(w.tmp)
	}
	if err == nil {
		err = os.WriteFile(filepath.Join(w.tmp, "_SUCCESS"), nil, 0o644)
	}
	if err == nil {
		err = os.Rename(w.tmp, w.dir)
	}
	if err != nil {
		w.Abort()
		return fmt.Errorf("%s: %w", w.dir, err)
	}
	w.finished = true
	w.rb.Release()
	return nil
}

// Abort removes the unfinished dataset.
func (w *Writer) Abort() {
	if w.finished {
		return
	}
	w.finished = true
	if w.fw != nil {
		w.fw.Close()
	}
	w.rb.Release()
	os.RemoveAll(w.tmp)
}

// syncDir flushes the files of dir to disk.
func syncDir(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
