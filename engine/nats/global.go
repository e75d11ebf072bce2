package nats

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/sparknet/sparknet/internal/lewire"
	"github.com/sparknet/sparknet/parallel"
)

// A round's broadcast travels as one blob: the weights whole (exact
// float32), or the update of the previous round's weights in the run's
// codec (parallel.Broadcast), and the global history when the round sends
// it:
//
//	"SNGW" | version u16 | round u64 | iter u64 | params u64 | history u64 |
//	run length u16 | run | kind u8 | codec u8 | blobs u32 |
//	whole:  weights f32 x params
//	update: int8: scales f32 x blobs, codes i8 x params; fp16, bf16: codes u16 x params
//	history f32 x history | CRC-32C u32
//
// all little-endian. The CRC covers everything before it.
const (
	globalMagic   = "SNGW"
	globalVersion = 2
	globalHeader  = 4 + 2 + 8 + 8 + 8 + 8 + 2
	// globalKind* is the kind byte.
	globalWhole  = 0
	globalUpdate = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// globalSize returns the encoded size of a round's broadcast of params
// parameters in blobs blobs with history values: the weights whole when
// codec is parallel.CodecNone, else an update in that codec.
func globalSize(run string, params, blobs, history int, codec parallel.Codec) int64 {
	payload := 4 * params
	if codec.Lossy() {
		payload = codec.PayloadBytes(params, blobs)
	}
	return int64(globalHeader+len(run)+6+payload+4*history) + 4
}

// encodeGlobal appends a round's broadcast to dst[:0]: the weights whole
// when upd is nil, else the update (of a model of blobs blobs); history is
// nil when not broadcast.
func encodeGlobal(dst []byte, run string, round, iter int, weights []float32, upd *parallel.Broadcast, blobs int, history []float32) []byte {
	codec := parallel.CodecNone
	if upd != nil {
		codec = upd.Codec
	}
	size := globalSize(run, len(weights), blobs, len(history), codec)
	b := dst[:0]
	if int64(cap(b)) < size {
		b = make([]byte, 0, size)
	}
	le := binary.LittleEndian
	b = append(b, globalMagic...)
	b = le.AppendUint16(b, globalVersion)
	b = le.AppendUint64(b, uint64(round))
	b = le.AppendUint64(b, uint64(iter))
	b = le.AppendUint64(b, uint64(len(weights)))
	b = le.AppendUint64(b, uint64(len(history)))
	b = le.AppendUint16(b, uint16(len(run)))
	b = append(b, run...)
	if upd == nil {
		b = append(b, globalWhole, byte(parallel.CodecNone))
		b = le.AppendUint32(b, uint32(blobs))
		b = lewire.AppendFloat32s(b, weights)
	} else {
		b = append(b, globalUpdate, byte(upd.Codec))
		b = le.AppendUint32(b, uint32(blobs))
		switch upd.Codec {
		case parallel.CodecInt8:
			b = lewire.AppendFloat32s(b, upd.Scales)
			b = lewire.AppendInt8s(b, upd.Int8)
		default:
			b = lewire.AppendUint16s(b, upd.Half)
		}
	}
	b = lewire.AppendFloat32s(b, history)
	return le.AppendUint32(b, crc32.Checksum(b, crcTable))
}

// decodeGlobal checks an encoded broadcast against what the task says (run,
// round, iteration, the model's layout l, the history's length, and codec:
// parallel.CodecNone for the weights whole, else an update in that codec)
// and decodes it: the weights whole into weights (returning a nil update),
// or the update, checked against l (parallel.Broadcast.Check) and not
// applied.
// The history goes to history. weights and history must have the expected
// lengths.
func decodeGlobal(b []byte, run string, round, iter int, l parallel.Layout, codec parallel.Codec, weights, history []float32) (*parallel.Broadcast, error) {
	n, blobs := l.Len(), l.Blobs()
	if len(b) < globalHeader+len(run)+6+4 {
		return nil, fmt.Errorf("global weights: %d bytes, too short", len(b))
	}
	le := binary.LittleEndian
	body := b[:len(b)-4]
	if crc32.Checksum(body, crcTable) != le.Uint32(b[len(b)-4:]) {
		return nil, fmt.Errorf("global weights: checksum mismatch")
	}
	if string(b[:4]) != globalMagic || le.Uint16(b[4:]) != globalVersion {
		return nil, fmt.Errorf("global weights: not a version %d weights object", globalVersion)
	}
	gotRound, gotIter := int(le.Uint64(b[6:])), int(le.Uint64(b[14:]))
	nw, nh := int(le.Uint64(b[22:])), int(le.Uint64(b[30:]))
	rl := int(le.Uint16(b[38:]))
	if rl != len(run) || string(b[globalHeader:globalHeader+rl]) != run {
		return nil, fmt.Errorf("global weights: of another run")
	}
	if gotRound != round || gotIter != iter || nw != n || nh != len(history) || len(weights) != n {
		return nil, fmt.Errorf("global weights: round %d, iteration %d, %d+%d values; want round %d, iteration %d, %d+%d",
			gotRound, gotIter, nw, nh, round, iter, n, len(history))
	}
	p := body[globalHeader+rl:]
	kind, gotCodec, gotBlobs := p[0], parallel.Codec(p[1]), int(le.Uint32(p[2:]))
	p = p[6:]
	switch {
	case gotBlobs != blobs:
		return nil, fmt.Errorf("global weights: %d parameter blobs, the model has %d", gotBlobs, blobs)
	case kind == globalWhole && gotCodec == parallel.CodecNone && codec == parallel.CodecNone:
	case kind == globalUpdate && gotCodec == codec && codec.Lossy():
	default:
		return nil, fmt.Errorf("global weights: kind %d, codec %s; expected %s", kind, gotCodec, codec)
	}
	if int64(len(b)) != globalSize(run, n, blobs, len(history), codec) {
		return nil, fmt.Errorf("global weights: %d bytes, want %d", len(b), globalSize(run, n, blobs, len(history), codec))
	}
	var upd *parallel.Broadcast
	switch codec {
	case parallel.CodecNone:
		lewire.Float32s(weights, p)
		p = p[4*n:]
	case parallel.CodecInt8:
		upd = &parallel.Broadcast{Codec: codec, Scales: make([]float32, blobs), Int8: make([]int8, n)}
		lewire.Float32s(upd.Scales, p)
		p = p[4*blobs:]
		lewire.Int8s(upd.Int8, p)
		p = p[n:]
	default:
		upd = &parallel.Broadcast{Codec: codec, Half: make([]uint16, n)}
		lewire.Uint16s(upd.Half, p)
		p = p[2*n:]
	}
	lewire.Float32s(history, p)
	if upd != nil {
		if err := upd.Check(l); err != nil {
			return nil, fmt.Errorf("global weights: %w", err)
		}
	}
	return upd, nil
}
