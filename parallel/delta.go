package parallel

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/sparknet/sparknet/internal/lewire"
)

// ErrBadDelta is wrapped by every error about a delta that fails
// validation: such a delta is dropped, never averaged in.
var ErrBadDelta = errors.New("bad delta")

// WorkerStats describes a worker's round.
type WorkerStats struct {
	// Steps is the number of training iterations the worker ran.
	Steps int
	// Loss is the mean training loss over those iterations; Smoothed is the
	// worker solver's smoothed loss (Caffe's displayed loss) at the end; LR
	// is the learning rate of the last iteration.
	Loss, Smoothed, LR float32
	// Compute is the time of the iterations alone; Total the whole round on
	// the worker (loading the weights, iterating, encoding the result).
	Compute, Total time.Duration
	// CPU is the CPU time of the iterations on the worker's own OS thread
	// (Linux; 0 elsewhere): all of their compute when the compute pool has
	// one thread, and unlike Compute not inflated by other processes
	// taking turns on the CPU.
	CPU time.Duration
}

// Delta is what a worker sends back after a round: its result (weights or
// a compressed update, see Codec), optionally its solver history (momentum
// mode average), and its statistics.
type Delta struct {
	// Run identifies the run; Round is the round's index and Iter the
	// global iteration at its start.
	Run         string
	Round, Iter int
	// Partition is the worker's data partition, of Partitions.
	Partition, Partitions int
	// Codec says which payload field is set.
	Codec Codec
	// Counts is the number of elements of each parameter blob.
	Counts []int

	// Weights (CodecNone) holds the worker's weights, one slice per blob.
	// A Delta from a local Worker aliases the worker's parameters: it is
	// valid until the worker's next round.
	Weights [][]float32
	// Half (CodecFP16, CodecBF16) or Int8 and Scales (CodecInt8, one scale
	// per blob) hold the encoded update, all blobs concatenated.
	Half   []uint16
	Int8   []int8
	Scales []float32
	// History is the worker's solver history (Caffe's history_ order: one
	// set of blobs shaped like Counts, two for AdaDelta and Adam), sent in
	// momentum mode average; nil otherwise. It may alias the worker's.
	History [][]float32

	Stats WorkerStats

	// checked is set when the values were checked finite (by Decode).
	checked bool
}

const (
	deltaMagic   = "SNDL"
	deltaVersion = 1
	// deltaHeader is the size of the fixed part of the header.
	deltaHeader = 4 + 2 + 1 + 1 + 8 + 8 + 4*5 + 4*3 + 8*3 + 2
	// maxRunID is the longest run id a delta carries.
	maxRunID = 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// params returns the total number of parameters.
func (d *Delta) params() int {
	n := 0
	for _, c := range d.Counts {
		n += c
	}
	return n
}

// historyElems returns the number of history values.
func (d *Delta) historyElems() int {
	n := 0
	for _, h := range d.History {
		n += len(h)
	}
	return n
}

// EncodedSize returns the size of the delta's binary encoding, in bytes:
// what it costs on the wire.
func (d *Delta) EncodedSize() int {
	return deltaHeader + len(d.Run) + 4*len(d.Counts) +
		d.Codec.PayloadBytes(d.params(), len(d.Counts)) + 4*d.historyElems() + 4
}

// MarshalBinary encodes the delta (see AppendBinary).
func (d *Delta) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, d.EncodedSize()))
}

