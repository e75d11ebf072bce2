package caffe

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sparknet/sparknet/caffe/pb"
)

// The binary reader streams a message from an io.Reader instead of reading
// the whole file and then unmarshalling it, so that the weights of a large
// .caffemodel exist in memory once (as the []float32 of the BlobProtos), not
// twice (file bytes + decoded floats). Messages that can hold blobs
// (NetParameter, LayerParameter, V1/V0 layers, SolverState, BlobProto,
// BlobProtoVector) are walked field by field; BlobProto's packed value
// fields are decoded straight from the stream into their final slices; every
// other field is read as raw bytes (small) and merged with proto.Unmarshal,
// so the result is exactly what proto.Unmarshal gives for the same bytes,
// unknown fields included.
//
// No allocation is larger than the input can justify: a length prefix is
// checked against the bytes left in its enclosing message and (when the
// input size is known) in the input before anything is allocated, and with
// an unknown input size, buffers grow only as bytes actually arrive.

// CorruptError is a binary protobuf file that cannot be decoded.
type CorruptError struct {
	Offset int64 // byte offset where decoding failed
	Msg    string
	Err    error // ErrTruncated for input that ends early, else nil
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("corrupt protobuf at byte %d: %s", e.Offset, e.Msg)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// ErrTruncated is wrapped by the error for binary input that ends in the
// middle of a field.
var ErrTruncated = errors.New("unexpected end of input (file truncated?)")

const chunkBytes = 1 << 16

type decoder struct {
	r     *bufio.Reader
	off   int64 // bytes consumed
	limit int64 // total input size, or -1 when unknown
	buf   []byte
	chunk []byte
}

// decodeBinary decodes the binary message in r (of the given size, or -1 if
// unknown) into m, which is reset first.
func decodeBinary(r io.Reader, size int64, m proto.Message) error {
	proto.Reset(m)
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReaderSize(r, chunkBytes)
	}
	d := &decoder{r: br, limit: size}
	if err := d.message(m.ProtoReflect(), -1, 0); err != nil {
		return err
	}
	if err := proto.CheckInitialized(m); err != nil {
		return &CorruptError{Offset: d.off, Msg: err.Error()}
	}
	return nil
}

func (d *decoder) corrupt(at int64, format string, args ...any) error {
	return &CorruptError{Offset: at, Msg: fmt.Sprintf(format, args...)}
}

func (d *decoder) truncated() error {
	return &CorruptError{Offset: d.off, Msg: ErrTruncated.Error(), Err: ErrTruncated}
}

// remaining returns how many bytes may still be read before end (a message
// end offset, or -1 for the end of input), or -1 if unknown.
func (d *decoder) remaining(end int64) int64 {
	if end >= 0 {
		return end - d.off
	}
	if d.limit >= 0 {
		return d.limit - d.off
	}
	return -1
}

func (d *decoder) readByte() (byte, error) {
	c, err := d.r.ReadByte()
	if err != nil {
		if err == io.EOF {
			return 0, d.truncated()
		}
		return 0, err
	}
	d.off++
	return c, nil
}

// varintRaw reads a varint and appends its bytes, exactly as they were
// encoded, to raw (so unknown fields keep their original encoding, as
// proto.Unmarshal keeps it).
func (d *decoder) varintRaw(raw []byte) (uint64, []byte, error) {
	start := d.off
	var v uint64
	for i := 0; ; i++ {
		c, err := d.readByte()
		if err != nil {
			return 0, nil, err
		}
		raw = append(raw, c)
		if i == 9 && c > 1 {
			return 0, nil, d.corrupt(start, "varint overflows 64 bits")
		}
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return v, raw, nil
		}
	}
}

// length reads a length prefix and checks it against the bytes left before
// end.
func (d *decoder) length(end int64) (int64, error) {
	n, _, err := d.lengthRaw(nil, end)
	return n, err
}

// lengthRaw is length, appending the prefix's bytes to raw.
func (d *decoder) lengthRaw(raw []byte, end int64) (int64, []byte, error) {
	at := d.off
	n, raw, err := d.varintRaw(raw)
	if err != nil {
		return 0, nil, err
	}
	if n > 1<<62 {
		return 0, nil, d.corrupt(at, "length %d is too large", n)
	}
	rem := d.remaining(end)
	if end >= 0 && rem < 0 {
		return 0, nil, d.corrupt(at, "field overruns its enclosing message")
	}
	if rem >= 0 && int64(n) > rem {
		if end >= 0 && (d.limit < 0 || end <= d.limit) {
			return 0, nil, d.corrupt(at, "length %d overruns its enclosing message (%d bytes left)", n, rem)
		}
		return 0, nil, d.truncated()
	}
	return int64(n), raw, nil
}

