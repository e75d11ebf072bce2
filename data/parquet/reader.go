package parquet

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/sparknet/sparknet/data"
)

// Row is one row as stored: the data column's bytes (Encoded: a whole
// image file) or features, and the label. Its slices are valid until the
// next ReadRow or Read of the same reader.
type Row struct {
	Bytes   []byte
	Floats  []float32
	Encoded bool
	// C, H, W is the shape of raw bytes and of features (0 for encoded
	// images; features without a known shape are len x 1 x 1).
	C, H, W int
	Label   float64
}

// Reader reads the records of a Source, one row group at a time: the row
// group being read is decoded in memory, and the next one (in the order
// the reader was made for) is decoded by a background goroutine meanwhile,
// so that at most two row groups per reader are in memory. A jump to
// another row group waits for the read-ahead, then reads the row group it
// needs. A Reader is used by one goroutine.
type Reader struct {
	s      *Source
	lo, hi int // record range walked, for the read-ahead's wrap-around
	cur    *group
	ahead  *fetch

	// Touched only by load, and loads never overlap (get waits for the
	// read-ahead before loading itself).
	openIdx int
	openPR  *file.Reader
	openFR  *pqarrow.FileReader

	img    data.Image
	f32    []float32
	chw    []byte
	closed bool
}

// group is a decoded row group.
type group struct {
	b           int // block index
	start, rows int
	fi          *fileInfo
	rg          int
	data, label column
}

// column is one column of a row group as arrow arrays.
type column struct {
	name   string
	chunks []arrow.Array
	ends   []int // ends[k]: rows in chunks[0..k]
	cur    int   // chunk of the last lookup
}

// fetch is a row group being read by the read-ahead goroutine.
type fetch struct {
	b    int
	done chan struct{}
	g    *group
	err  error
}

func (s *Source) newReader(lo, hi int) *Reader {
	return &Reader{s: s, lo: lo, hi: hi, openIdx: -1}
}

// Close waits for the read-ahead and closes the open file.
func (r *Reader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if r.ahead != nil {
		<-r.ahead.done
		r.ahead = nil
	}
	r.cur = nil
	return r.closeOpen()
}

func (r *Reader) closeOpen() error {
	if r.openPR == nil {
		return nil
	}
	err := r.openPR.Close()
	r.openPR, r.openFR, r.openIdx = nil, nil, -1
	return err
}

// Where names record i in errors: file, row group and row.
func (r *Reader) Where(i int) string {
	if i < 0 || i >= r.s.n {
		return fmt.Sprintf("%s: record %d", r.s.path, i)
	}
	f, rg, row := r.s.RowGroup(i)
	return fmt.Sprintf("%s: row group %d, row %d", f, rg, row)
}

// Read decodes record i into ex, as a Datum of the same content would be:
// raw pixels as bytes, encoded images decoded with the source's color
// mode, features as floats.
func (r *Reader) Read(i int, ex *data.Example) error {
	var row Row
	if err := r.ReadRow(i, &row); err != nil {
		return err
	}
	ex.Label = float32(row.Label)
	ex.U8, ex.F32 = nil, nil
	switch {
	case row.Encoded:
		if err := data.DecodeImage(row.Bytes, r.s.opt.Mode, &r.img); err != nil {
			return r.rowErr(r.cur, i-r.cur.start, r.cur.data.name, err)
		}
		ex.C, ex.H, ex.W, ex.U8 = r.img.C, r.img.H, r.img.W, r.img.Pix
	case row.Floats != nil:
		ex.C, ex.H, ex.W, ex.F32 = row.C, row.H, row.W, row.Floats
	default:
		ex.C, ex.H, ex.W, ex.U8 = row.C, row.H, row.W, row.Bytes
	}
	return nil
}

