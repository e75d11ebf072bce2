package lmdb

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// DB is a read-only LMDB database opened by Open or FromBytes. Its records
// are indexed in key order: record i is found without a search, and the
// slices Get returns point into the read-only map (valid until Close; they
// must not be modified). A DB is safe for concurrent use by many goroutines.
type DB struct {
	path  string
	buf   []byte // the mapped (or read) data file
	unmap func() error
	psize int
	m     meta
	recs  []record
}

// record locates one key/value pair inside buf.
type record struct {
	val  int64
	key  int64
	vlen uint32
	klen uint16
}

// Stat describes the main database, as mdb_stat prints it.
type Stat struct {
	PageSize      int
	Depth         int
	BranchPages   uint64
	LeafPages     uint64
	OverflowPages uint64
	Entries       uint64
	// LastPage is the number of the last page in use; TxnID the id of the
	// transaction that wrote the current meta page.
	LastPage uint64
	TxnID    uint64
	// MapSize is the map size recorded in the meta page.
	MapSize uint64
}

// ErrCorrupt is wrapped by every error that reports a malformed database.
var ErrCorrupt = errors.New("lmdb: malformed database")

// DataFile returns the data file of the LMDB environment at path: path
// itself when it is a regular file (an environment opened with
// MDB_NOSUBDIR), else path/data.mdb.
func DataFile(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() {
		return filepath.Join(path, "data.mdb"), nil
	}
	return path, nil
}

// Open maps the LMDB environment at path (a directory holding data.mdb, as
// Caffe writes, or the data file itself) read-only and indexes its records.
// It neither needs nor creates lock.mdb: the database must not be written
// while it is open.
func Open(path string) (*DB, error) {
	file, err := DataFile(path)
	if err != nil {
		return nil, fmt.Errorf("lmdb: open %s: %w", path, err)
	}
	buf, unmap, err := mapFile(file)
	if err != nil {
		return nil, fmt.Errorf("lmdb: open %s: %w", file, err)
	}
	db, err := load(path, buf)
	if err != nil {
		unmap()
		return nil, err
	}
	db.unmap = unmap
	return db, nil
}

// FromBytes indexes an LMDB data file held in memory; name is used in
// errors. The DB keeps b.
func FromBytes(name string, b []byte) (*DB, error) { return load(name, b) }

// Close releases the map. Slices returned by Get become invalid.
func (db *DB) Close() error {
	db.recs = nil
	db.buf = nil
	if db.unmap != nil {
		u := db.unmap
		db.unmap = nil
		return u()
	}
	return nil
}

// Path returns the path the database was opened with.
func (db *DB) Path() string { return db.path }

// Len returns the number of records.
func (db *DB) Len() int { return len(db.recs) }

// Get returns record i's key and value, in key order. The slices point into
// the read-only map. It panics if i is out of range, as a slice index does.
func (db *DB) Get(i int) (key, value []byte) {
	r := &db.recs[i]
	return db.buf[r.key : r.key+int64(r.klen) : r.key+int64(r.klen)],
		db.buf[r.val : r.val+int64(r.vlen) : r.val+int64(r.vlen)]
}

// Key returns record i's key.
func (db *DB) Key(i int) []byte { k, _ := db.Get(i); return k }

// Value returns record i's value.
func (db *DB) Value(i int) []byte { _, v := db.Get(i); return v }

// Stat returns the main database's statistics from the current meta page.
func (db *DB) Stat() Stat {
	return Stat{
		PageSize:      db.psize,
		Depth:         int(db.m.main.depth),
		BranchPages:   db.m.main.branchPages,
		LeafPages:     db.m.main.leafPages,
		OverflowPages: db.m.main.overflowPages,
		Entries:       db.m.main.entries,
		LastPage:      db.m.lastPage,
		TxnID:         db.m.txnID,
		MapSize:       db.m.mapSize,
	}
}

func corrupt(name, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrCorrupt, name, fmt.Sprintf(format, args...))
}

