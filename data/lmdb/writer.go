package lmdb

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
)

// Writer bulk-loads a new LMDB database from records given in ascending key
// order, as Caffe's converters produce them. Pages are filled completely and
// written as soon as they are full, so memory use is a few pages per tree
// level whatever the database size. Close writes the meta pages last; until
// then the file is not a valid LMDB database.
//
// A Writer is not safe for concurrent use.
type Writer struct {
	dir, file string
	f         *os.File
	bw        *bufio.Writer
	psize     int
	nodemax   int
	next      uint64 // next free page number
	leaf      pageBuf
	leafKey   []byte // first key of the current leaf page
	levels    []*branchLevel
	lastKey   []byte
	entries   uint64
	nLeaf     uint64
	nBranch   uint64
	nOverflow uint64
	err       error // sticky
	closed    bool
	page      []byte // scratch page for overflow headers and rewrites
}

// pageBuf assembles one branch or leaf page.
type pageBuf struct {
	b            []byte
	lower, upper int
	n            int
}

func (p *pageBuf) reset(flags uint16) {
	clear(p.b)
	binary.LittleEndian.PutUint16(p.b[10:], flags)
	p.lower, p.upper, p.n = pageHeaderSize, len(p.b), 0
}

// room reports whether a node of size nsz (already even) fits.
func (p *pageBuf) room(nsz int) bool { return p.upper-p.lower >= nsz+2 }

// add reserves a node of size nsz and returns it.
func (p *pageBuf) add(nsz int) []byte {
	p.upper -= nsz
	binary.LittleEndian.PutUint16(p.b[p.lower:], uint16(p.upper))
	p.lower += 2
	p.n++
	return p.b[p.upper : p.upper+nsz]
}

func (p *pageBuf) finish(pgno uint64) []byte {
	le := binary.LittleEndian
	le.PutUint64(p.b[0:], pgno)
	le.PutUint16(p.b[12:], uint16(p.lower))
	le.PutUint16(p.b[14:], uint16(p.upper))
	return p.b
}

// branchEntry is one child of a branch page: the first key of its subtree
// (the key written for every node but a page's first) and its page number.
type branchEntry struct {
	key  []byte
	pgno uint64
}

// branchLevel is the page being filled at one level above the leaves, and
// the previous page of that level (kept so Close can rebalance a last page
// left with a single child).
type branchLevel struct {
	cur      []branchEntry
	curSize  int
	prev     []branchEntry
	prevPgno uint64
	hasPrev  bool
}

func branchNodeSize(i int, key []byte) int {
	if i == 0 {
		return nodeHeaderSize
	}
	return even(nodeHeaderSize + len(key))
}

// Create makes the directory dir and starts a new database in dir/data.mdb.
// Like Caffe's db::NEW mode, it refuses a dir that already exists, so no
// existing database is ever overwritten.
func Create(dir string) (*Writer, error) {
	if _, err := os.Lstat(dir); err == nil {
		return nil, fmt.Errorf("lmdb: create %s: already exists (remove it or choose another output path)", dir)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return nil, fmt.Errorf("lmdb: create %s: %w", dir, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil {
		return nil, fmt.Errorf("lmdb: create %s: %w", dir, err)
	}
	file := filepath.Join(dir, "data.mdb")
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		os.Remove(dir)
		return nil, fmt.Errorf("lmdb: create %s: %w", file, err)
	}
	psize := DefaultPageSize
	w := &Writer{
		dir: dir, file: file, f: f,
		bw:      bufio.NewWriterSize(f, 1<<20),
		psize:   psize,
		nodemax: nodeMax(psize),
		next:    numMetas,
		leaf:    pageBuf{b: make([]byte, psize)},
		page:    make([]byte, psize),
	}
	w.leaf.reset(pLeaf)
	// Reserve the two meta pages; they are written by Close.
	if _, err := w.bw.Write(make([]byte, numMetas*psize)); err != nil {
		w.Abort()
		return nil, fmt.Errorf("lmdb: create %s: %w", file, err)
	}
	return w, nil
}

// Len returns the number of records put so far.
func (w *Writer) Len() int { return int(w.entries) }

// Put appends a record. Keys must be non-empty, at most MaxKeySize bytes,
// and strictly ascending in byte order (the order LMDB keeps them in).
// The writer copies what it keeps; key and value may be reused.
func (w *Writer) Put(key, value []byte) error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return errors.New("lmdb: Put after Close")
	}
	switch {
	case len(key) == 0:
		return fmt.Errorf("lmdb: %s: empty key at record %d", w.dir, w.entries)
	case len(key) > MaxKeySize:
		return fmt.Errorf("lmdb: %s: key %.40q... of %d bytes at record %d is longer than LMDB's limit of %d", w.dir, key, len(key), w.entries, MaxKeySize)
	case uint64(len(value)) > 1<<32-1:
		return fmt.Errorf("lmdb: %s: value of %d bytes at record %d exceeds 4 GiB", w.dir, len(value), w.entries)
	case w.entries > 0 && bytes.Compare(key, w.lastKey) <= 0:
		return fmt.Errorf("lmdb: %s: key %q at record %d is not greater than the previous key %q (records must be added in ascending key order)", w.dir, key, w.entries, w.lastKey)
	}
	big := nodeHeaderSize+len(key)+len(value) > w.nodemax
	nsz := even(nodeHeaderSize + len(key) + len(value))
	if big {
		nsz = even(nodeHeaderSize + len(key) + 8)
	}
	if !w.leaf.room(nsz) {
		if err := w.flushLeaf(); err != nil {
			return w.fail(err)
		}
	}
	var ov uint64
	if big {
		var err error
		if ov, err = w.writeOverflow(value); err != nil {
			return w.fail(err)
		}
	}
	if w.leaf.n == 0 {
		w.leafKey = append(w.leafKey[:0], key...)
	}
	node := w.leaf.add(nsz)
	le := binary.LittleEndian
	le.PutUint16(node[0:], uint16(len(value)))
	le.PutUint16(node[2:], uint16(len(value)>>16))
	le.PutUint16(node[6:], uint16(len(key)))
	copy(node[nodeHeaderSize:], key)
	if big {
		le.PutUint16(node[4:], fBigData)
		le.PutUint64(node[nodeHeaderSize+len(key):], ov)
	} else {
		copy(node[nodeHeaderSize+len(key):], value)
	}
	w.lastKey = append(w.lastKey[:0], key...)
	w.entries++
	return nil
}

