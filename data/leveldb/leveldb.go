// Package leveldb reads and writes Caffe's LevelDB databases through
// github.com/syndtr/goleveldb, a pure-Go LevelDB, with the options Caffe's
// db_leveldb.cpp uses (64 KiB blocks, snappy compression).
//
// A DB indexes its keys once at Open, so record i can be addressed by
// number; a Reader reads records sequentially with one iterator and seeks
// only when asked for a record out of sequence.
package leveldb

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/syndtr/goleveldb/leveldb"
	"github.com/syndtr/goleveldb/leveldb/iterator"
	"github.com/syndtr/goleveldb/leveldb/opt"
)

// blockSize is Caffe's options.block_size for LevelDB.
const blockSize = 65536

// DB is a LevelDB database opened read-only, with its keys indexed.
type DB struct {
	path string
	db   *leveldb.DB
	keys []byte // all keys, concatenated
	offs []int  // key i is keys[offs[i]:offs[i+1]]
}

// Open opens the LevelDB database in directory path read-only and indexes
// its keys in key order.
func Open(path string) (*DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("leveldb: open %s: %w", path, err)
	}
	db, err := leveldb.OpenFile(path, &opt.Options{ReadOnly: true, ErrorIfMissing: true, BlockSize: blockSize})
	if err != nil {
		return nil, fmt.Errorf("leveldb: open %s: %w", path, err)
	}
	d := &DB{path: path, db: db, offs: []int{0}}
	it := db.NewIterator(nil, &opt.ReadOptions{DontFillCache: true})
	for it.Next() {
		d.keys = append(d.keys, it.Key()...)
		d.offs = append(d.offs, len(d.keys))
	}
	it.Release()
	if err := it.Error(); err != nil {
		db.Close()
		return nil, fmt.Errorf("leveldb: %s: reading keys: %w", path, err)
	}
	return d, nil
}

// Path returns the database directory.
func (d *DB) Path() string { return d.path }

// Len returns the number of records.
func (d *DB) Len() int { return len(d.offs) - 1 }

// Key returns key i (in key order).
func (d *DB) Key(i int) []byte { return d.keys[d.offs[i]:d.offs[i+1]:d.offs[i+1]] }

// Close closes the database. Readers must be closed first.
func (d *DB) Close() error { return d.db.Close() }

// Reader reads records by index with one iterator. It is not safe for
// concurrent use; make one per goroutine.
type Reader struct {
	d   *DB
	it  iterator.Iterator
	cur int // index the iterator is at, -1 before the first
}

// NewReader returns a reader positioned before the first record.
func (d *DB) NewReader() *Reader {
	return &Reader{d: d, it: d.db.NewIterator(nil, nil), cur: -1}
}

// maxSkip is how many records ahead a Reader steps rather than seeks.
const maxSkip = 16

// Get returns record i. The slices are valid until the next Get or Close.
func (r *Reader) Get(i int) (key, value []byte, err error) {
	if i < 0 || i >= r.d.Len() {
		return nil, nil, fmt.Errorf("leveldb: %s: record %d out of range [0, %d)", r.d.path, i, r.d.Len())
	}
	want := r.d.Key(i)
	ok := false
	switch {
	case r.cur == i:
		ok = r.it.Valid()
	case r.cur >= 0 && i > r.cur && i-r.cur <= maxSkip:
		// A few records ahead (a strided shard): step instead of seeking.
		for ok = true; ok && r.cur < i; r.cur++ {
			ok = r.it.Next()
		}
	default:
		ok = r.it.Seek(want)
	}
	if !ok || !bytes.Equal(r.it.Key(), want) {
		r.cur = -1
		if err := r.it.Error(); err != nil {
			return nil, nil, fmt.Errorf("leveldb: %s: record %d: %w", r.d.path, i, err)
		}
		return nil, nil, fmt.Errorf("leveldb: %s: record %d (key %q) has gone: was the database changed while open?", r.d.path, i, want)
	}
	r.cur = i
	return r.it.Key(), r.it.Value(), nil
}

// Close releases the iterator.
func (r *Reader) Close() error {
	r.it.Release()
	return nil
}

// Writer writes a new LevelDB database in batches, as Caffe's converters
// do (one write batch per 1000 records).
type Writer struct {
	path  string
	db    *leveldb.DB
	batch leveldb.Batch
	n     int
}

// batchRecords is how many records Caffe's converters put per transaction.
const batchRecords = 1000

// Create makes a new database in directory path; like Caffe's db::NEW it
// fails if the path exists.
func Create(path string) (*Writer, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("leveldb: create %s: already exists (remove it or choose another output path)", path)
	}
	db, err := leveldb.OpenFile(path, &opt.Options{
		ErrorIfExist: true, BlockSize: blockSize,
		WriteBuffer: 64 << 20, Compression: opt.SnappyCompression,
	})
	if err != nil {
		return nil, fmt.Errorf("leveldb: create %s: %w", path, err)
	}
	return &Writer{path: path, db: db}, nil
}

// Put adds a record.
func (w *Writer) Put(key, value []byte) error {
	if w.db == nil {
		return errors.New("leveldb: Put after Close")
	}
	w.batch.Put(key, value)
	w.n++
	if w.batch.Len() >= batchRecords {
		return w.flush()
	}
	return nil
}

// Len returns the number of records put so far.
func (w *Writer) Len() int { return w.n }

func (w *Writer) flush() error {
	if w.batch.Len() == 0 {
		return nil
	}
	if err := w.db.Write(&w.batch, nil); err != nil {
		return fmt.Errorf("leveldb: write %s: %w", w.path, err)
	}
	w.batch.Reset()
	return nil
}

// Close writes what is pending and closes the database.
func (w *Writer) Close() error {
	if w.db == nil {
		return nil
	}
	err := w.flush()
	if cerr := w.db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("leveldb: close %s: %w", w.path, cerr)
	}
	w.db = nil
	return err
}

// Abort closes the database and removes it.
func (w *Writer) Abort() {
	if w.db != nil {
		w.db.Close()
		w.db = nil
	}
	os.RemoveAll(w.path)
}