// readMeta decodes and checks the meta page at offset off.
func readMeta(name string, buf []byte, off, which int) (meta, error) {
	if len(buf) < off+pageHeaderSize+metaSize {
		return meta{}, corrupt(name, "file is %d bytes, too short for meta page %d", len(buf), which)
	}
	p := buf[off:]
	le := binary.LittleEndian
	if le.Uint16(p[10:])&pMeta == 0 {
		return meta{}, corrupt(name, "page %d is not a meta page (not an LMDB data file?)", which)
	}
	if mg := le.Uint32(p[offMagic:]); mg != magic {
		return meta{}, corrupt(name, "meta page %d has magic %#x, want %#x (not an LMDB data file?)", which, mg, magic)
	}
	if v := le.Uint32(p[offVersion:]); v != dataVersion {
		return meta{}, corrupt(name, "meta page %d has format version %d, want %d", which, v, dataVersion)
	}
	return meta{
		mapSize:  le.Uint64(p[offMapSize:]),
		free:     readDB(p[offFreeDB:]),
		main:     readDB(p[offMainDB:]),
		lastPage: le.Uint64(p[offLastPage:]),
		txnID:    le.Uint64(p[offTxnID:]),
	}, nil
}

func load(name string, buf []byte) (*DB, error) {
	m0, err := readMeta(name, buf, 0, 0)
	if err != nil {
		return nil, err
	}
	psize := int(m0.free.pad)
	if psize < minPageSize || psize > maxPageSize || psize&(psize-1) != 0 {
		return nil, corrupt(name, "page size %d is not a power of two in [%d, %d]", psize, minPageSize, maxPageSize)
	}
	m1, err := readMeta(name, buf, psize, 1)
	if err != nil {
		return nil, err
	}
	m := m0
	if m1.txnID > m0.txnID {
		m = m1
	}
	npages := uint64(len(buf) / psize)
	if m.lastPage >= npages {
		return nil, corrupt(name, "meta page says the last page is %d, but the file has only %d pages (truncated?)", m.lastPage, npages)
	}
	if f := m.main.flags; f&(mdbDupSort|mdbDupFixed|mdbIntegerDup|mdbReverseDup) != 0 {
		return nil, fmt.Errorf("lmdb: %s: the main database has DUPSORT flags %#x, which are not supported (Caffe's databases have one value per key)", name, f)
	}
	db := &DB{path: name, buf: buf, psize: psize, m: m}
	if err := db.index(npages); err != nil {
		return nil, err
	}
	return db, nil
}