func (w *Writer) fail(err error) error {
	w.err = fmt.Errorf("lmdb: write %s: %w", w.file, err)
	return w.err
}

// writeOverflow writes value to a new run of overflow pages.
func (w *Writer) writeOverflow(value []byte) (uint64, error) {
	n := overflowPages(len(value), w.psize)
	pgno := w.next
	w.next += uint64(n)
	w.nOverflow += uint64(n)
	h := w.page[:pageHeaderSize]
	clear(h)
	le := binary.LittleEndian
	le.PutUint64(h[0:], pgno)
	le.PutUint16(h[10:], pOverflow)
	le.PutUint32(h[12:], uint32(n))
	if _, err := w.bw.Write(h); err != nil {
		return 0, err
	}
	if _, err := w.bw.Write(value); err != nil {
		return 0, err
	}
	pad := n*w.psize - pageHeaderSize - len(value)
	for pad > 0 {
		k := min(pad, len(w.page))
		clear(w.page[:k])
		if _, err := w.bw.Write(w.page[:k]); err != nil {
			return 0, err
		}
		pad -= k
	}
	return pgno, nil
}

func (w *Writer) flushLeaf() error {
	pgno := w.next
	w.next++
	w.nLeaf++
	if _, err := w.bw.Write(w.leaf.finish(pgno)); err != nil {
		return err
	}
	key := append([]byte(nil), w.leafKey...)
	w.leaf.reset(pLeaf)
	return w.addBranch(0, branchEntry{key, pgno})
}

// addBranch adds a child to the branch page being filled at level lv,
// writing that page first if the child does not fit.
func (w *Writer) addBranch(lv int, e branchEntry) error {
	if lv == len(w.levels) {
		w.levels = append(w.levels, &branchLevel{})
	}
	l := w.levels[lv]
	nsz := branchNodeSize(len(l.cur), e.key) + 2
	if pageHeaderSize+l.curSize+nsz > w.psize {
		pgno, err := w.writeBranch(l.cur, invalidPage)
		if err != nil {
			return err
		}
		l.prev, l.prevPgno, l.hasPrev = l.cur, pgno, true
		first := l.cur[0].key
		l.cur, l.curSize = nil, 0
		if err := w.addBranch(lv+1, branchEntry{first, pgno}); err != nil {
			return err
		}
		nsz = branchNodeSize(0, e.key) + 2
	}
	l.cur = append(l.cur, e)
	l.curSize += nsz
	return nil
}

// writeBranch serializes a branch page; with at == invalidPage it takes
// the next page number and appends, else it rewrites page at in place.
func (w *Writer) writeBranch(entries []branchEntry, at uint64) (uint64, error) {
	p := pageBuf{b: w.page}
	p.reset(pBranch)
	le := binary.LittleEndian
	for i, e := range entries {
		nsz := branchNodeSize(i, e.key)
		if !p.room(nsz) {
			return 0, fmt.Errorf("internal error: branch page overflow")
		}
		node := p.add(nsz)
		le.PutUint16(node[0:], uint16(e.pgno))
		le.PutUint16(node[2:], uint16(e.pgno>>16))
		le.PutUint16(node[4:], uint16(e.pgno>>32))
		if i > 0 {
			le.PutUint16(node[6:], uint16(len(e.key)))
			copy(node[nodeHeaderSize:], e.key)
		}
	}
	if at != invalidPage {
		_, err := w.f.WriteAt(p.finish(at), int64(at)*int64(w.psize))
		return at, err
	}
	pgno := w.next
	w.next++
	w.nBranch++
	_, err := w.bw.Write(p.finish(pgno))
	return pgno, err
}

