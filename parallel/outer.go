package parallel

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/sparknet/sparknet/internal/lewire"
	"github.com/sparknet/sparknet/internal/threads"
)

// OuterOptimizer turns the mean of the workers' weights into the next
// global weights. (DESIGN.md sketches Apply(global, []Delta); the deltas
// are averaged as they stream in, so the optimizer receives their mean.)
type OuterOptimizer interface {
	// Name is the -outer flag value.
	Name() string
	// Step updates global (flat) in place from mean, the exact mean of the
	// workers' weights this round.
	Step(global, mean []float32)
	// MarshalState and UnmarshalState save and restore the optimizer's
	// state (for checkpoints).
	MarshalState() ([]byte, error)
	UnmarshalState(b []byte) error
}

// OuterConfig selects and configures an outer optimizer.
type OuterConfig struct {
	// Kind is "avg" (SparkNet, the default) or "nesterov" (DiLoCo).
	Kind string
	// LR and Momentum are Nesterov's outer learning rate and momentum
	// (DiLoCo's 0.7 and 0.9 when zero).
	LR, Momentum float32
}

// DiLoCo's outer hyper-parameters.
const (
	DefaultOuterLR       = 0.7
	DefaultOuterMomentum = 0.9
)

// New returns the configured optimizer for n parameters.
func (c OuterConfig) New(n int) (OuterOptimizer, error) {
	switch strings.ToLower(c.Kind) {
	case "", "avg", "average":
		return Average{}, nil
	case "nesterov", "diloco":
		lr, mu := c.LR, c.Momentum
		if lr == 0 {
			lr = DefaultOuterLR
		}
		if mu == 0 {
			mu = DefaultOuterMomentum
		}
		if !(lr > 0) || math.IsInf(float64(lr), 0) || !(mu >= 0 && mu < 1) {
			return nil, fmt.Errorf("outer nesterov needs a positive learning rate and a momentum in [0, 1), got %g and %g", lr, mu)
		}
		return NewNesterov(n, lr, mu), nil
	}
	return nil, fmt.Errorf("unknown outer optimizer %q (want avg or nesterov)", c.Kind)
}

// Average is SparkNet's outer step: the global weights become the mean of
// the workers' weights (outer learning rate 1, no momentum). With one
// worker they are that worker's weights, bit for bit.
type Average struct{}

// Name returns "avg".
func (Average) Name() string { return "avg" }

// Step copies mean into global.
func (Average) Step(global, mean []float32) { copy(global, mean) }

// MarshalState returns nil: averaging keeps no state.
func (Average) MarshalState() ([]byte, error) { return nil, nil }

// UnmarshalState accepts only an empty state.
func (Average) UnmarshalState(b []byte) error {
	if len(b) != 0 {
		return fmt.Errorf("outer avg keeps no state, got %d bytes", len(b))
	}
	return nil
}

// Nesterov is DiLoCo's outer step: the outer gradient is the global weights
// minus the mean of the workers' weights, applied with Nesterov momentum:
//
//	g = global - mean
//	v = momentum*v + g
//	global -= lr * (g + momentum*v)
//
// in float32, each operation rounded (no fused multiply-add), so results are
// the same on every platform and thread count.
type Nesterov struct {
	LR, Momentum float32
	v            []float32
}

// NewNesterov returns a Nesterov outer optimizer for n parameters with zero
// momentum.
func NewNesterov(n int, lr, momentum float32) *Nesterov {
	return &Nesterov{LR: lr, Momentum: momentum, v: make([]float32, n)}
}

// Name returns "nesterov".
func (o *Nesterov) Name() string { return "nesterov" }

// Velocity returns the momentum buffer.
func (o *Nesterov) Velocity() []float32 { return o.v }

// Step applies one outer step.
func (o *Nesterov) Step(global, mean []float32) {
	lr, mu := o.LR, o.Momentum
	threads.For(len(global), sumGrain, func(lo, hi int) {
		w := global[lo:hi]
		m := mean[lo:hi]
		v := o.v[lo:hi]
		m, v = m[:len(w)], v[:len(w)]
		for j := range w {
			g := w[j] - m[j]
			vj := float32(mu*v[j]) + g
			v[j] = vj
			w[j] -= float32(lr * float32(g+float32(mu*vj)))
		}
	})
}

// MarshalState encodes the learning rate, momentum and velocity.
func (o *Nesterov) MarshalState() ([]byte, error) {
	b := make([]byte, 0, 12+4*len(o.v))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(o.LR))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(o.Momentum))
	b = binary.LittleEndian.AppendUint32(b, uint32(len(o.v)))
	return lewire.AppendFloat32s(b, o.v), nil
}

// UnmarshalState restores the velocity. The learning rate and momentum in
// the state replace the configured ones only when they were saved equal;
// a resumed run may change them, which is logged by the driver.
func (o *Nesterov) UnmarshalState(b []byte) error {
	if len(b) < 12 {
		return fmt.Errorf("outer nesterov state of %d bytes is truncated", len(b))
	}
	n := int(binary.LittleEndian.Uint32(b[8:]))
	if n != len(o.v) || len(b) != 12+4*n {
		return fmt.Errorf("outer nesterov state holds %d values in %d bytes, the model has %d parameters", n, len(b), len(o.v))
	}
	r := reader{b: b[12:]}
	v := r.floats(n)
	if j := nonFinite(v); j >= 0 {
		return fmt.Errorf("outer nesterov state: velocity %d is %v", j, v[j])
	}
	copy(o.v, v)
	return nil
}

// savedHyper returns the learning rate and momentum a Nesterov state was
// saved with.
func savedHyper(b []byte) (lr, mu float32, ok bool) {
	if len(b) < 12 {
		return 0, 0, false
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(b)), math.Float32frombits(binary.LittleEndian.Uint32(b[4:])), true
}
