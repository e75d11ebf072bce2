// Package lmdb reads and writes LMDB databases in pure Go, without cgo.
//
// It covers what Caffe uses LMDB for: one unnamed database of byte keys and
// byte values (no DUPSORT, no named sub-databases), written once in key
// order by a converter and then read many times by training processes.
//
// The reader maps the data file read-only, walks the B+tree once at Open
// and keeps an index of where every record's key and value lie in the map,
// so record i is found in O(1) and returned without copying. The writer
// bulk-loads a B+tree from keys given in ascending order, page by page, and
// writes the meta pages last, so a database that was not finished is
// rejected by every LMDB reader instead of looking truncated.
//
// The on-disk format is LMDB's (liblmdb 0.9, 64-bit): two meta pages
// (0 and 1; the one with the larger transaction id is current), then branch
// pages, leaf pages and overflow pages. Every page starts with a 16-byte
// header: page number (uint64), a pad (uint16), flags (uint16), and either
// lower/upper free-space bounds (uint16 each) or, on the first page of an
// overflow run, the run's page count (uint32). Branch and leaf pages hold
// an array of uint16 node offsets after the header and the nodes themselves
// packed from the end of the page downwards. A node is an 8-byte header
// (lo, hi, flags, key size; all uint16) followed by the key and then, on a
// leaf, the value or, for a value too big for a page, the uint64 number of
// the first page of its overflow run. A branch node's lo/hi/flags hold its
// child's page number; the key of a branch page's first node is ignored.
// All integers are little-endian (the byte order of the machines that write
// them; LMDB files are not portable across byte orders and neither are
// ours).
//
// Databases this package writes are read by liblmdb (Caffe, mdb_dump,
// mdb_stat), and databases liblmdb writes are read by this package; the
// tests check both directions against the real tools when they are
// installed.
package lmdb

import "encoding/binary"

// Layout constants of liblmdb 0.9 on 64-bit machines.
const (
	pageHeaderSize = 16 // PAGEHDRSZ
	nodeHeaderSize = 8  // NODESIZE
	metaSize       = 136
	numMetas       = 2

	magic       = 0xBEEFC0DE // MDB_MAGIC
	dataVersion = 1          // MDB_DATA_VERSION

	// DefaultPageSize is the page size the writer uses: the OS page size of
	// the machines Caffe runs on.
	DefaultPageSize = 4096
	minPageSize     = 256
	maxPageSize     = 65536

	// MaxKeySize is liblmdb's default MDB_MAXKEYSIZE.
	MaxKeySize = 511

	invalidPage = ^uint64(0) // P_INVALID

	// maxDepth bounds the tree depth a reader accepts (liblmdb's cursor
	// stack holds 32 levels).
	maxDepth = 32
)

// Page flags.
const (
	pBranch   = 0x01
	pLeaf     = 0x02
	pOverflow = 0x04
	pMeta     = 0x08
	pLeaf2    = 0x20
	pSubP     = 0x40
)

// Node flags.
const (
	fBigData = 0x01
	fSubData = 0x02
	fDupData = 0x04
)

// Database flags (MDB_db.md_flags).
const (
	mdbReverseKey = 0x02
	mdbDupSort    = 0x04
	mdbIntegerKey = 0x08
	mdbDupFixed   = 0x10
	mdbIntegerDup = 0x20
	mdbReverseDup = 0x40
)

// Offsets inside a meta page (after its 16-byte page header).
const (
	offMagic    = pageHeaderSize + 0
	offVersion  = pageHeaderSize + 4
	offAddress  = pageHeaderSize + 8
	offMapSize  = pageHeaderSize + 16
	offFreeDB   = pageHeaderSize + 24
	offMainDB   = pageHeaderSize + 24 + dbSize
	offLastPage = pageHeaderSize + 24 + 2*dbSize
	offTxnID    = pageHeaderSize + 24 + 2*dbSize + 8
	dbSize      = 48
)

// dbInfo is MDB_db: the description of one B+tree.
type dbInfo struct {
	pad           uint32 // page size in the free DB of a meta page
	flags         uint16
	depth         uint16
	branchPages   uint64
	leafPages     uint64
	overflowPages uint64
	entries       uint64
	root          uint64
}

func readDB(b []byte) dbInfo {
	le := binary.LittleEndian
	return dbInfo{
		pad:           le.Uint32(b[0:]),
		flags:         le.Uint16(b[4:]),
		depth:         le.Uint16(b[6:]),
		branchPages:   le.Uint64(b[8:]),
		leafPages:     le.Uint64(b[16:]),
		overflowPages: le.Uint64(b[24:]),
		entries:       le.Uint64(b[32:]),
		root:          le.Uint64(b[40:]),
	}
}

func (d dbInfo) put(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[0:], d.pad)
	le.PutUint16(b[4:], d.flags)
	le.PutUint16(b[6:], d.depth)
	le.PutUint64(b[8:], d.branchPages)
	le.PutUint64(b[16:], d.leafPages)
	le.PutUint64(b[24:], d.overflowPages)
	le.PutUint64(b[32:], d.entries)
	le.PutUint64(b[40:], d.root)
}

// meta is MDB_meta.
type meta struct {
	mapSize  uint64
	free     dbInfo
	main     dbInfo
	lastPage uint64
	txnID    uint64
}

// overflowPages is OVPAGES: the number of pages an overflow run of a value
// of n bytes occupies.
func overflowPages(n, psize int) int { return (pageHeaderSize-1+n)/psize + 1 }

// nodeMax is me_nodemax: the largest leaf node (header, key and value) kept
// inline on a page; a bigger value goes to an overflow run.
func nodeMax(psize int) int { return ((psize-pageHeaderSize)/2)&^1 - 2 }

func even(n int) int { return (n + 1) &^ 1 }
