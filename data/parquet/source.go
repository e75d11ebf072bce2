package parquet

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data"
)

// ShapeKey is the key of the file metadata entry, "C,H,W", that gives the
// shape of raw images and features when Options leave it unset. sparknet's
// Writer stores it; other writers may.
const ShapeKey = "sparknet.shape"

// Options says which columns of a Parquet dataset hold an example.
type Options struct {
	// ImageColumn names a binary column of encoded images, or of raw
	// C*H*W uint8 pixels when the shape is known, or a struct column of
	// Spark's image schema. FloatColumn names a list column of float or
	// double features instead. At most one is set; both empty means
	// ImageColumn "image".
	ImageColumn, FloatColumn string
	// LabelColumn names an integer or floating-point column, or a Hive
	// partition key of the folders above the files; empty reads no
	// labels (they are 0).
	LabelColumn string
	// C, H, W is the shape of raw images and features: all zero or all
	// positive. Zero takes it from each file's ShapeKey metadata, and
	// failing that, means encoded images or len x 1 x 1 features.
	C, H, W int
	// Mode is the channel layout encoded images are decoded to.
	Mode data.ColorMode
}

// OptionsOf converts a DataParameter's parquet_param. Labels are read only
// when withLabel is set (the layer has a label top).
func OptionsOf(p *pb.ParquetParameter, withLabel bool, mode data.ColorMode) Options {
	o := Options{
		ImageColumn: p.GetImageColumn(), FloatColumn: p.GetFloatColumn(),
		C: int(p.GetChannels()), H: int(p.GetHeight()), W: int(p.GetWidth()),
		Mode: mode,
	}
	if withLabel {
		o.LabelColumn = p.GetLabelColumn()
	}
	return o
}

func (o *Options) check() error {
	if o.ImageColumn != "" && o.FloatColumn != "" {
		return fmt.Errorf("parquet_param sets both image_column %q and float_column %q: set one", o.ImageColumn, o.FloatColumn)
	}
	if o.ImageColumn == "" && o.FloatColumn == "" {
		o.ImageColumn = "image"
	}
	if o.C < 0 || o.H < 0 || o.W < 0 || (o.C == 0 || o.H == 0 || o.W == 0) && o.C+o.H+o.W != 0 {
		return fmt.Errorf("parquet_param shape %dx%dx%d: set channels, height and width all, or none", o.C, o.H, o.W)
	}
	return nil
}

func (o *Options) dataColumn() string {
	if o.FloatColumn != "" {
		return o.FloatColumn
	}
	return o.ImageColumn
}

// kind is how a file's data column is read.
type kind int

const (
	encoded    kind = iota // binary: a JPEG/PNG/... per row
	raw                    // binary: C*H*W pixels per row
	floats                 // list<float|double>: C*H*W features per row
	sparkImage             // Spark's image struct: H*W*C pixels and their shape per row
)

// Spark's image schema (spark.read.format("image"), ImageSchema): a struct
// of origin, height, width, nChannels, mode (an OpenCV type) and data, the
// pixels row by row, channels interleaved, BGR(A).
type imageStruct struct {
	height, width, channels, mode, data int // child indices; mode -1 if absent
}

// imageStructOf returns the children of a struct of Spark's image schema.
func imageStructOf(t arrow.DataType) (imageStruct, bool) {
	st, ok := t.(*arrow.StructType)
	if !ok {
		return imageStruct{}, false
	}
	idx := func(name string) int {
		i, ok := st.FieldIdx(name)
		if !ok {
			return -1
		}
		return i
	}
	is := imageStruct{height: idx("height"), width: idx("width"), channels: idx("nChannels"), mode: idx("mode"), data: idx("data")}
	if is.height < 0 || is.width < 0 || is.channels < 0 || is.data < 0 {
		return is, false
	}
	for _, i := range []int{is.height, is.width, is.channels, is.mode} {
		if i >= 0 && !isNumber(st.Field(i).Type) {
			return is, false
		}
	}
	return is, isBinary(st.Field(is.data).Type)
}

// fileInfo is what Open learns from a file's footer.
type fileInfo struct {
	path    string
	md      *metadata.FileMetaData
	kind    kind
	c, h, w int // raw and floats; 0 for floats without a shape
	image   imageStruct

	dataField  int // top-level field index of the data column
	labelField int // of the label column; -1: none or constant
	label      float64
	// prealloc lets arrow size a binary column's buffer from the column
	// chunk's metadata (one allocation instead of doubling), when the
	// sizes the metadata claims are plausible.
	prealloc bool
}

// block is one non-empty row group: records [start, start+rows).
type block struct {
	file, rg    int
	start, rows int
}

