package data

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/data/leveldb"
	"github.com/sparknet/sparknet/data/lmdb"
)

// Backend names a key-value database format for Datum records.
type Backend int

// The backends of Caffe's DataParameter.
const (
	LevelDB Backend = iota
	LMDB
)

// String returns "leveldb" or "lmdb".
func (b Backend) String() string {
	switch b {
	case LevelDB:
		return "leveldb"
	case LMDB:
		return "lmdb"
	}
	return fmt.Sprintf("Backend(%d)", int(b))
}

// ParseBackend parses "lmdb" or "leveldb" (case ignored), the values of
// Caffe's -backend flag.
func ParseBackend(s string) (Backend, error) {
	switch strings.ToLower(s) {
	case "lmdb":
		return LMDB, nil
	case "leveldb":
		return LevelDB, nil
	}
	return 0, fmt.Errorf("unknown backend %q (want lmdb or leveldb)", s)
}

// BackendOf converts DataParameter's backend.
func BackendOf(b pb.DataParameter_DB) (Backend, error) {
	switch b {
	case pb.DataParameter_LMDB:
		return LMDB, nil
	case pb.DataParameter_LEVELDB:
		return LevelDB, nil
	}
	return 0, fmt.Errorf("unknown data_param backend %v", b)
}

// DB is an opened, read-only database of records in key order, addressed
// by index. It is shared: OpenDB returns the same DB to every caller that
// opens the same path (so K workers map one LMDB file once, and LevelDB's
// lock is taken once), and the last Close releases it.
type DB interface {
	// Path returns the database path.
	Path() string
	// Backend returns the database format.
	Backend() Backend
	// Len returns the number of records.
	Len() int
	// NewReader returns a reader for use by one goroutine.
	NewReader() DBReader
	// Close releases this handle.
	Close() error
}

// DBReader reads records of a DB by index.
type DBReader interface {
	// Get returns record i's key and value, valid until the next Get or
	// Close, and not to be modified.
	Get(i int) (key, value []byte, err error)
	Close() error
}

// DBWriter writes a new database. Records must be put in ascending key
// order (LMDB's writer requires it; Caffe's converters produce it).
type DBWriter interface {
	Put(key, value []byte) error
	// Len returns the number of records put.
	Len() int
	// Close finishes the database.
	Close() error
	// Abort removes the unfinished database.
	Abort()
}

// CreateDB starts a new database at path (which must not exist).
func CreateDB(b Backend, path string) (DBWriter, error) {
	switch b {
	case LMDB:
		return lmdb.Create(path)
	case LevelDB:
		return leveldb.Create(path)
	}
	return nil, fmt.Errorf("unknown backend %v", b)
}

type dbKey struct {
	b    Backend
	path string
}

// shared is one opened database and its reference count.
type shared struct {
	key  dbKey
	refs int
	lm   *lmdb.DB
	ldb  *leveldb.DB
}

var (
	openMu sync.Mutex
	opened = map[dbKey]*shared{}
)

// handle is one caller's reference to a shared database.
type handle struct {
	s      *shared
	closed bool
}

// OpenDB opens the database at path read-only, or returns another
// reference to it if it is open already.
func OpenDB(b Backend, path string) (DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	k := dbKey{b, abs}
	openMu.Lock()
	defer openMu.Unlock()
	if s := opened[k]; s != nil {
		s.refs++
		return &handle{s: s}, nil
	}
	s := &shared{key: k, refs: 1}
	switch b {
	case LMDB:
		s.lm, err = lmdb.Open(path)
	case LevelDB:
		s.ldb, err = leveldb.Open(path)
	default:
		err = fmt.Errorf("unknown backend %v", b)
	}
	if err != nil {
		return nil, err
	}
	opened[k] = s
	return &handle{s: s}, nil
}

func (h *handle) Path() string {
	if h.s.lm != nil {
		return h.s.lm.Path()
	}
	return h.s.ldb.Path()
}

func (h *handle) Backend() Backend { return h.s.key.b }

func (h *handle) Len() int {
	if h.s.lm != nil {
		return h.s.lm.Len()
	}
	return h.s.ldb.Len()
}

func (h *handle) NewReader() DBReader {
	if h.s.lm != nil {
		return lmdbReader{h.s.lm}
	}
	return h.s.ldb.NewReader()
}

func (h *handle) Close() error {
	openMu.Lock()
	defer openMu.Unlock()
	if h.closed {
		return nil
	}
	h.closed = true
	h.s.refs--
	if h.s.refs > 0 {
		return nil
	}
	delete(opened, h.s.key)
	if h.s.lm != nil {
		return h.s.lm.Close()
	}
	return h.s.ldb.Close()
}

type lmdbReader struct{ db *lmdb.DB }

func (r lmdbReader) Get(i int) (key, value []byte, err error) {
	if i < 0 || i >= r.db.Len() {
		return nil, nil, fmt.Errorf("lmdb: %s: record %d out of range [0, %d)", r.db.Path(), i, r.db.Len())
	}
	k, v := r.db.Get(i)
	return k, v, nil
}

func (lmdbReader) Close() error { return nil }
