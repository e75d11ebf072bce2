package data

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Example is one decoded record: C x H x W values, as bytes (U8) or floats
// (F32), and a label. Sources fill it reusing its buffers; the slices are
// valid until the next Read into the same Example.
type Example struct {
	C, H, W int
	U8      []byte
	F32     []float32
	Label   float32

	datum    Datum
	img, tmp Image
}

// Source is a dataset of records addressed by index 0..Len()-1.
//
// Read is called by one goroutine at a time per Reader; a Source hands out
// Readers so that several loaders (workers) can read it concurrently.
type Source interface {
	// Name names the source in errors (a file or database path).
	Name() string
	// Len returns the number of records.
	Len() int
	// NewReader returns a reader for one goroutine.
	NewReader() SourceReader
	// Close releases the source; its readers must be closed first.
	Close() error
}

// SourceReader decodes records of a Source.
type SourceReader interface {
	// Read decodes record i into ex. Errors name the source and the record.
	Read(i int, ex *Example) error
	Close() error
}

// DatumSource reads Caffe Datum records from an LMDB or LevelDB database.
type DatumSource struct {
	db   DB
	mode ColorMode
}

// OpenDatumSource opens the database at path; encoded images are decoded
// with mode (Transformer.DecodeMode).
func OpenDatumSource(b Backend, path string, mode ColorMode) (*DatumSource, error) {
	db, err := OpenDB(b, path)
	if err != nil {
		return nil, err
	}
	if db.Len() == 0 {
		db.Close()
		return nil, fmt.Errorf("%s: the %v database is empty", path, b)
	}
	return &DatumSource{db: db, mode: mode}, nil
}

// Name returns the database path.
func (s *DatumSource) Name() string { return s.db.Path() }

// Len returns the number of records.
func (s *DatumSource) Len() int { return s.db.Len() }

// Close releases the database.
func (s *DatumSource) Close() error { return s.db.Close() }

// NewReader returns a reader.
func (s *DatumSource) NewReader() SourceReader {
	return &datumReader{s: s, r: s.db.NewReader()}
}

type datumReader struct {
	s *DatumSource
	r DBReader
}

func (r *datumReader) Close() error { return r.r.Close() }

func (r *datumReader) Read(i int, ex *Example) error {
	key, val, err := r.r.Get(i)
	if err != nil {
		return err
	}
	if err := r.decode(val, ex); err != nil {
		return fmt.Errorf("%s: record %d (key %q): %w", r.s.db.Path(), i, key, err)
	}
	return nil
}

func (r *datumReader) decode(val []byte, ex *Example) error {
	d := &ex.datum
	if err := d.Unmarshal(val); err != nil {
		return err
	}
	ex.Label = float32(d.Label)
	ex.U8, ex.F32 = nil, nil
	switch {
	case d.Encoded:
		if err := DecodeImage(d.Data, r.s.mode, &ex.img); err != nil {
			return err
		}
		ex.C, ex.H, ex.W, ex.U8 = ex.img.C, ex.img.H, ex.img.W, ex.img.Pix
		return nil
	case len(d.Data) > 0:
		ex.U8 = d.Data
	default:
		ex.F32 = d.FloatData
	}
	ex.C, ex.H, ex.W = d.Channels, d.Height, d.Width
	n := len(ex.U8) + len(ex.F32)
	if ex.C <= 0 || ex.H <= 0 || ex.W <= 0 || n != ex.C*ex.H*ex.W {
		return fmt.Errorf("Datum has shape %dx%dx%d but %d values", ex.C, ex.H, ex.W, n)
	}
	return nil
}

// ListEntry is one line of an ImageData list file.
type ListEntry struct {
	Path  string
	Label int
	Line  int
}

// ReadList reads an ImageData / convert_imageset list file: one "path
// label" per line, the label after the last space (so paths may contain
// spaces). Blank lines are skipped; a line without a label or with a label
// that is not an integer is an error naming the file and line.
func ReadList(path string) ([]ListEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []ListEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i <= 0 {
			return nil, fmt.Errorf("%s:%d: want \"path label\", got %q", path, n, line)
		}
		label, err := strconv.ParseInt(line[i+1:], 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: label %q is not an integer", path, n, line[i+1:])
		}
		out = append(out, ListEntry{Path: line[:i], Label: int(label), Line: n})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// ListSource reads the images of an ImageData list file, as Caffe's
// ImageDataLayer: each is read from root+path (plain concatenation, as
// Caffe does), decoded in color or gray, and resized to newH x newW when
// both are positive.
type ListSource struct {
	list       string
	root       string
	entries    []ListEntry
	newH, newW int
	color      bool
}

// OpenListSource reads the list file.
func OpenListSource(list, root string, newH, newW int, isColor bool) (*ListSource, error) {
	if (newH == 0) != (newW == 0) || newH < 0 || newW < 0 {
		return nil, fmt.Errorf("new_height %d and new_width %d: set both or neither", newH, newW)
	}
	entries, err := ReadList(list)
	if err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%s: the list has no images", list)
	}
	return &ListSource{list: list, root: root, entries: entries, newH: newH, newW: newW, color: isColor}, nil
}

// Name returns the list file's path.
func (s *ListSource) Name() string { return s.list }

// Len returns the number of images.
func (s *ListSource) Len() int { return len(s.entries) }

// Entries returns the list's entries.
func (s *ListSource) Entries() []ListEntry { return s.entries }

// Close does nothing.
func (s *ListSource) Close() error { return nil }

// NewReader returns a reader.
func (s *ListSource) NewReader() SourceReader { return listReader{s} }

type listReader struct{ s *ListSource }

func (listReader) Close() error { return nil }

func (r listReader) Read(i int, ex *Example) error {
	e := r.s.entries[i]
	p := r.s.root + e.Path
	if r.s.root != "" && !strings.HasSuffix(r.s.root, "/") && !filepath.IsAbs(e.Path) {
		// Caffe concatenates root_folder and the path as strings; a
		// root without a trailing slash is almost always meant as a
		// directory, so join them.
		p = filepath.Join(r.s.root, e.Path)
	}
	if err := ReadImageFile(p, r.s.newH, r.s.newW, r.s.color, &ex.img, &ex.tmp); err != nil {
		return fmt.Errorf("%s:%d: %w", r.s.list, e.Line, err)
	}
	ex.C, ex.H, ex.W, ex.U8, ex.F32 = ex.img.C, ex.img.H, ex.img.W, ex.img.Pix, nil
	ex.Label = float32(e.Label)
	return nil
}

// Where names record i in errors: the database and the record's key.
func (r *datumReader) Where(i int) string {
	if key, _, err := r.r.Get(i); err == nil {
		return fmt.Sprintf("%s: record %d (key %q)", r.s.db.Path(), i, key)
	}
	return fmt.Sprintf("%s: record %d", r.s.db.Path(), i)
}

// Where names entry i in errors: the list file, its line and the image.
func (r listReader) Where(i int) string {
	e := r.s.entries[i]
	return fmt.Sprintf("%s:%d (%s)", r.s.list, e.Line, e.Path)
}
