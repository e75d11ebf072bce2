package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("DummyData", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		dp := p.GetDummyDataParam()
		if dp == nil {
			dp = &pb.DummyDataParameter{}
		}
		l := &DummyData{param: dp, ctx: ctx}
		l.fillFn = l.fillRange
		return l, nil
	})
}

// DummyData is Caffe's DummyDataLayer: tops of the shapes in
// dummy_data_param (shape, or the legacy num/channels/height/width), filled
// by data_filler (one for all tops or one per top; constant 0 by default).
// Constant tops are filled once; the others are refilled by every Forward.
// Gaussian (not sparse) and uniform refills run in parallel: each block of
// fillBlock values has its own stream, seeded by one draw from the layer's
// generator, so the values do not depend on the thread count.
type DummyData struct {
	param   *pb.DummyDataParameter
	ctx     *Context
	fillers []*pb.FillerParameter
	refill  []bool
	err     error

	// The running parallel refill.
	fillData []float32
	fillP    *pb.FillerParameter
	fillSeed uint64
	fillFn   func(lo, hi int)
}

// Type returns "DummyData".
func (l *DummyData) Type() string { return "DummyData" }

// Arity is no bottom and at least one top.
func (l *DummyData) Arity() Arity {
	return Arity{ExactBottom: 0, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: -1}
}

// Params returns nil.
func (l *DummyData) Params() []*tensor.Blob { return nil }

// Err reports a filler failure of the last Forward.
func (l *DummyData) Err() error { return l.err }

// Setup shapes the tops and fills them once.
func (l *DummyData) Setup(bottom, top []*tensor.Blob) error {
	p := l.param
	ntop := len(top)
	nf := len(p.GetDataFiller())
	if nf != 0 && nf != 1 && nf != ntop {
		return fmt.Errorf("dummy_data_param.data_filler must be given 0, 1 or %d (the number of tops) times, got %d", ntop, nf)
	}
	legacy := len(p.GetNum()) > 0 || len(p.GetChannels()) > 0 || len(p.GetHeight()) > 0 || len(p.GetWidth()) > 0
	if legacy {
		if len(p.GetShape()) > 0 {
			return errors.New("both shape and legacy fields (num, channels, height, width) were specified")
		}
		for _, f := range []struct {
			name string
			n    int
		}{{"num", len(p.GetNum())}, {"channels", len(p.GetChannels())}, {"height", len(p.GetHeight())}, {"width", len(p.GetWidth())}} {
			if f.n != 1 && f.n != ntop {
				return fmt.Errorf("dummy_data_param.%s must be given 1 or %d (the number of tops) times, got %d", f.name, ntop, f.n)
			}
		}
	} else if n := len(p.GetShape()); n != 1 && n != ntop {
		return fmt.Errorf("dummy_data_param.shape must be given 1 or %d (the number of tops) times, got %d", ntop, n)
	}
	pick := func(v []uint32, i int) int {
		if len(v) == 1 {
			return int(v[0])
		}
		return int(v[i])
	}
	for i, t := range top {
		if legacy {
			t.Reshape(pick(p.GetNum(), i), pick(p.GetChannels(), i), pick(p.GetHeight(), i), pick(p.GetWidth(), i))
			continue
		}
		s := p.GetShape()[0]
		if len(p.GetShape()) > 1 {
			s = p.GetShape()[i]
		}
		dims, err := blobShapeDims(s)
		if err != nil {
			return fmt.Errorf("dummy_data_param.shape %d: %w", i, err)
		}
		t.Reshape(dims...)
	}
	switch nf {
	case 0:
		l.fillers = []*pb.FillerParameter{nil} // constant 0
	default:
		l.fillers = p.GetDataFiller()
	}
	l.refill = make([]bool, len(l.fillers))
	for i, f := range l.fillers {
		l.refill[i] = f != nil && f.GetType() != "constant"
	}
	for i, t := range top {
		if err := Fill(t, l.filler(i), l.ctx.Rand); err != nil {
			return fmt.Errorf("data_filler for top %d: %w", i, err)
		}
	}
	return nil
}

func (l *DummyData) filler(top int) *pb.FillerParameter {
	if len(l.fillers) > 1 {
		return l.fillers[top]
	}
	return l.fillers[0]
}

// Reshape does nothing: the shapes are fixed.
func (l *DummyData) Reshape(bottom, top []*tensor.Blob) error { return nil }

// Forward refills the tops whose filler is not constant.
func (l *DummyData) Forward(bottom, top []*tensor.Blob) {
	for i, t := range top {
		id := 0
		if len(l.fillers) > 1 {
			id = i
		}
		if !l.refill[id] {
			continue
		}
		if f := l.fillers[id]; f.GetType() == "uniform" || f.GetType() == "gaussian" && f.GetSparse() < 0 {
			l.fillData, l.fillP, l.fillSeed = t.Data, f, l.ctx.Rand.Uint64()
			threads.For((len(t.Data)+fillBlock-1)/fillBlock, 1, l.fillFn)
			l.fillData, l.fillP = nil, nil
			continue
		}
		if err := Fill(t, l.fillers[id], l.ctx.Rand); err != nil {
			l.err = fmt.Errorf("data_filler for top %d: %w", i, err)
		}
	}
}

// fillRange refills blocks [lo, hi) of the running refill.
func (l *DummyData) fillRange(lo, hi int) {
	for b := lo; b < hi; b++ {
		d := l.fillData[b*fillBlock : min(len(l.fillData), (b+1)*fillBlock)]
		if l.fillP.GetType() == "uniform" {
			fillUniformBlock(d, l.fillP.GetMin(), l.fillP.GetMax(), l.fillSeed, uint64(b))
		} else {
			fillNormalBlock(d, l.fillP.GetMean(), l.fillP.GetStd(), l.fillSeed, uint64(b))
		}
	}
}

// Backward does nothing.
func (l *DummyData) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