// ReadRow reads record i as stored, without decoding images.
func (r *Reader) ReadRow(i int, row *Row) error {
	if r.closed {
		return errClosed
	}
	if i < 0 || i >= r.s.n {
		return fmt.Errorf("%s: record %d out of range [0, %d)", r.s.path, i, r.s.n)
	}
	g := r.cur
	if g == nil || i < g.start || i >= g.start+g.rows {
		b := r.s.blockOf(i)
		var err error
		if g, err = r.get(b); err != nil {
			return err
		}
		r.cur = g
		r.readAhead(r.next(b))
	}
	j := i - g.start
	fi := g.fi
	a, k := g.data.at(j)
	if a.IsNull(k) {
		return r.rowErr(g, j, g.data.name, errors.New("the value is null"))
	}
	*row = Row{Label: fi.label}
	var err error
	switch fi.kind {
	case encoded:
		row.Encoded = true
		row.Bytes, err = bytesAt(a, k)
	case raw:
		row.C, row.H, row.W = fi.c, fi.h, fi.w
		row.Bytes, err = bytesAt(a, k)
		if err == nil && len(row.Bytes) != fi.c*fi.h*fi.w {
			err = fmt.Errorf("%d bytes, want channels*height*width = %d*%d*%d = %d raw pixels (for encoded images, leave the shape unset)",
				len(row.Bytes), fi.c, fi.h, fi.w, fi.c*fi.h*fi.w)
		}
	case sparkImage:
		row.Bytes, row.C, row.H, row.W, err = r.sparkImageAt(a, k, fi)
	case floats:
		row.Floats, err = r.floatsAt(a, k)
		switch {
		case err != nil:
		case fi.c > 0:
			row.C, row.H, row.W = fi.c, fi.h, fi.w
			if len(row.Floats) != fi.c*fi.h*fi.w {
				err = fmt.Errorf("%d values, want channels*height*width = %d*%d*%d = %d", len(row.Floats), fi.c, fi.h, fi.w, fi.c*fi.h*fi.w)
			}
		case len(row.Floats) == 0:
			err = errors.New("the list is empty")
		default:
			row.C, row.H, row.W = len(row.Floats), 1, 1
		}
	}
	if err != nil {
		return r.rowErr(g, j, g.data.name, err)
	}
	if fi.labelField >= 0 {
		a, k := g.label.at(j)
		if a.IsNull(k) {
			return r.rowErr(g, j, g.label.name, errors.New("the label is null"))
		}
		if row.Label, err = numberAt(a, k); err != nil {
			return r.rowErr(g, j, g.label.name, err)
		}
	}
	return nil
}

// rowErr names row j of group g and column col in err.
func (r *Reader) rowErr(g *group, j int, col string, err error) error {
	return fmt.Errorf("%s: row group %d: column %q: row %d: %w", g.fi.path, g.rg, col, j, err)
}

// next returns the block after b in the reader's order.
func (r *Reader) next(b int) int {
	if b+1 >= len(r.s.blocks) || r.s.blocks[b+1].start >= r.hi {
		return r.s.blockOf(r.lo)
	}
	return b + 1
}

// get returns block b decoded: from the read-ahead when it holds b, else
// read now.
func (r *Reader) get(b int) (*group, error) {
	if f := r.ahead; f != nil {
		r.ahead = nil
		<-f.done
		if f.b == b {
			return f.g, f.err
		}
	}
	return r.load(b)
}

// readAhead starts decoding block b in the background.
func (r *Reader) readAhead(b int) {
	if r.cur != nil && r.cur.b == b {
		return // a single row group: nothing to read ahead
	}
	f := &fetch{b: b, done: make(chan struct{})}
	r.ahead = f
	go func() {
		defer close(f.done)
		f.g, f.err = r.load(b)
	}()
}