// index walks the main B+tree in key order and records where every key and
// value lies. It checks every bound it relies on, so a corrupt file is an
// error, never a panic or an endless loop: each page may be visited once,
// depth is bounded, and node offsets and overflow runs must lie in the file.
func (db *DB) index(npages uint64) error {
	name, psize, m := db.path, db.psize, db.m.main
	if m.root == invalidPage {
		if m.entries != 0 {
			return corrupt(name, "empty tree but %d entries", m.entries)
		}
		return nil
	}
	if m.depth == 0 || m.depth > maxDepth {
		return corrupt(name, "tree depth %d out of range [1, %d]", m.depth, maxDepth)
	}
	if m.entries > uint64(len(db.buf)/(nodeHeaderSize+2)) {
		return corrupt(name, "%d entries cannot fit in a %d-byte file", m.entries, len(db.buf))
	}
	db.recs = make([]record, 0, m.entries)
	visited := make([]uint64, (npages+63)/64)
	type frame struct {
		pgno  uint64
		depth int
	}
	stack := []frame{{m.root, 1}}
	le := binary.LittleEndian
	checkOrder := m.flags&(mdbReverseKey|mdbIntegerKey) == 0
	var prevKey []byte
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if f.pgno < numMetas || f.pgno >= npages {
			return corrupt(name, "page number %d out of range [2, %d)", f.pgno, npages)
		}
		if visited[f.pgno/64]&(1<<(f.pgno%64)) != 0 {
			return corrupt(name, "page %d is reached twice (cycle in the tree)", f.pgno)
		}
		visited[f.pgno/64] |= 1 << (f.pgno % 64)
		off := int(f.pgno) * psize
		p := db.buf[off : off+psize]
		if got := le.Uint64(p[0:]); got != f.pgno {
			return corrupt(name, "page %d has page number %d in its header", f.pgno, got)
		}
		flags := le.Uint16(p[10:])
		lower, upper := int(le.Uint16(p[12:])), int(le.Uint16(p[14:]))
		if lower < pageHeaderSize || lower > upper || upper > psize || (lower-pageHeaderSize)%2 != 0 {
			return corrupt(name, "page %d has free-space bounds %d..%d outside the page", f.pgno, lower, upper)
		}
		n := (lower - pageHeaderSize) / 2
		switch {
		case flags&(pLeaf2|pSubP) != 0:
			return fmt.Errorf("lmdb: %s: page %d has flags %#x (DUPFIXED/sub-pages), which are not supported", name, f.pgno, flags)
		case flags&pBranch != 0:
			if f.depth >= int(m.depth) {
				return corrupt(name, "branch page %d at depth %d, but the tree has depth %d", f.pgno, f.depth, m.depth)
			}
			if n == 0 {
				return corrupt(name, "branch page %d has no nodes", f.pgno)
			}
			// Push children in reverse so they pop in key order.
			for i := n - 1; i >= 0; i-- {
				no := int(le.Uint16(p[pageHeaderSize+2*i:]))
				if no < upper || no+nodeHeaderSize > psize {
					return corrupt(name, "branch page %d node %d at offset %d outside the node area %d..%d", f.pgno, i, no, upper, psize)
				}
				child := uint64(le.Uint16(p[no:])) | uint64(le.Uint16(p[no+2:]))<<16 | uint64(le.Uint16(p[no+4:]))<<32
				stack = append(stack, frame{child, f.depth + 1})
			}
		case flags&pLeaf != 0:
			if f.depth != int(m.depth) {
				return corrupt(name, "leaf page %d at depth %d, but the tree has depth %d", f.pgno, f.depth, m.depth)
			}
			for i := 0; i < n; i++ {
				no := int(le.Uint16(p[pageHeaderSize+2*i:]))
				if no < upper || no+nodeHeaderSize > psize {
					return corrupt(name, "leaf page %d node %d at offset %d outside the node area %d..%d", f.pgno, i, no, upper, psize)
				}
				dsize := uint64(le.Uint16(p[no:])) | uint64(le.Uint16(p[no+2:]))<<16
				nflags := le.Uint16(p[no+4:])
				ksize := int(le.Uint16(p[no+6:]))
				kstart := no + nodeHeaderSize
				if kstart+ksize > psize {
					return corrupt(name, "leaf page %d node %d: key of %d bytes runs past the page", f.pgno, i, ksize)
				}
				rec := record{key: int64(off + kstart), klen: uint16(ksize), vlen: uint32(dsize)}
				switch {
				case nflags&(fSubData|fDupData) != 0:
					return fmt.Errorf("lmdb: %s: leaf page %d node %d has flags %#x (named sub-database or duplicates), which are not supported", name, f.pgno, i, nflags)
				case nflags&fBigData != 0:
					if kstart+ksize+8 > psize {
						return corrupt(name, "leaf page %d node %d: overflow page number runs past the page", f.pgno, i)
					}
					ov := le.Uint64(p[kstart+ksize:])
					if ov < numMetas || ov >= npages {
						return corrupt(name, "leaf page %d node %d: overflow page %d out of range [2, %d)", f.pgno, i, ov, npages)
					}
					op := db.buf[int(ov)*psize:]
					if le.Uint64(op[0:]) != ov || le.Uint16(op[10:])&pOverflow == 0 {
						return corrupt(name, "leaf page %d node %d: page %d is not an overflow page", f.pgno, i, ov)
					}
					count := uint64(le.Uint32(op[12:]))
					if count == 0 || count > npages-ov || dsize+pageHeaderSize > count*uint64(psize) {
						return corrupt(name, "leaf page %d node %d: overflow run of %d pages at page %d cannot hold %d bytes in a %d-page file", f.pgno, i, count, ov, dsize, npages)
					}
					rec.val = int64(ov)*int64(psize) + pageHeaderSize
				default:
					if uint64(kstart+ksize)+dsize > uint64(psize) {
						return corrupt(name, "leaf page %d node %d: value of %d bytes runs past the page", f.pgno, i, dsize)
					}
					rec.val = int64(off + kstart + ksize)
				}
				if uint64(len(db.recs)) >= m.entries {
					return corrupt(name, "the tree holds more records than the %d entries the meta page counts", m.entries)
				}
				key := db.buf[rec.key : rec.key+int64(rec.klen)]
				if checkOrder && len(db.recs) > 0 && bytes.Compare(prevKey, key) >= 0 {
					return corrupt(name, "keys out of order at record %d: %q after %q", len(db.recs), key, prevKey)
				}
				prevKey = key
				db.recs = append(db.recs, rec)
			}
		default:
			return corrupt(name, "page %d has flags %#x: neither a branch nor a leaf page", f.pgno, flags)
		}
	}
	if uint64(len(db.recs)) != m.entries {
		return corrupt(name, "the meta page counts %d entries, the tree holds %d", m.entries, len(db.recs))
	}
	return nil
}
