package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("SigmoidCrossEntropyLoss", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &SigmoidCrossEntropyLoss{normalization: pb.LossParameter_BATCH_SIZE}
		if lp := p.GetLossParam(); lp != nil {
			if lp.IgnoreLabel != nil {
				l.hasIgnore, l.ignore = true, int(lp.GetIgnoreLabel())
			}
			switch {
			case lp.Normalization != nil:
				l.normalization = lp.GetNormalization()
			case lp.Normalize != nil && lp.GetNormalize():
				l.normalization = pb.LossParameter_VALID
			}
		}
		if err := checkNormalization(l.normalization); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// SigmoidCrossEntropyLoss is the cross-entropy of sigmoid(bottom[0])
// against targets in [0, 1] (bottom[1], same count), computed from the
// logits in Caffe's numerically stable form. Targets equal to
// loss_param.ignore_label are skipped. The normaliser is
// loss_param.normalization, BATCH_SIZE when unset (or VALID when the
// deprecated normalize is true).
type SigmoidCrossEntropyLoss struct {
	hasIgnore     bool
	ignore        int
	normalization pb.LossParameter_NormalizationMode

	outer, inner int
	sig          []float32
	normalizer   float32
}

// Type returns "SigmoidCrossEntropyLoss".
func (l *SigmoidCrossEntropyLoss) Type() string { return "SigmoidCrossEntropyLoss" }

// Arity is two bottoms and one top.
func (l *SigmoidCrossEntropyLoss) Arity() Arity { return lossArity }

// IsLoss reports that the top is a loss.
func (l *SigmoidCrossEntropyLoss) IsLoss() bool { return true }

// AllowForceBackward excludes the targets.
func (l *SigmoidCrossEntropyLoss) AllowForceBackward(bottom int) bool { return bottom != 1 }

// Params returns nil.
func (l *SigmoidCrossEntropyLoss) Params() []*tensor.Blob { return nil }

// Setup has nothing to check.
func (l *SigmoidCrossEntropyLoss) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape checks the bottoms and makes the top a scalar.
func (l *SigmoidCrossEntropyLoss) Reshape(bottom, top []*tensor.Blob) error {
	if err := checkLossBottoms(bottom); err != nil {
		return err
	}
	if bottom[0].Count() != bottom[1].Count() {
		return fmt.Errorf("inputs must have the same count: %s vs %s", bottom[0].ShapeString(), bottom[1].ShapeString())
	}
	l.outer = bottom[0].Dim(0)
	l.inner = bottom[0].CountFrom(1)
	l.sig = growFloats(l.sig, bottom[0].Count())
	top[0].Reshape()
	return nil
}

// Forward computes the sigmoids and the loss.
func (l *SigmoidCrossEntropyLoss) Forward(bottom, top []*tensor.Blob) {
	x, t := bottom[0].Data, bottom[1].Data
	sigmoidForward(x, l.sig)
	t = t[:len(x)]
	var loss float32
	valid := 0
	for i, v := range x {
		if l.hasIgnore && int(t[i]) == l.ignore {
			continue
		}
		var pos float32
		if v >= 0 {
			pos = 1
		}
		e := float32(math.Log(1 + math.Exp(float64(v-2*v*pos))))
		loss -= v*(t[i]-pos) - e
		valid++
	}
	l.normalizer = lossNormalizer(l.normalization, l.outer, l.inner, valid)
	top[0].Data[0] = loss / l.normalizer
}

// Backward computes (sigmoid(x) - t) * weight / normaliser, zero for
// ignored targets.
func (l *SigmoidCrossEntropyLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	t, dx := bottom[1].Data, bottom[0].Diff
	w := top[0].Diff[0] / l.normalizer
	t, dx = t[:len(l.sig)], dx[:len(l.sig)]
	for i, s := range l.sig {
		if l.hasIgnore && int(t[i]) == l.ignore {
			dx[i] = 0
			continue
		}
		dx[i] = (s - t[i]) * w
	}
}