// AppendBinary appends the delta's binary encoding to b: a little-endian
// header (magic "SNDL", version, codec, flags, round, iteration, partition,
// partitions, steps, blob and history-blob counts, statistics, run id),
// the blob sizes, the payload, the history, and a CRC-32C of everything
// before it.
func (d *Delta) AppendBinary(b []byte) ([]byte, error) {
	if err := d.checkShape(); err != nil {
		return nil, err
	}
	if len(d.Run) > maxRunID {
		return nil, fmt.Errorf("%w: run id of %d bytes (at most %d)", ErrBadDelta, len(d.Run), maxRunID)
	}
	start := len(b)
	le := binary.LittleEndian
	b = append(b, deltaMagic...)
	b = le.AppendUint16(b, deltaVersion)
	var flags byte
	if d.History != nil {
		flags |= 1
	}
	b = append(b, byte(d.Codec), flags)
	b = le.AppendUint64(b, uint64(d.Round))
	b = le.AppendUint64(b, uint64(d.Iter))
	b = le.AppendUint32(b, uint32(d.Partition))
	b = le.AppendUint32(b, uint32(d.Partitions))
	b = le.AppendUint32(b, uint32(d.Stats.Steps))
	b = le.AppendUint32(b, uint32(len(d.Counts)))
	b = le.AppendUint32(b, uint32(len(d.History)))
	b = le.AppendUint32(b, math.Float32bits(d.Stats.Loss))
	b = le.AppendUint32(b, math.Float32bits(d.Stats.Smoothed))
	b = le.AppendUint32(b, math.Float32bits(d.Stats.LR))
	b = le.AppendUint64(b, uint64(d.Stats.Compute))
	b = le.AppendUint64(b, uint64(d.Stats.Total))
	b = le.AppendUint64(b, uint64(d.Stats.CPU))
	b = le.AppendUint16(b, uint16(len(d.Run)))
	b = append(b, d.Run...)
	for _, c := range d.Counts {
		b = le.AppendUint32(b, uint32(c))
	}
	switch d.Codec {
	case CodecNone:
		for _, w := range d.Weights {
			b = lewire.AppendFloat32s(b, w)
		}
	case CodecFP16, CodecBF16:
		b = lewire.AppendUint16s(b, d.Half)
	case CodecInt8:
		b = lewire.AppendFloat32s(b, d.Scales)
		b = lewire.AppendInt8s(b, d.Int8)
	}
	for _, h := range d.History {
		b = lewire.AppendFloat32s(b, h)
	}
	return le.AppendUint32(b, crc32.Checksum(b[start:], castagnoli)), nil
}

// checkShape checks that the payload matches Counts and the codec.
func (d *Delta) checkShape() error {
	if d.Codec >= numCodecs {
		return fmt.Errorf("%w: unknown codec %d", ErrBadDelta, d.Codec)
	}
	n := d.params()
	switch d.Codec {
	case CodecNone:
		if len(d.Weights) != len(d.Counts) {
			return fmt.Errorf("%w: %d weight blobs for %d parameter blobs", ErrBadDelta, len(d.Weights), len(d.Counts))
		}
		for i, w := range d.Weights {
			if len(w) != d.Counts[i] {
				return fmt.Errorf("%w: weight blob %d has %d values, want %d", ErrBadDelta, i, len(w), d.Counts[i])
			}
		}
	case CodecFP16, CodecBF16:
		if len(d.Half) != n {
			return fmt.Errorf("%w: %d %s values for %d parameters", ErrBadDelta, len(d.Half), d.Codec, n)
		}
	case CodecInt8:
		if len(d.Int8) != n || len(d.Scales) != len(d.Counts) {
			return fmt.Errorf("%w: %d int8 values and %d scales for %d parameters in %d blobs", ErrBadDelta, len(d.Int8), len(d.Scales), n, len(d.Counts))
		}
	}
	if d.History != nil {
		if len(d.Counts) == 0 || len(d.History)%len(d.Counts) != 0 {
			return fmt.Errorf("%w: %d history blobs for %d parameter blobs", ErrBadDelta, len(d.History), len(d.Counts))
		}
		for i, h := range d.History {
			if want := d.Counts[i%len(d.Counts)]; len(h) != want {
				return fmt.Errorf("%w: history blob %d has %d values, want %d", ErrBadDelta, i, len(h), want)
			}
		}
	}
	return nil
}