// readN reads exactly n bytes into dst[:0] (growing it as bytes arrive).
func (d *decoder) readN(dst []byte, n int64) ([]byte, error) {
	if rem := d.remaining(-1); n <= rem && cap(dst)-len(dst) < int(n) {
		dst = append(make([]byte, 0, len(dst)+int(n)), dst...)
	}
	for n > 0 {
		k := int(min(n, chunkBytes))
		start := len(dst)
		dst = slices.Grow(dst, k)[:start+k]
		got, err := io.ReadFull(d.r, dst[start:])
		d.off += int64(got)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, d.truncated()
			}
			return nil, err
		}
		n -= int64(k)
	}
	return dst, nil
}

func (d *decoder) chunkBuf() []byte {
	if d.chunk == nil {
		d.chunk = make([]byte, chunkBytes)
	}
	return d.chunk
}

// streamable reports whether messages of type md are walked field by field:
// those that may contain BlobProtos.
func streamable(md protoreflect.MessageDescriptor) bool {
	streamOnce.Do(func() {
		streamSet = map[protoreflect.FullName]bool{}
		blob := (&pb.BlobProto{}).ProtoReflect().Descriptor().FullName()
		for _, m := range []proto.Message{&pb.NetParameter{}, &pb.SolverState{}, &pb.BlobProtoVector{}} {
			markContainsBlob(m.ProtoReflect().Descriptor(), blob, map[protoreflect.FullName]bool{})
		}
	})
	return streamSet[md.FullName()]
}

var (
	streamOnce sync.Once
	streamSet  map[protoreflect.FullName]bool
)

func markContainsBlob(md protoreflect.MessageDescriptor, blob protoreflect.FullName, seen map[protoreflect.FullName]bool) bool {
	if md.FullName() == blob {
		streamSet[blob] = true
		return true
	}
	if seen[md.FullName()] {
		return streamSet[md.FullName()]
	}
	seen[md.FullName()] = true
	has := false
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		if sub := fields.Get(i).Message(); sub != nil && markContainsBlob(sub, blob, seen) {
			has = true
		}
	}
	if has {
		streamSet[md.FullName()] = true
	}
	return has
}

// maxBinaryDepth bounds the nesting of messages and groups, as protobuf-go's
// default recursion limit does.
const maxBinaryDepth = protowire.DefaultRecursionLimit

var mergeOpts = proto.UnmarshalOptions{Merge: true, AllowPartial: true}

// message decodes fields into m until offset end (-1: end of input).
func (d *decoder) message(m protoreflect.Message, end int64, depth int) error {
	if depth > maxBinaryDepth {
		return d.corrupt(d.off, "messages nested more than %d deep", maxBinaryDepth)
	}
	fields := m.Descriptor().Fields()
	blob, _ := m.Interface().(*pb.BlobProto)
	for {
		if end >= 0 {
			if d.off == end {
				return nil
			}
		} else if _, err := d.r.Peek(1); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
		at := d.off
		tag, raw, err := d.varintRaw(d.buf[:0])
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber || num > protowire.MaxValidNumber {
			return d.corrupt(at, "invalid field number %d", num)
		}
		if end >= 0 && d.off > end {
			return d.corrupt(at, "field %d overruns its enclosing message", num)
		}
		if typ == protowire.BytesType {
			fd := fields.ByNumber(num)
			switch {
			case fd != nil && fd.Message() != nil && streamable(fd.Message()):
				n, err := d.length(end)
				if err != nil {
					return err
				}
				var sub protoreflect.Message
				var list protoreflect.List
				var elem protoreflect.Value
				if fd.IsList() {
					list = m.Mutable(fd).List()
					elem = list.NewElement()
					sub = elem.Message()
				} else {
					sub = m.Mutable(fd).Message()
				}
				if err := d.message(sub, d.off+n, depth+1); err != nil {
					return err
				}
				if list != nil {
					list.Append(elem)
				}
				continue
			case blob != nil && (num == 5 || num == 6):
				n, err := d.length(end)
				if err != nil {
					return err
				}
				dst := &blob.Data
				if num == 6 {
					dst = &blob.Diff
				}
				if *dst, err = d.floats(*dst, n); err != nil {
					return err
				}
				continue
			case blob != nil && (num == 8 || num == 9):
				n, err := d.length(end)
				if err != nil {
					return err
				}
				dst := &blob.DoubleData
				if num == 9 {
					dst = &blob.DoubleDiff
				}
				if *dst, err = d.doubles(*dst, n); err != nil {
					return err
				}
				continue
			}
		}
		if raw, err = d.rawValue(raw, num, typ, end, 0); err != nil {
			return err
		}
		d.buf = raw[:0]
		if err := mergeOpts.Unmarshal(raw, m.Interface()); err != nil {
			return d.corrupt(at, "field %d: %v", num, err)
		}
		if end >= 0 && d.off > end {
			return d.corrupt(at, "field %d overruns its enclosing message", num)
		}
	}
}