// Close finishes the tree, writes the meta pages, syncs and closes the
// file. After an error the database is removed (as Abort does).
func (w *Writer) Close() error {
	if w.closed {
		return w.err
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	if err := w.finish(); err != nil {
		w.fail(err)
		w.Abort()
		return w.err
	}
	w.closed = true
	return nil
}

func (w *Writer) finish() error {
	root, depth := invalidPage, 0
	if w.entries > 0 {
		if err := w.flushLeaf(); err != nil {
			return err
		}
		depth = 1
		// Close the levels bottom-up. addBranch may append a level while
		// an earlier one is closed, so the bound is re-read every time.
		for lv := 0; lv < len(w.levels); lv++ {
			l := w.levels[lv]
			if !l.hasPrev && lv == len(w.levels)-1 {
				if len(l.cur) == 1 {
					// A single child is the root itself.
					root = l.cur[0].pgno
					break
				}
				pgno, err := w.writeBranch(l.cur, invalidPage)
				if err != nil {
					return err
				}
				root, depth = pgno, depth+1
				break
			}
			if len(l.cur) == 1 && l.hasPrev {
				// Move the previous page's last child over so that no
				// branch page is left with one child (liblmdb keeps at
				// least two), and rewrite the previous page in place.
				last := l.prev[len(l.prev)-1]
				l.prev = l.prev[:len(l.prev)-1]
				l.cur = append([]branchEntry{last}, l.cur...)
				if err := w.bw.Flush(); err != nil {
					return err
				}
				if _, err := w.writeBranch(l.prev, l.prevPgno); err != nil {
					return err
				}
			}
			pgno, err := w.writeBranch(l.cur, invalidPage)
			if err != nil {
				return err
			}
			depth++
			if err := w.addBranch(lv+1, branchEntry{l.cur[0].key, pgno}); err != nil {
				return err
			}
		}
	}
	if err := w.bw.Flush(); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	size := w.next * uint64(w.psize)
	const mib = 1 << 20
	m := meta{
		mapSize:  max(mib, (size+mib-1)/mib*mib),
		free:     dbInfo{pad: uint32(w.psize), flags: mdbIntegerKey, root: invalidPage},
		main:     dbInfo{root: invalidPage},
		lastPage: numMetas - 1,
		txnID:    0,
	}
	// Meta page 0 describes the empty database of transaction 0 and meta
	// page 1 the loaded one of transaction 1, as liblmdb leaves them after
	// creating an environment and committing one write transaction.
	if err := w.writeMeta(0, m); err != nil {
		return err
	}
	m.main = dbInfo{
		depth: uint16(depth), branchPages: w.nBranch, leafPages: w.nLeaf,
		overflowPages: w.nOverflow, entries: w.entries, root: root,
	}
	m.lastPage, m.txnID = w.next-1, 1
	if err := w.writeMeta(1, m); err != nil {
		return err
	}
	if err := w.f.Sync(); err != nil {
		return err
	}
	if err := w.f.Close(); err != nil {
		return err
	}
	w.f = nil
	return syncDir(w.dir)
}

func (w *Writer) writeMeta(pgno uint64, m meta) error {
	b := w.page
	clear(b)
	le := binary.LittleEndian
	le.PutUint64(b[0:], pgno)
	le.PutUint16(b[10:], pMeta)
	le.PutUint32(b[offMagic:], magic)
	le.PutUint32(b[offVersion:], dataVersion)
	le.PutUint64(b[offMapSize:], m.mapSize)
	m.free.put(b[offFreeDB:])
	m.main.put(b[offMainDB:])
	le.PutUint64(b[offLastPage:], m.lastPage)
	le.PutUint64(b[offTxnID:], m.txnID)
	_, err := w.f.WriteAt(b, int64(pgno)*int64(w.psize))
	return err
}

// Abort stops writing and removes the database directory Create made.
func (w *Writer) Abort() {
	w.closed = true
	if w.f != nil {
		w.f.Close()
		w.f = nil
	}
	os.Remove(w.file)
	os.Remove(w.dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	// Some file systems cannot sync a directory (EINVAL); the data file
	// itself has been synced by then.
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

var _ io.Closer = (*Writer)(nil)
