package nats

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"unsafe"
)

// The global weights of a round travel as one object, exact float32:
//
//	"SNGW" | version u16 | round u64 | iter u64 | weights u64 | history u64 |
//	run length u16 | run | weights f32... | history f32... | CRC-32C u32
//
// all little-endian. The CRC covers everything before it.
const (
	globalMagic   = "SNGW"
	globalVersion = 1
	globalHeader  = 4 + 2 + 8 + 8 + 8 + 8 + 2
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// globalSize returns the encoded size of a round's global state.
func globalSize(run string, weights, history int) int64 {
	return int64(globalHeader + len(run) + 4*(weights+history) + 4)
}

// encodeGlobal encodes a round's global weights (and history, nil when not
// broadcast).
func encodeGlobal(run string, round, iter int, weights, history []float32) []byte {
	b := make([]byte, 0, globalSize(run, len(weights), len(history)))
	le := binary.LittleEndian
	b = append(b, globalMagic...)
	b = le.AppendUint16(b, globalVersion)
	b = le.AppendUint64(b, uint64(round))
	b = le.AppendUint64(b, uint64(iter))
	b = le.AppendUint64(b, uint64(len(weights)))
	b = le.AppendUint64(b, uint64(len(history)))
	b = le.AppendUint16(b, uint16(len(run)))
	b = append(b, run...)
	b = putFloats(b, weights)
	b = putFloats(b, history)
	return le.AppendUint32(b, crc32.Checksum(b, crcTable))
}

func putFloats(b []byte, v []float32) []byte {
	n := len(b)
	b = b[:n+4*len(v)]
	out := b[n:]
	if littleEndian && len(v) > 0 {
		copy(out, unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)))
		return b
	}
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
	}
	return b
}

// getFloats decodes little-endian float32 values from p into v.
func getFloats(v []float32, p []byte) {
	if littleEndian && len(v) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v)), p)
		return
	}
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(p[4*i:]))
	}
}

// littleEndian reports whether float32 values are stored as the wire
// format has them, so they can be copied as bytes.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// decodeGlobal checks an encoded global state against what the task says
// (run, round, iteration, sizes) and decodes it into weights and history,
// which must have the expected lengths.
func decodeGlobal(b []byte, run string, round, iter int, weights, history []float32) error {
	if int64(len(b)) != globalSize(run, len(weights), len(history)) {
		return fmt.Errorf("global weights: %d bytes, want %d", len(b), globalSize(run, len(weights), len(history)))
	}
	le := binary.LittleEndian
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != le.Uint32(b[len(b)-4:]) {
		return fmt.Errorf("global weights: checksum mismatch")
	}
	if string(b[:4]) != globalMagic || le.Uint16(b[4:]) != globalVersion {
		return fmt.Errorf("global weights: not a version %d weights object", globalVersion)
	}
	gotRound, gotIter := int(le.Uint64(b[6:])), int(le.Uint64(b[14:]))
	nw, nh := int(le.Uint64(b[22:])), int(le.Uint64(b[30:]))
	rl := int(le.Uint16(b[38:]))
	if rl != len(run) || string(b[globalHeader:globalHeader+rl]) != run {
		return fmt.Errorf("global weights: of another run")
	}
	if gotRound != round || gotIter != iter || nw != len(weights) || nh != len(history) {
		return fmt.Errorf("global weights: round %d, iteration %d, %d+%d values; want round %d, iteration %d, %d+%d",
			gotRound, gotIter, nw, nh, round, iter, len(weights), len(history))
	}
	p := body[globalHeader+rl:]
	getFloats(weights, p)
	getFloats(history, p[4*len(weights):])
	return nil
}