// rawValue appends the encoded value of a field with the given wire type to
// raw (which already holds its tag).
func (d *decoder) rawValue(raw []byte, num protowire.Number, typ protowire.Type, end int64, depth int) ([]byte, error) {
	switch typ {
	case protowire.VarintType:
		_, raw, err := d.varintRaw(raw)
		return raw, err
	case protowire.Fixed32Type:
		return d.readN(raw, 4)
	case protowire.Fixed64Type:
		return d.readN(raw, 8)
	case protowire.BytesType:
		n, raw, err := d.lengthRaw(raw, end)
		if err != nil {
			return nil, err
		}
		return d.readN(raw, n)
	case protowire.StartGroupType:
		if depth > maxBinaryDepth {
			return nil, d.corrupt(d.off, "groups nested more than %d deep", maxBinaryDepth)
		}
		for {
			at := d.off
			tag, r, err := d.varintRaw(raw)
			if err != nil {
				return nil, err
			}
			raw = r
			n, t := protowire.DecodeTag(tag)
			if n < protowire.MinValidNumber || n > protowire.MaxValidNumber {
				return nil, d.corrupt(at, "invalid field number %d", n)
			}
			if t == protowire.EndGroupType {
				if n != num {
					return nil, d.corrupt(at, "group %d closed by end-group tag %d", num, n)
				}
				return raw, nil
			}
			if raw, err = d.rawValue(raw, n, t, end, depth+1); err != nil {
				return nil, err
			}
		}
	case protowire.EndGroupType:
		return nil, d.corrupt(d.off, "unexpected end-group tag for field %d", num)
	}
	return nil, d.corrupt(d.off, "invalid wire type %d for field %d", typ, num)
}

// floats appends the n bytes of a packed float field to dst.
func (d *decoder) floats(dst []float32, n int64) ([]float32, error) {
	if n%4 != 0 {
		return nil, d.corrupt(d.off, "packed float field of %d bytes is not a multiple of 4", n)
	}
	count := int(n / 4)
	if n <= d.remaining(-1) && cap(dst)-len(dst) < count {
		dst = append(make([]float32, 0, len(dst)+count), dst...)
	}
	chunk := d.chunkBuf()
	for count > 0 {
		k := min(count, chunkBytes/4)
		b := chunk[:4*k]
		got, err := io.ReadFull(d.r, b)
		d.off += int64(got)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, d.truncated()
			}
			return nil, err
		}
		for i := 0; i < len(b); i += 4 {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[i:])))
		}
		count -= k
	}
	return dst, nil
}

// doubles appends the n bytes of a packed double field to dst.
func (d *decoder) doubles(dst []float64, n int64) ([]float64, error) {
	if n%8 != 0 {
		return nil, d.corrupt(d.off, "packed double field of %d bytes is not a multiple of 8", n)
	}
	count := int(n / 8)
	if n <= d.remaining(-1) && cap(dst)-len(dst) < count {
		dst = append(make([]float64, 0, len(dst)+count), dst...)
	}
	chunk := d.chunkBuf()
	for count > 0 {
		k := min(count, chunkBytes/8)
		b := chunk[:8*k]
		got, err := io.ReadFull(d.r, b)
		d.off += int64(got)
		if err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, d.truncated()
			}
			return nil, err
		}
		for i := 0; i < len(b); i += 8 {
			dst = append(dst, math.Float64frombits(binary.LittleEndian.Uint64(b[i:])))
		}
		count -= k
	}
	return dst, nil
}