// Source is a Parquet dataset: one file, or a folder of part files as
// Spark writes a DataFrame (see the package documentation). Its records are
// the rows of every file's row groups in order; row groups are its blocks
// (data.BlockSource), so that workers get whole row groups. Open reads only
// the files' footers; rows are read row group by row group by the Source's
// readers.
type Source struct {
	path   string
	opt    Options
	files  []*fileInfo
	blocks []block
	starts []int
	n      int
}

var (
	_ data.BlockSource = (*Source)(nil)
	_ data.ShardSource = (*Source)(nil)
)

// Open lists the Parquet files at path, reads their footers and checks
// that each has the columns o names, of usable types. Errors name the file
// and the column.
func Open(path string, o Options) (*Source, error) {
	if err := o.check(); err != nil {
		return nil, err
	}
	list, err := listFiles(path)
	if err != nil {
		return nil, err
	}
	s := &Source{path: path, opt: o}
	for _, df := range list {
		fi, err := openFile(df, &o)
		if err != nil {
			return nil, err
		}
		fidx := len(s.files)
		s.files = append(s.files, fi)
		for rg := 0; rg < fi.md.NumRowGroups(); rg++ {
			rows := fi.md.RowGroup(rg).NumRows()
			if rows < 0 || int64(s.n)+rows > 1<<40 {
				return nil, fmt.Errorf("%s: row group %d: bad row count %d", fi.path, rg, rows)
			}
			if rows == 0 {
				continue
			}
			s.blocks = append(s.blocks, block{file: fidx, rg: rg, start: s.n, rows: int(rows)})
			s.starts = append(s.starts, s.n)
			s.n += int(rows)
		}
	}
	if s.n == 0 {
		return nil, fmt.Errorf("%s: the Parquet data has no rows", path)
	}
	return s, nil
}

// openFile reads and checks one file's footer.
func openFile(df dataFile, o *Options) (fi *fileInfo, err error) {
	defer func() {
		if p := recover(); p != nil {
			fi, err = nil, fmt.Errorf("%s: corrupt Parquet file: %v", df.path, p)
		}
	}()
	r, err := file.OpenParquetFile(df.path, false)
	if err != nil {
		return nil, fmt.Errorf("%s: not a readable Parquet file: %w", df.path, err)
	}
	md := r.MetaData()
	r.Close()
	fi = &fileInfo{path: df.path, md: md, labelField: -1}
	sc, err := pqarrow.FromParquet(md.Schema, &pqarrow.ArrowReadProperties{}, md.KeyValueMetadata())
	if err != nil {
		return nil, fmt.Errorf("%s: unsupported Parquet schema: %w", df.path, err)
	}
	field := func(name string) (int, arrow.DataType, bool) {
		idx := sc.FieldIndices(name)
		if len(idx) == 0 {
			return -1, nil, false
		}
		return idx[0], sc.Field(idx[0]).Type, true
	}
	columns := func() string {
		names := make([]string, sc.NumFields())
		for i := range names {
			names[i] = sc.Field(i).Name
		}
		return strings.Join(names, ", ")
	}

	name := o.dataColumn()
	idx, typ, ok := field(name)
	if !ok {
		return nil, fmt.Errorf("%s: column %q not found (the file has columns: %s)", df.path, name, columns())
	}
	fi.dataField = idx
	c, h, w := o.C, o.H, o.W
	if c == 0 {
		if v := md.KeyValueMetadata().FindValue(ShapeKey); v != nil {
			if c, h, w, err = parseShape(*v); err != nil {
				return nil, fmt.Errorf("%s: metadata %s: %w", df.path, ShapeKey, err)
			}
		}
	}
	fi.c, fi.h, fi.w = c, h, w
	if o.FloatColumn != "" {
		if !isFloatList(typ) {
			return nil, fmt.Errorf("%s: column %q has type %s, want a list of float or double (array<float>)", df.path, name, typ)
		}
		fi.kind = floats
	} else if is, ok := imageStructOf(typ); ok {
		fi.kind, fi.image = sparkImage, is
	} else {
		if !isBinary(typ) {
			return nil, fmt.Errorf("%s: column %q has type %s, want binary (encoded or raw images) or Spark's image struct", df.path, name, typ)
		}
		fi.kind = encoded
		if c > 0 {
			fi.kind = raw
		}
	}

	if fi.kind == encoded || fi.kind == raw {
		fi.prealloc = plausibleSizes(md, idx)
	}

	if name := o.LabelColumn; name != "" {
		idx, typ, ok := field(name)
		switch {
		case ok && !isNumber(typ):
			return nil, fmt.Errorf("%s: column %q has type %s, want an integer or floating-point label", df.path, name, typ)
		case ok:
			fi.labelField = idx
		default:
			v, isKey := df.keys[name]
			if !isKey {
				return nil, fmt.Errorf("%s: column %q not found (the file has columns: %s; nor is it a key=value folder above the file)", df.path, name, columns())
			}
			if fi.label, err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("%s: label %s=%q of the partition folder is not a number", df.path, name, v)
			}
		}
	}
	return fi, nil
}

