package data

import (
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/sparknet/sparknet/caffe/pb"
)

// Datum is Caffe's Datum message (caffe.proto): one example as stored in
// LMDB and LevelDB databases. It is decoded and encoded by hand, reusing
// its buffers, because the data path reads millions of them; the bytes are
// the protobuf wire format of pb.Datum, field for field.
type Datum struct {
	Channels, Height, Width int
	// Data holds Channels x Height x Width pixel bytes (channel-major;
	// BGR for color images, as OpenCV gives them to Caffe), or, when
	// Encoded, a whole JPEG/PNG file. After Unmarshal it aliases the
	// input.
	Data []byte
	// FloatData holds float features when Data is empty.
	FloatData []float32
	Label     int32
	Encoded   bool
	// EncodedSet makes Marshal write the encoded field even when false:
	// Caffe's CVMatToDatum sets it explicitly, so convert_imageset's raw
	// records carry it, while convert_mnist_data's do not.
	EncodedSet bool
}

// Reset clears d, keeping FloatData's buffer.
func (d *Datum) Reset() {
	*d = Datum{FloatData: d.FloatData[:0]}
}

var errDatumWire = errors.New("malformed Datum")

// Unmarshal decodes a serialized Datum into d, replacing its contents.
// d.Data aliases b; FloatData reuses d's buffer. Unknown fields are skipped.
func (d *Datum) Unmarshal(b []byte) error {
	d.Reset()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("%w: %v", errDatumWire, protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num >= 1 && num <= 3 && typ == protowire.VarintType,
			num == 5 && typ == protowire.VarintType,
			num == 7 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", errDatumWire, num, protowire.ParseError(n))
			}
			b = b[n:]
			switch num {
			case 1:
				d.Channels = int(int32(v))
			case 2:
				d.Height = int(int32(v))
			case 3:
				d.Width = int(int32(v))
			case 5:
				d.Label = int32(v)
			case 7:
				d.Encoded, d.EncodedSet = v != 0, true
			}
		case num == 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return fmt.Errorf("%w: data: %v", errDatumWire, protowire.ParseError(n))
			}
			d.Data = v
			b = b[n:]
		case num == 6 && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return fmt.Errorf("%w: float_data: %v", errDatumWire, protowire.ParseError(n))
			}
			d.FloatData = append(d.FloatData, math.Float32frombits(v))
			b = b[n:]
		case num == 6 && typ == protowire.BytesType: // packed
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || len(v)%4 != 0 {
				return fmt.Errorf("%w: packed float_data", errDatumWire)
			}
			for i := 0; i < len(v); i += 4 {
				d.FloatData = append(d.FloatData, math.Float32frombits(uint32(v[i])|uint32(v[i+1])<<8|uint32(v[i+2])<<16|uint32(v[i+3])<<24))
			}
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return fmt.Errorf("%w: field %d: %v", errDatumWire, num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if d.Channels < 0 || d.Height < 0 || d.Width < 0 {
		return fmt.Errorf("%w: negative shape %dx%dx%d", errDatumWire, d.Channels, d.Height, d.Width)
	}
	return nil
}

// AppendMarshal appends d's wire encoding to b, byte for byte what Caffe's
// Datum::SerializeToString gives for a Datum set up as Caffe's converters
// set it: channels, height and width when non-zero, data when non-empty,
// label always, float_data unpacked, and encoded
// when true or EncodedSet.
func (d *Datum) AppendMarshal(b []byte) []byte {
	if d.Channels != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(d.Channels))))
	}
	if d.Height != 0 {
		b = protowire.AppendTag(b, 2, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(d.Height))))
	}
	if d.Width != 0 {
		b = protowire.AppendTag(b, 3, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(int64(int32(d.Width))))
	}
	if len(d.Data) > 0 {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		b = protowire.AppendBytes(b, d.Data)
	}
	b = protowire.AppendTag(b, 5, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(int64(d.Label)))
	for _, f := range d.FloatData {
		b = protowire.AppendTag(b, 6, protowire.Fixed32Type)
		b = protowire.AppendFixed32(b, math.Float32bits(f))
	}
	if d.Encoded || d.EncodedSet {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, protowire.EncodeBool(d.Encoded))
	}
	return b
}

// ToProto returns d as a pb.Datum (copying Data and FloatData).
func (d *Datum) ToProto() *pb.Datum {
	p := &pb.Datum{
		Label:     &d.Label,
		FloatData: append([]float32(nil), d.FloatData...),
	}
	if d.Channels != 0 || d.Height != 0 || d.Width != 0 {
		c, h, w := int32(d.Channels), int32(d.Height), int32(d.Width)
		p.Channels, p.Height, p.Width = &c, &h, &w
	}
	if d.Data != nil {
		p.Data = append([]byte{}, d.Data...)
	}
	if d.Encoded || d.EncodedSet {
		e := d.Encoded
		p.Encoded = &e
	}
	return p
}

// DatumFromProto converts a pb.Datum.
func DatumFromProto(p *pb.Datum) *Datum {
	return &Datum{
		Channels: int(p.GetChannels()), Height: int(p.GetHeight()), Width: int(p.GetWidth()),
		Data: p.GetData(), FloatData: p.GetFloatData(), Label: p.GetLabel(),
		Encoded: p.GetEncoded(), EncodedSet: p.Encoded != nil,
	}
}
