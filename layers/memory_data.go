package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("MemoryData", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		mp := p.GetMemoryDataParam()
		l := &MemoryData{batch: int(mp.GetBatchSize()), c: int(mp.GetChannels()), h: int(mp.GetHeight()), w: int(mp.GetWidth())}
		if l.batch <= 0 || l.c <= 0 || l.h <= 0 || l.w <= 0 {
			return nil, fmt.Errorf("memory_data_param batch_size, channels, height and width must be positive, got %d, %d, %d, %d", l.batch, l.c, l.h, l.w)
		}
		return l, nil
	})
}

// MemoryData is Caffe's MemoryDataLayer: it serves batches of batch_size
// examples (channels x height x width values and one label each) from
// arrays given by Reset, wrapping around at the end. Values are used as
// given: no transformation is applied.
type MemoryData struct {
	batch, c, h, w int
	data, labels   []float32
	n, pos         int
	err            error
}

// Type returns "MemoryData".
func (l *MemoryData) Type() string { return "MemoryData" }

// Arity is no bottom, and data and label tops.
func (l *MemoryData) Arity() Arity { return Exact(0, 2) }

// Params returns nil.
func (l *MemoryData) Params() []*tensor.Blob { return nil }

// Err reports a Forward before Reset.
func (l *MemoryData) Err() error { return l.err }

// BatchSize reports the number of examples per Forward.
func (l *MemoryData) BatchSize() int { return l.batch }

// Reset makes the layer serve n examples: data holds n*channels*height*width
// values and labels n labels. n must be a multiple of the batch size. The
// layer keeps the slices (it does not copy them) and starts at example 0.
func (l *MemoryData) Reset(data, labels []float32, n int) error {
	size := l.c * l.h * l.w
	switch {
	case n <= 0:
		return fmt.Errorf("memory data: n must be positive, got %d", n)
	case n%l.batch != 0:
		return fmt.Errorf("memory data: n = %d must be a multiple of the batch size %d", n, l.batch)
	case len(data) < n*size:
		return fmt.Errorf("memory data: %d examples of %dx%dx%d need %d values, got %d", n, l.c, l.h, l.w, n*size, len(data))
	case len(labels) < n:
		return fmt.Errorf("memory data: %d examples need %d labels, got %d", n, n, len(labels))
	}
	l.data, l.labels, l.n, l.pos, l.err = data, labels, n, 0, nil
	return nil
}

// Setup shapes the tops: batch x channels x height x width, and batch.
func (l *MemoryData) Setup(bottom, top []*tensor.Blob) error {
	top[0].Reshape(l.batch, l.c, l.h, l.w)
	top[1].Reshape(l.batch)
	return nil
}

// Reshape keeps the shapes of Setup.
func (l *MemoryData) Reshape(bottom, top []*tensor.Blob) error {
	top[0].Reshape(l.batch, l.c, l.h, l.w)
	top[1].Reshape(l.batch)
	return nil
}

var errMemoryDataNoReset = errors.New("MemoryData needs to be initialized by calling Reset")

// Forward copies the next batch into the tops.
func (l *MemoryData) Forward(bottom, top []*tensor.Blob) {
	if l.data == nil {
		l.err = errMemoryDataNoReset
		return
	}
	size := l.c * l.h * l.w
	copy(top[0].Data, l.data[l.pos*size:(l.pos+l.batch)*size])
	copy(top[1].Data, l.labels[l.pos:l.pos+l.batch])
	l.pos = (l.pos + l.batch) % l.n
}

// Backward does nothing.
func (l *MemoryData) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