// checkValues checks that every value is finite (and the int8 scales
// non-negative), so a diverged or corrupted worker cannot poison the
// average.
func (d *Delta) checkValues() error {
	for i, w := range d.Weights {
		if j := nonFinite(w); j >= 0 {
			return fmt.Errorf("%w: weight %d of blob %d is %v", ErrBadDelta, j, i, w[j])
		}
	}
	switch d.Codec {
	case CodecFP16:
		for j, h := range d.Half {
			if !halfFinite(h) {
				return fmt.Errorf("%w: fp16 update %d is not finite", ErrBadDelta, j)
			}
		}
	case CodecBF16:
		for j, h := range d.Half {
			if !bf16Finite(h) {
				return fmt.Errorf("%w: bf16 update %d is not finite", ErrBadDelta, j)
			}
		}
	case CodecInt8:
		for i, s := range d.Scales {
			if !(s >= 0) || math.IsInf(float64(s), 0) {
				return fmt.Errorf("%w: int8 scale of blob %d is %v", ErrBadDelta, i, s)
			}
		}
	}
	for i, h := range d.History {
		if j := nonFinite(h); j >= 0 {
			return fmt.Errorf("%w: history value %d of blob %d is %v", ErrBadDelta, j, i, h[j])
		}
	}
	if err := d.checkStats(); err != nil {
		return err
	}
	d.checked = true
	return nil
}

// checkStats checks that the statistics are finite.
func (d *Delta) checkStats() error {
	for _, v := range []float32{d.Stats.Loss, d.Stats.Smoothed, d.Stats.LR} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: statistics hold a non-finite value (loss %v, smoothed %v, lr %v)", ErrBadDelta, d.Stats.Loss, d.Stats.Smoothed, d.Stats.LR)
		}
	}
	return nil
}

// nonFinite returns the index of the first NaN or infinity in v, or -1.
func nonFinite(v []float32) int {
	for j, x := range v {
		if math.Float32bits(x)&0x7f800000 == 0x7f800000 {
			return j
		}
	}
	return -1
}

// Expect is what a driver expects of the deltas of a round; Decode rejects
// a delta that does not match.
type Expect struct {
	Run         string
	Round, Iter int
	Partitions  int
	Codec       Codec
	Layout      Layout
	// HistorySets is the number of history sets expected per parameter
	// blob (0: no history).
	HistorySets int
}

// size returns the exact encoded size of a matching delta.
func (e Expect) size() int {
	n, blobs := e.Layout.Len(), e.Layout.Blobs()
	return deltaHeader + len(e.Run) + 4*blobs + e.Codec.PayloadBytes(n, blobs) + 4*n*e.HistorySets + 4
}

