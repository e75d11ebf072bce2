// Package layers implements Caffe's layer types, one file per type, and the
// registry that builds them by their Caffe type name.
//
// The contract follows Caffe's Layer<float>:
//
//   - Setup reads the layer's parameters, checks the number and shapes of its
//     blobs, and creates and fills its parameter blobs (Caffe's LayerSetUp).
//   - Reshape sizes the top blobs (and any internal buffers) from the bottom
//     shapes. The net calls it before every Forward; a reshape to the same
//     shapes must not allocate.
//   - Forward computes tops from bottoms. A loss layer writes its loss to
//     top[0].Data; the net weighs it.
//   - Backward computes bottom gradients from top gradients for every bottom i
//     with propagateDown[i] set, and ADDS parameter gradients to the Diff of
//     each parameter blob (the solver clears them; accumulation gives
//     iter_size and shared parameters). Bottom gradients are overwritten.
//     A loss layer reads its loss weight from top[0].Diff[0].
//
// Parallel loops must give the same bits whatever the thread count: every
// output element is computed by one chunk, and reductions use fixed-size
// blocks combined in order (see package threads).
package layers

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// Layer is one Caffe layer.
type Layer interface {
	// Type returns the Caffe type name, e.g. "Convolution".
	Type() string
	// Setup checks the bottoms and creates the parameter blobs.
	Setup(bottom, top []*tensor.Blob) error
	// Reshape sizes the tops from the bottoms.
	Reshape(bottom, top []*tensor.Blob) error
	// Forward computes the tops.
	Forward(bottom, top []*tensor.Blob)
	// Backward computes bottom gradients and accumulates parameter gradients.
	Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob)
	// Params returns the layer's parameter blobs in Caffe's order (e.g.
	// weights then bias). The net may alias their buffers for sharing.
	Params() []*tensor.Blob
}

// Arity bounds the number of bottom and top blobs, as Caffe's
// ExactNumBottomBlobs/MinBottomBlobs/... do. A negative field is unchecked.
type Arity struct {
	ExactBottom, MinBottom, MaxBottom int
	ExactTop, MinTop, MaxTop          int
	// EqualBottomTop requires as many tops as bottoms.
	EqualBottomTop bool
	// AutoTop lets the net create anonymous tops up to ExactTop/MinTop when
	// the prototxt names fewer (Caffe's AutoTopBlobs).
	AutoTop bool
}

// AnyArity checks nothing.
var AnyArity = Arity{-1, -1, -1, -1, -1, -1, false, false}

// Exact returns an Arity with exactly nb bottoms and nt tops (-1: unchecked).
func Exact(nb, nt int) Arity { return Arity{nb, -1, -1, nt, -1, -1, false, false} }

// Check validates the blob counts of a layer.
func (a Arity) Check(nbottom, ntop int) error {
	switch {
	case a.ExactBottom >= 0 && nbottom != a.ExactBottom:
		return fmt.Errorf("takes exactly %d bottom blob(s), got %d", a.ExactBottom, nbottom)
	case a.MinBottom >= 0 && nbottom < a.MinBottom:
		return fmt.Errorf("takes at least %d bottom blob(s), got %d", a.MinBottom, nbottom)
	case a.MaxBottom >= 0 && nbottom > a.MaxBottom:
		return fmt.Errorf("takes at most %d bottom blob(s), got %d", a.MaxBottom, nbottom)
	case a.ExactTop >= 0 && ntop != a.ExactTop:
		return fmt.Errorf("produces exactly %d top blob(s), got %d", a.ExactTop, ntop)
	case a.MinTop >= 0 && ntop < a.MinTop:
		return fmt.Errorf("produces at least %d top blob(s), got %d", a.MinTop, ntop)
	case a.MaxTop >= 0 && ntop > a.MaxTop:
		return fmt.Errorf("produces at most %d top blob(s), got %d", a.MaxTop, ntop)
	case a.EqualBottomTop && nbottom != ntop:
		return fmt.Errorf("needs as many top blobs as bottom blobs, got %d and %d", ntop, nbottom)
	}
	return nil
}

// Arityer is implemented by layers that bound their blob counts. The net
// checks it before Setup.
type Arityer interface{ Arity() Arity }

// Loss is implemented by loss layers: their first top has loss weight 1
// unless the prototxt says otherwise (Caffe's LossLayer).
type Loss interface{ IsLoss() bool }

// ForceBackwardAllower is implemented by layers whose bottom i never takes a
// gradient even under force_backward (Caffe's AllowForceBackward), e.g. the
// label input of a loss layer.
type ForceBackwardAllower interface{ AllowForceBackward(bottom int) bool }