// load reads and decodes the columns of block b. Arrow's decoders can
// panic on corrupt input; that is turned into an error naming the file,
// row group and column.
func (r *Reader) load(b int) (g *group, err error) {
	bl := r.s.blocks[b]
	fi := r.s.files[bl.file]
	g = &group{b: b, start: bl.start, rows: bl.rows, fi: fi, rg: bl.rg}
	col := "(footer)"
	defer func() {
		if p := recover(); p != nil {
			r.closeOpen()
			g, err = nil, fmt.Errorf("%s: row group %d: column %q: corrupt data: %v", fi.path, bl.rg, col, p)
		}
	}()
	if r.openIdx != bl.file {
		if err := r.closeOpen(); err != nil {
			return nil, err
		}
		pr, err := file.OpenParquetFile(fi.path, false, file.WithMetadata(fi.md))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", fi.path, err)
		}
		fr, err := pqarrow.NewFileReader(pr, pqarrow.ArrowReadProperties{PreAllocBinaryData: fi.prealloc}, memory.DefaultAllocator)
		if err != nil {
			pr.Close()
			return nil, fmt.Errorf("%s: %w", fi.path, err)
		}
		r.openIdx, r.openPR, r.openFR = bl.file, pr, fr
	}
	read := func(field int, dst *column) error {
		col = r.openFR.Manifest.Fields[field].Field.Name
		dst.name = col
		ch, err := r.openFR.RowGroup(bl.rg).Column(field).Read(context.Background())
		if err != nil {
			return fmt.Errorf("%s: row group %d: column %q: %w", fi.path, bl.rg, col, err)
		}
		if ch.Len() != bl.rows {
			return fmt.Errorf("%s: row group %d: column %q: %d values for %d rows", fi.path, bl.rg, col, ch.Len(), bl.rows)
		}
		dst.chunks = ch.Chunks()
		n := 0
		for _, c := range dst.chunks {
			n += c.Len()
			dst.ends = append(dst.ends, n)
		}
		return nil
	}
	if err := read(fi.dataField, &g.data); err != nil {
		return nil, err
	}
	if fi.labelField >= 0 {
		if err := read(fi.labelField, &g.label); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// at returns the array holding row j and the row's index in it.
func (c *column) at(j int) (arrow.Array, int) {
	k := c.cur
	first := 0
	if k > 0 {
		first = c.ends[k-1]
	}
	if j < first || j >= c.ends[k] {
		k = sort.SearchInts(c.ends, j+1)
		c.cur = k
		first = 0
		if k > 0 {
			first = c.ends[k-1]
		}
	}
	return c.chunks[k], j - first
}

// bytesAt returns element k of a binary array.
func bytesAt(a arrow.Array, k int) ([]byte, error) {
	switch a := a.(type) {
	case *array.Binary:
		return a.Value(k), nil
	case *array.LargeBinary:
		return a.Value(k), nil
	case *array.FixedSizeBinary:
		return a.Value(k), nil
	case *array.BinaryView:
		return a.Value(k), nil
	case *array.Dictionary:
		return bytesAt(a.Dictionary(), a.GetValueIndex(k))
	}
	return nil, fmt.Errorf("type %s is not binary", a.DataType())
}

// sparkImageAt returns the image of element k of a struct of Spark's image
// schema, transposed from rows of interleaved channels (H x W x C) to
// Caffe's channel planes (C x H x W) in the reader's buffer, and its shape.
func (r *Reader) sparkImageAt(a arrow.Array, k int, fi *fileInfo) (pix []byte, c, h, w int, err error) {
	st, ok := a.(*array.Struct)
	if !ok {
		return nil, 0, 0, 0, fmt.Errorf("type %s is not a struct", a.DataType())
	}
	is := fi.image
	var v [4]float64
	for j, f := range []int{is.height, is.width, is.channels, is.mode} {
		if f < 0 {
			continue
		}
		child := st.Field(f)
		if child.IsNull(k) {
			return nil, 0, 0, 0, fmt.Errorf("field %s is null", st.DataType().(*arrow.StructType).Field(f).Name)
		}
		if v[j], err = numberAt(child, k); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	h, w, c = int(v[0]), int(v[1]), int(v[2])
	if is.mode >= 0 && v[3] != 0 && v[3] != 16 && v[3] != 24 {
		return nil, 0, 0, 0, fmt.Errorf("mode %v is not an 8-bit OpenCV type (CV_8UC1 0, CV_8UC3 16, CV_8UC4 24)", v[3])
	}
	if h <= 0 || w <= 0 || (c != 1 && c != 3 && c != 4) || h > 1<<16 || w > 1<<16 {
		return nil, 0, 0, 0, fmt.Errorf("image of height %d, width %d and %d channels", h, w, c)
	}
	if fi.c > 0 && (c != fi.c || h != fi.h || w != fi.w) {
		return nil, 0, 0, 0, fmt.Errorf("image of %dx%dx%d, but the shape is set to %dx%dx%d", c, h, w, fi.c, fi.h, fi.w)
	}
	if st.Field(is.data).IsNull(k) {
		return nil, 0, 0, 0, fmt.Errorf("field data is null")
	}
	src, err := bytesAt(st.Field(is.data), k)
	if err != nil {
		return nil, 0, 0, 0, err
	}
	if len(src) != h*w*c {
		return nil, 0, 0, 0, fmt.Errorf("%d bytes of data for an image of height %d, width %d and %d channels", len(src), h, w, c)
	}
	if cap(r.chw) < len(src) {
		r.chw = make([]byte, len(src))
	}
	dst := r.chw[:len(src)]
	plane := h * w
	for ch := 0; ch < c; ch++ {
		out := dst[ch*plane : (ch+1)*plane]
		for p := range out {
			out[p] = src[p*c+ch]
		}
	}
	return dst, c, h, w, nil
}

// floatsAt returns element k of a list of float or double, converted to
// float32 (into the reader's buffer for doubles).
func (r *Reader) floatsAt(a arrow.Array, k int) ([]float32, error) {
	var start, end int64
	var vals arrow.Array
	switch a := a.(type) {
	case *array.List:
		start, end = a.ValueOffsets(k)
		vals = a.ListValues()
	case *array.LargeList:
		start, end = a.ValueOffsets(k)
		vals = a.ListValues()
	case *array.FixedSizeList:
		start, end = a.ValueOffsets(k)
		vals = a.ListValues()
	default:
		return nil, fmt.Errorf("type %s is not a list", a.DataType())
	}
	if start < 0 || end < start || end > int64(vals.Len()) {
		return nil, fmt.Errorf("list offsets [%d, %d) outside %d values", start, end, vals.Len())
	}
	if vals.NullN() > 0 {
		for i := start; i < end; i++ {
			if vals.IsNull(int(i)) {
				return nil, fmt.Errorf("element %d of the list is null", i-start)
			}
		}
	}
	switch v := vals.(type) {
	case *array.Float32:
		return v.Float32Values()[start:end:end], nil
	case *array.Float64:
		src := v.Float64Values()[start:end]
		r.f32 = r.f32[:0]
		for _, x := range src {
			r.f32 = append(r.f32, float32(x))
		}
		return r.f32, nil
	}
	return nil, fmt.Errorf("list elements of type %s are not float or double", vals.DataType())
}

// numberAt returns element k of a numeric array.
func numberAt(a arrow.Array, k int) (float64, error) {
	var v float64
	switch a := a.(type) {
	case *array.Int8:
		v = float64(a.Value(k))
	case *array.Int16:
		v = float64(a.Value(k))
	case *array.Int32:
		v = float64(a.Value(k))
	case *array.Int64:
		v = float64(a.Value(k))
	case *array.Uint8:
		v = float64(a.Value(k))
	case *array.Uint16:
		v = float64(a.Value(k))
	case *array.Uint32:
		v = float64(a.Value(k))
	case *array.Uint64:
		v = float64(a.Value(k))
	case *array.Float32:
		v = float64(a.Value(k))
	case *array.Float64:
		v = a.Value(k)
	default:
		return 0, fmt.Errorf("type %s is not a number", a.DataType())
	}
	return v, nil
}