// plausibleSizes reports whether the column chunks of top-level field
// field (a binary column: one leaf) claim sizes that are safe to allocate:
// at most 256 MiB uncompressed, and at most 1024 times the compressed size.
func plausibleSizes(md *metadata.FileMetaData, field int) bool {
	leaf := -1
	for i := 0; i < md.Schema.NumColumns(); i++ {
		if md.Schema.ColumnRoot(i) == md.Schema.Root().Field(field) {
			leaf = i
			break
		}
	}
	if leaf < 0 {
		return false
	}
	for g := 0; g < md.NumRowGroups(); g++ {
		cc, err := md.RowGroup(g).ColumnChunk(leaf)
		if err != nil {
			return false
		}
		u, c := cc.TotalUncompressedSize(), cc.TotalCompressedSize()
		if u < 0 || c <= 0 || u > 256<<20 || u > 1024*c {
			return false
		}
	}
	return true
}

func parseShape(s string) (c, h, w int, err error) {
	parts := strings.Split(s, ",")
	if len(parts) != 3 {
		return 0, 0, 0, fmt.Errorf("shape %q: want \"C,H,W\"", s)
	}
	var v [3]int
	for i, p := range parts {
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || n <= 0 || n > 1<<30 {
			return 0, 0, 0, fmt.Errorf("shape %q: want three positive integers \"C,H,W\"", s)
		}
		v[i] = n
	}
	return v[0], v[1], v[2], nil
}

func isBinary(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.BINARY, arrow.LARGE_BINARY, arrow.FIXED_SIZE_BINARY, arrow.BINARY_VIEW:
		return true
	case arrow.DICTIONARY:
		return isBinary(t.(*arrow.DictionaryType).ValueType)
	}
	return false
}

func isFloatList(t arrow.DataType) bool {
	var elem arrow.DataType
	switch t := t.(type) {
	case *arrow.ListType:
		elem = t.Elem()
	case *arrow.LargeListType:
		elem = t.Elem()
	case *arrow.FixedSizeListType:
		elem = t.Elem()
	default:
		return false
	}
	return elem.ID() == arrow.FLOAT32 || elem.ID() == arrow.FLOAT64
}

func isNumber(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT32, arrow.FLOAT64:
		return true
	}
	return false
}

// Name returns the path the source was opened with.
func (s *Source) Name() string { return s.path }

// Len returns the number of rows.
func (s *Source) Len() int { return s.n }

// Blocks returns the first record of each non-empty row group, in order.
func (s *Source) Blocks() []int { return s.starts }

// Files returns the paths of the Parquet files read, in order.
func (s *Source) Files() []string {
	out := make([]string, len(s.files))
	for i, f := range s.files {
		out[i] = f.path
	}
	return out
}

// RowGroup returns the file and the row group within it that hold record
// i, and the row's index in that row group.
func (s *Source) RowGroup(i int) (file string, rowGroup, row int) {
	b := s.blockOf(i)
	bl := s.blocks[b]
	return s.files[bl.file].path, bl.rg, i - bl.start
}

// blockOf returns the index of the block that holds record i.
func (s *Source) blockOf(i int) int {
	return sort.SearchInts(s.starts, i+1) - 1
}

// Close releases the source. Its readers must be closed first.
func (s *Source) Close() error { return nil }

// NewReader returns a reader that reads ahead in record order, wrapping
// at the end of the data.
func (s *Source) NewReader() data.SourceReader { return s.newReader(0, s.n) }

// NewShardReader returns a reader that reads ahead in the order a cursor
// walks shard sh without shuffling: its records in order, wrapping at the
// shard's end.
func (s *Source) NewShardReader(sh data.Shard) data.SourceReader {
	lo, hi := 0, s.n
	if sh.N == s.n && sh.Len() > 0 {
		lo, hi = sh.Range()
	}
	return s.newReader(lo, hi)
}

// NewRowReader returns a reader of rows as stored, without decoding
// images (for conversion).
func (s *Source) NewRowReader() *Reader { return s.newReader(0, s.n) }

var errClosed = errors.New("parquet: reader is closed")
