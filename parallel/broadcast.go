package parallel

import (
	"fmt"
	"math"
)

// The broadcast of a lossy codec. Sending the global weights G whole every
// round costs 4 bytes per parameter to each worker, whatever the codec of
// the deltas. Instead, the driver keeps, besides G, the replica R the
// workers hold, and each round sends the update C = encode(G - R) in the
// run's codec and sets R += decode(C) (in float32, per element). What C
// could not carry stays in G - R and goes out with the next update: the
// broadcast has error feedback without any extra state. The workers apply
// the same decode to their copy of R (Broadcast.Apply, bit for bit the
// driver's) and start their iterations from it; their updates are relative
// to R, and the driver adds the mean update to G (see Combiner). A worker
// without the previous round's R (new, restarted, or idle for a round)
// fetches R whole. The first round, and a run resumed without a saved R,
// send the weights whole (R = G); codec none always does, so its workers
// start from G exactly.

// Broadcast is a lossy round's update of the workers' weights: one blob of
// codes per parameter blob, all blobs concatenated, as in Delta.
type Broadcast struct {
	Codec Codec
	// Half (fp16, bf16) or Int8 and Scales (int8, one per blob) hold the
	// codes.
	Half   []uint16
	Int8   []int8
	Scales []float32
}

// PayloadBytes returns the size of the update's codes and scales.
func (b *Broadcast) PayloadBytes() int {
	blobs := 0
	if b.Codec == CodecInt8 {
		blobs = len(b.Scales)
	}
	return b.Codec.PayloadBytes(len(b.Half)+len(b.Int8), blobs)
}

// Check checks that the update fits layout l and that its values are finite
// (its scales non-negative).
func (b *Broadcast) Check(l Layout) error {
	n := l.Len()
	switch b.Codec {
	case CodecFP16, CodecBF16:
		if len(b.Half) != n || b.Int8 != nil || b.Scales != nil {
			return fmt.Errorf("broadcast: %d %s codes for %d parameters", len(b.Half), b.Codec, n)
		}
		finite := halfFinite
		if b.Codec == CodecBF16 {
			finite = bf16Finite
		}
		for j, h := range b.Half {
			if !finite(h) {
				return fmt.Errorf("broadcast: %s code %d is not finite", b.Codec, j)
			}
		}
	case CodecInt8:
		if len(b.Int8) != n || len(b.Scales) != l.Blobs() || b.Half != nil {
			return fmt.Errorf("broadcast: %d int8 codes and %d scales for %d parameters in %d blobs", len(b.Int8), len(b.Scales), n, l.Blobs())
		}
		for i, s := range b.Scales {
			if !(s >= 0) || math.IsInf(float64(s), 0) {
				return fmt.Errorf("broadcast: int8 scale of blob %d is %v", i, s)
			}
		}
	default:
		return fmt.Errorf("broadcast: codec %s is not lossy", b.Codec)
	}
	return nil
}

// Apply turns the previous round's replica (flat, layout l) into this
// round's in place: replica += decode(update), exactly as the driver did.
// The update must have passed Check.
func (b *Broadcast) Apply(l Layout, replica []float32) {
	for i := 0; i < l.Blobs(); i++ {
		lo, hi := l.Offset(i), l.Offset(i)+l.Count(i)
		var half []uint16
		var q []int8
		var scale float32
		if b.Codec == CodecInt8 {
			q, scale = b.Int8[lo:hi], b.Scales[i]
		} else {
			half = b.Half[lo:hi]
		}
		decodeUpdate(b.Codec, replica[lo:hi], half, q, scale, replica[lo:hi])
	}
}

// encode sets b to the update from replica to global (per blob, as a
// worker's update, without a residual: G - R itself carries what earlier
// updates lost) and applies it to replica. It reports false, leaving
// replica unchanged, when the difference overflows float32 (the caller then
// sends the weights whole). scratch has the layout's length.
func (b *Broadcast) encode(c Codec, l Layout, global, replica, scratch []float32) bool {
	n := l.Len()
	b.Codec = c
	switch c {
	case CodecFP16, CodecBF16:
		if len(b.Half) != n {
			b.Half = make([]uint16, n)
		}
		b.Int8, b.Scales = nil, nil
	case CodecInt8:
		if len(b.Int8) != n || len(b.Scales) != l.Blobs() {
			b.Int8, b.Scales = make([]int8, n), make([]float32, l.Blobs())
		}
		b.Half = nil
	}
	clear(scratch)
	for i := 0; i < l.Blobs(); i++ {
		lo, hi := l.Offset(i), l.Offset(i)+l.Count(i)
		var half []uint16
		var q []int8
		if b.Half != nil {
			half = b.Half[lo:hi]
		} else {
			q = b.Int8[lo:hi]
		}
		scale := encodeUpdate(c, global[lo:hi], replica[lo:hi], scratch[lo:hi], half, q)
		if c == CodecInt8 {
			if math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) {
				return false
			}
			b.Scales[i] = scale
		}
	}
	if b.Check(l) != nil { // fp16/bf16 clamp, so only an overflowing difference fails
		return false
	}
	b.Apply(l, replica)
	return true
}