// Decode parses and validates a delta: its length must be exactly what the
// expected layout and codec give (so a corrupt size field cannot make it
// allocate), the checksum must match, the header must name the expected
// run, round, partition count, codec and blob sizes, and every value must
// be finite. Errors wrap ErrBadDelta. The returned delta's float32 weights
// may alias b (when b holds them aligned, on a little-endian machine): b
// must stay unchanged while the delta is in use.
func Decode(b []byte, e Expect) (*Delta, error) {
	if want := e.size(); len(b) != want {
		return nil, fmt.Errorf("%w: %d bytes, a delta of run %q with %d parameters (%s) has %d", ErrBadDelta, len(b), e.Run, e.Layout.Len(), e.Codec, want)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, fmt.Errorf("%w: checksum mismatch (corrupted in transit)", ErrBadDelta)
	}
	if string(b[:4]) != deltaMagic {
		return nil, fmt.Errorf("%w: not a delta (magic %q)", ErrBadDelta, b[:4])
	}
	r := reader{b: body[4:]}
	if v := r.u16(); v != deltaVersion {
		return nil, fmt.Errorf("%w: version %d, this sparknet reads version %d", ErrBadDelta, v, deltaVersion)
	}
	d := &Delta{Codec: Codec(r.u8())}
	flags := r.u8()
	d.Round = int(r.u64())
	d.Iter = int(r.u64())
	d.Partition = int(r.u32())
	d.Partitions = int(r.u32())
	d.Stats.Steps = int(r.u32())
	blobs, hist := int(r.u32()), int(r.u32())
	d.Stats.Loss = math.Float32frombits(r.u32())
	d.Stats.Smoothed = math.Float32frombits(r.u32())
	d.Stats.LR = math.Float32frombits(r.u32())
	d.Stats.Compute = time.Duration(r.u64())
	d.Stats.Total = time.Duration(r.u64())
	d.Stats.CPU = time.Duration(r.u64())
	d.Run = string(r.bytes(int(r.u16())))
	switch {
	case d.Run != e.Run:
		return nil, fmt.Errorf("%w: from run %q, not this run %q", ErrBadDelta, d.Run, e.Run)
	case d.Codec != e.Codec:
		return nil, fmt.Errorf("%w: codec %s, this run uses %s", ErrBadDelta, d.Codec, e.Codec)
	case d.Round != e.Round || d.Iter != e.Iter:
		return nil, fmt.Errorf("%w: for round %d (iteration %d), this is round %d (iteration %d)", ErrBadDelta, d.Round, d.Iter, e.Round, e.Iter)
	case d.Partitions != e.Partitions || d.Partition < 0 || d.Partition >= d.Partitions:
		return nil, fmt.Errorf("%w: partition %d of %d, this run has %d partitions", ErrBadDelta, d.Partition, d.Partitions, e.Partitions)
	case blobs != e.Layout.Blobs():
		return nil, fmt.Errorf("%w: %d parameter blobs, the model has %d", ErrBadDelta, blobs, e.Layout.Blobs())
	case flags&1 == 0 && hist != 0, flags&1 != 0 && hist != e.HistorySets*blobs, flags&1 == 0 && e.HistorySets != 0:
		return nil, fmt.Errorf("%w: %d history blobs, want %d", ErrBadDelta, hist, e.HistorySets*blobs)
	}
	d.Counts = make([]int, blobs)
	for i := range d.Counts {
		d.Counts[i] = int(r.u32())
	}
	if err := e.Layout.CheckCounts(d.Counts); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadDelta, err)
	}
	n := e.Layout.Len()
	switch d.Codec {
	case CodecNone:
		flat := r.floatsNoCopy(n)
		d.Weights = make([][]float32, blobs)
		for i := range d.Weights {
			d.Weights[i] = e.Layout.Segment(flat, i)
		}
	case CodecFP16, CodecBF16:
		d.Half = r.uint16s(n)
	case CodecInt8:
		d.Scales = r.floats(blobs)
		d.Int8 = make([]int8, n)
		lewire.Int8s(d.Int8, r.bytes(n))
	}
	if hist > 0 {
		flat := r.floats(n * e.HistorySets)
		d.History = make([][]float32, hist)
		for i := range d.History {
			k := i % blobs
			off := (i/blobs)*n + e.Layout.Offset(k)
			d.History[i] = flat[off : off+e.Layout.Count(k) : off+e.Layout.Count(k)]
		}
	}
	if r.err != nil || len(r.b) != 0 {
		return nil, fmt.Errorf("%w: malformed (%d bytes left over)", ErrBadDelta, len(r.b))
	}
	if err := d.checkValues(); err != nil {
		return nil, fmt.Errorf("partition %d: %w", d.Partition, err)
	}
	return d, nil
}

// reader consumes little-endian values; reading past the end sets err and
// yields zeros.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || n > len(r.b) {
		r.err = errors.New("truncated")
		r.b = nil
		return make([]byte, max(n, 0))
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8() uint8   { return r.bytes(1)[0] }
func (r *reader) u16() uint16 { return binary.LittleEndian.Uint16(r.bytes(2)) }
func (r *reader) u32() uint32 { return binary.LittleEndian.Uint32(r.bytes(4)) }
func (r *reader) u64() uint64 { return binary.LittleEndian.Uint64(r.bytes(8)) }

func (r *reader) floats(n int) []float32 {
	v := make([]float32, n)
	lewire.Float32s(v, r.bytes(4*n))
	return v
}

// floatsNoCopy is floats, aliasing the buffer when its values are
// aligned and stored as this machine stores float32.
func (r *reader) floatsNoCopy(n int) []float32 {
	v, ok := lewire.AliasFloat32s(r.b, n)
	if !ok {
		return r.floats(n)
	}
	r.b = r.b[4*n:]
	return v
}

func (r *reader) uint16s(n int) []uint16 {
	v := make([]uint16, n)
	lewire.Uint16s(v, r.bytes(2*n))
	return v
}