// Context is what a layer receives from the net that builds it.
type Context struct {
	// Phase is TRAIN or TEST.
	Phase pb.Phase
	// Rand draws the filler values and the layers' random numbers (dropout,
	// data shuffling); it is seeded by the net, and its source Src can be
	// saved and restored (MarshalBinary) to resume a run exactly.
	Rand *rand.Rand
	Src  *rand.PCG
	// Seed is the seed the context was made with; data layers derive their
	// per-epoch shuffles and transformation draws from it, so they stay
	// reproducible even though they run on a prefetch goroutine.
	Seed uint64
	// Shard and Shards select the part of the training data a data layer
	// reads: shard Shard of Shards (SparkNet's partitions, one per worker).
	// Shards <= 1 means the whole source.
	Shard, Shards int
}

// NewContext returns a context for phase with a generator seeded by seed.
func NewContext(phase pb.Phase, seed uint64) *Context {
	src := rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
	return &Context{Phase: phase, Rand: rand.New(src), Src: src, Seed: seed}
}

// Constructor builds a layer from its parameters. It must not touch blobs;
// that is Setup's job.
type Constructor func(p *pb.LayerParameter, ctx *Context) (Layer, error)

var (
	registryMu sync.RWMutex
	registry   = map[string]Constructor{}
)

// Register makes a layer type available by its Caffe type name. It panics if
// the name is registered twice (a programming error caught at init).
func Register(typ string, c Constructor) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := registry[typ]; dup {
		panic("layers: type registered twice: " + typ)
	}
	registry[typ] = c
}

// Types returns the registered type names, sorted.
func Types() []string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	names := make([]string, 0, len(registry))
	for n := range registry {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// unimplemented lists the layer types of BVLC Caffe that sparknet does not
// provide, with the reason, so that a net using one gets a precise error
// rather than the "unknown type" one meant for typos.
var unimplemented = map[string]string{
	"BatchReindex": "Caffe's BatchReindex layer is not implemented",
	"Filter":       "Caffe's Filter layer is not implemented",
	"HDF5Output":   "Caffe's HDF5Output layer is not implemented",
	"Im2col":       "Caffe's Im2col layer is not implemented",
	"LSTM":         "Caffe's recurrent layers (LSTM, LSTMUnit, RNN) are not implemented",
	"LSTMUnit":     "Caffe's recurrent layers (LSTM, LSTMUnit, RNN) are not implemented",
	"RNN":          "Caffe's recurrent layers (LSTM, LSTMUnit, RNN) are not implemented",
	"SPP":          "Caffe's SPP (spatial pyramid pooling) layer is not implemented",
	"WindowData":   "Caffe's WindowData layer is not implemented",
}

// New builds the layer described by p. A type of BVLC Caffe that sparknet
// does not implement (Python layers among them) is an error that says so;
// any other unknown type is an error that lists the supported types.
func New(p *pb.LayerParameter, ctx *Context) (Layer, error) {
	registryMu.RLock()
	c, ok := registry[p.GetType()]
	registryMu.RUnlock()
	if !ok {
		if p.GetType() == "Python" {
			pp := p.GetPythonParam()
			return nil, fmt.Errorf("layer %q: Python layers are not supported (python_param module %q, layer %q): sparknet runs no Python code; replace the layer with built-in layers",
				p.GetName(), pp.GetModule(), pp.GetLayer())
		}
		if why, known := unimplemented[p.GetType()]; known {
			return nil, fmt.Errorf("layer %q: type %q is not supported: %s", p.GetName(), p.GetType(), why)
		}
		return nil, fmt.Errorf("layer %q: unknown layer type %q (supported: %s)", p.GetName(), p.GetType(), strings.Join(Types(), ", "))
	}
	l, err := c(p, ctx)
	if err != nil {
		return nil, fmt.Errorf("layer %q (%s): %w", p.GetName(), p.GetType(), err)
	}
	return l, nil
}

// ParamPropagator is implemented by layers that can skip the gradient of a
// parameter blob (Caffe's set_param_propagate_down). The net turns it off for
// parameters with lr_mult 0 unless force_backward is set; a layer that does
// not implement it always accumulates every parameter gradient.
type ParamPropagator interface{ SetParamPropagateDown(i int, on bool) }

// Failer is implemented by layers that can fail while running (a data layer
// that cannot read, a loss layer given a label out of range). The net checks
// Err after the layer's Forward and stops with the error.
type Failer interface{ Err() error }
