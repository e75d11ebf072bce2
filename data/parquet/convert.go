package parquet

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/sparknet/sparknet/data"
)

// FromDB writes the Datum records of a Caffe database (LMDB or LevelDB) as
// a Parquet dataset at out (Writer), in key order. The first record
// decides the layout: encoded images go to a binary column as they are
// (the JPEG/PNG file), raw pixels to a binary column with the shape in the
// file metadata, float_data to a list<float> column; every record must
// then have the same kind and, unless encoded, the same shape. o's
// Floats and shape are set from the records.
func FromDB(ctx context.Context, b data.Backend, db, out string, o WriteOptions) (wr Written, err error) {
	d, err := data.OpenDB(b, db)
	if err != nil {
		return wr, err
	}
	defer d.Close()
	if d.Len() == 0 {
		return wr, fmt.Errorf("%s: the %v database is empty", db, b)
	}
	r := d.NewReader()
	defer r.Close()
	var (
		w        *Writer
		dt       data.Datum
		first    kind
		fc, fh   int
		fw       int
		firstKey string
	)
	defer func() {
		if w != nil && err != nil {
			w.Abort()
		}
	}()
	for i := 0; i < d.Len(); i++ {
		if i%1024 == 0 {
			if err = ctx.Err(); err != nil {
				return wr, err
			}
		}
		key, val, gerr := r.Get(i)
		if gerr != nil {
			return wr, gerr
		}
		if err = dt.Unmarshal(val); err != nil {
			return wr, fmt.Errorf("%s: record %d (key %q): %w", db, i, key, err)
		}
		k := raw
		switch {
		case dt.Encoded:
			k = encoded
		case len(dt.Data) == 0 && len(dt.FloatData) > 0:
			k = floats
		}
		n := len(dt.Data) + len(dt.FloatData)
		if k != encoded && (dt.Channels <= 0 || dt.Height <= 0 || dt.Width <= 0 || n != dt.Channels*dt.Height*dt.Width) {
			return wr, fmt.Errorf("%s: record %d (key %q): Datum has shape %dx%dx%d but %d values", db, i, key, dt.Channels, dt.Height, dt.Width, n)
		}
		if w == nil {
			first, firstKey = k, string(key)
			fc, fh, fw = dt.Channels, dt.Height, dt.Width
			o.Floats = k == floats
			o.C, o.H, o.W = 0, 0, 0
			if k != encoded {
				o.C, o.H, o.W = fc, fh, fw
			}
			if w, err = Create(out, o); err != nil {
				return wr, err
			}
		} else if k != first || k != encoded && (dt.Channels != fc || dt.Height != fh || dt.Width != fw) {
			return wr, fmt.Errorf("%s: record %d (key %q) is %s, but the first (key %q) is %s: a Parquet dataset holds one kind and shape",
				db, i, key, describe(k, dt.Channels, dt.Height, dt.Width), firstKey, describe(first, fc, fh, fw))
		}
		if k == floats {
			err = w.WriteFloats(dt.FloatData, dt.Label)
		} else {
			err = w.WriteImage(dt.Data, dt.Label)
		}
		if err != nil {
			return wr, err
		}
	}
	if err = w.Close(); err != nil {
		return wr, err
	}
	return w.Written(), nil
}

func describe(k kind, c, h, w int) string {
	switch k {
	case encoded:
		return "an encoded image"
	case floats:
		return fmt.Sprintf("%dx%dx%d float features", c, h, w)
	}
	return fmt.Sprintf("a %dx%dx%d raw image", c, h, w)
}

// ToDB writes the rows of the Parquet dataset src (a file or folder, read
// as Open does with o) to a new Caffe database at out, in order, with keys
// %08d of the row index (wider when needed, so that key order is row
// order): encoded images as encoded Datums (not decoded), raw images as
// Datum.data, features as float_data. Labels must be integers in int32's
// range. It returns the number of records written.
func ToDB(ctx context.Context, src string, o Options, out string, b data.Backend) (n int, err error) {
	s, err := Open(src, o)
	if err != nil {
		return 0, err
	}
	defer s.Close()
	r := s.NewRowReader()
	defer r.Close()
	w, err := data.CreateDB(b, out)
	if err != nil {
		return 0, err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()
	width := max(8, len(strconv.Itoa(s.Len()-1)))
	var (
		row Row
		dt  data.Datum
		key []byte
		val []byte
	)
	for i := 0; i < s.Len(); i++ {
		if i%1024 == 0 {
			if err = ctx.Err(); err != nil {
				return 0, err
			}
		}
		if err = r.ReadRow(i, &row); err != nil {
			return 0, err
		}
		if row.Label != math.Trunc(row.Label) || row.Label < math.MinInt32 || row.Label > math.MaxInt32 {
			return 0, fmt.Errorf("%s: label %v is not an int32, as a Datum's label must be", r.Where(i), row.Label)
		}
		dt = data.Datum{Label: int32(row.Label)}
		switch {
		case row.Encoded:
			dt.Data, dt.Encoded = row.Bytes, true
		case row.Floats != nil:
			dt.Channels, dt.Height, dt.Width, dt.FloatData = row.C, row.H, row.W, row.Floats
		default:
			dt.Channels, dt.Height, dt.Width, dt.Data = row.C, row.H, row.W, row.Bytes
		}
		key = fmt.Appendf(key[:0], "%0*d", width, i)
		val = dt.AppendMarshal(val[:0])
		if err = w.Put(key, val); err != nil {
			return 0, fmt.Errorf("%s: %w", out, err)
		}
	}
	if err = w.Close(); err != nil {
		return 0, fmt.Errorf("%s: %w", out, err)
	}
	return s.Len(), nil
}
