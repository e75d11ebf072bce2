package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("SoftmaxWithLoss", newSoftmaxWithLoss)
}

// SoftmaxWithLoss is Caffe's SoftmaxWithLossLayer: the softmax of bottom 0
// along softmax_param.axis, then the mean (by loss_param.normalization)
// negative log-probability of the labels in bottom 1. Labels equal to
// loss_param.ignore_label contribute neither loss nor gradient. An optional
// second top receives the probabilities.
type SoftmaxWithLoss struct {
	axisParam        int
	hasIgnore        bool
	ignore           int
	norm             pb.LossParameter_NormalizationMode
	outer, ch, inner int
	prob             *tensor.Blob
	err              error
}

func newSoftmaxWithLoss(p *pb.LayerParameter, ctx *Context) (Layer, error) {
	lp := p.GetLossParam()
	l := &SoftmaxWithLoss{axisParam: int(p.GetSoftmaxParam().GetAxis()), prob: &tensor.Blob{}}
	if lp != nil && lp.IgnoreLabel != nil {
		l.hasIgnore, l.ignore = true, int(lp.GetIgnoreLabel())
	}
	switch {
	case lp != nil && lp.Normalization == nil && lp.Normalize != nil:
		// Legacy: normalize true means VALID, false BATCH_SIZE.
		if lp.GetNormalize() {
			l.norm = pb.LossParameter_VALID
		} else {
			l.norm = pb.LossParameter_BATCH_SIZE
		}
	default:
		l.norm = lp.GetNormalization()
	}
	switch l.norm {
	case pb.LossParameter_FULL, pb.LossParameter_VALID, pb.LossParameter_BATCH_SIZE, pb.LossParameter_NONE:
	default:
		return nil, fmt.Errorf("unknown loss_param.normalization %v", l.norm)
	}
	return l, nil
}

// Type returns "SoftmaxWithLoss".
func (l *SoftmaxWithLoss) Type() string { return "SoftmaxWithLoss" }

// Arity: predictions and labels; the loss, and optionally the probabilities.
func (l *SoftmaxWithLoss) Arity() Arity {
	return Arity{ExactBottom: 2, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: 2, AutoTop: true}
}

// IsLoss reports true: top 0 has loss weight 1 by default.
func (l *SoftmaxWithLoss) IsLoss() bool { return true }

// AllowForceBackward is false for the labels.
func (l *SoftmaxWithLoss) AllowForceBackward(bottom int) bool { return bottom != 1 }

// Params returns nil.
func (l *SoftmaxWithLoss) Params() []*tensor.Blob { return nil }

// Err reports a label outside [0, channels) seen by the last Forward.
func (l *SoftmaxWithLoss) Err() error { return l.err }

// Setup checks the axis.
func (l *SoftmaxWithLoss) Setup(bottom, top []*tensor.Blob) error {
	if _, err := bottom[0].CheckAxis(l.axisParam); err != nil {
		return fmt.Errorf("softmax_param.axis: %w", err)
	}
	return nil
}

// Reshape sizes the scalar loss, the probabilities and the optional top.
func (l *SoftmaxWithLoss) Reshape(bottom, top []*tensor.Blob) error {
	if bottom[0].NumAxes() == 0 || bottom[1].NumAxes() == 0 || bottom[0].Dim(0) != bottom[1].Dim(0) {
		return fmt.Errorf("the data and label should have the same first dimension: data %s, label %s", bottom[0].ShapeString(), bottom[1].ShapeString())
	}
	axis, err := bottom[0].CheckAxis(l.axisParam)
	if err != nil {
		return fmt.Errorf("softmax_param.axis: %w", err)
	}
	l.outer = bottom[0].CountRange(0, axis)
	l.ch = bottom[0].Dim(axis)
	l.inner = bottom[0].CountFrom(axis + 1)
	if l.outer*l.inner != bottom[1].Count() {
		return fmt.Errorf("number of labels must match number of predictions: predictions %s along axis %d need %d labels, got %d", bottom[0].ShapeString(), axis, l.outer*l.inner, bottom[1].Count())
	}
	l.prob.ReshapeLike(bottom[0])
	top[0].Reshape()
	if len(top) > 1 {
		top[1].ReshapeLike(bottom[0])
	}
	return nil
}

// normalizer is Caffe's SoftmaxWithLossLayer::get_normalizer.
func (l *SoftmaxWithLoss) normalizer(valid int) float32 {
	var n float32
	switch l.norm {
	case pb.LossParameter_FULL:
		n = float32(l.outer * l.inner)
	case pb.LossParameter_VALID:
		n = float32(valid)
	case pb.LossParameter_BATCH_SIZE:
		n = float32(l.outer)
	default:
		n = 1
	}
	return max(n, 1)
}

// label returns the label at i, or -1 (and records an error) when it is out
// of range; ignored reports an ignore_label.
func (l *SoftmaxWithLoss) label(labels []float32, i int) (lab int, ignored bool) {
	lab = int(labels[i])
	if l.hasIgnore && lab == l.ignore {
		return lab, true
	}
	if lab < 0 || lab >= l.ch {
		if l.err == nil {
			l.err = fmt.Errorf("label %d at position %d is outside [0, %d)", lab, i, l.ch)
		}
		return -1, true
	}
	return lab, false
}

// Forward computes the probabilities and the loss.
func (l *SoftmaxWithLoss) Forward(bottom, top []*tensor.Blob) {
	l.err = nil
	softmaxForward(bottom[0].Data, l.prob.Data, 0, l.outer, l.ch, l.inner)
	prob, labels := l.prob.Data, bottom[1].Data
	dim := l.ch * l.inner
	var loss float32
	count := 0
	for i := 0; i < l.outer; i++ {
		for j := 0; j < l.inner; j++ {
			lab, skip := l.label(labels, i*l.inner+j)
			if skip {
				continue
			}
			p := max(prob[i*dim+lab*l.inner+j], floatMinNormal)
			loss -= float32(math.Log(float64(p)))
			count++
		}
	}
	top[0].Data[0] = loss / l.normalizer(count)
	if len(top) > 1 {
		copy(top[1].Data, prob)
	}
}

// Backward computes (prob - onehot(label)) * loss_weight / normalizer; the
// labels take no gradient.
func (l *SoftmaxWithLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	dx, labels := bottom[0].Diff, bottom[1].Data
	copy(dx, l.prob.Data)
	dim := l.ch * l.inner
	count := 0
	for i := 0; i < l.outer; i++ {
		for j := 0; j < l.inner; j++ {
			lab, skip := l.label(labels, i*l.inner+j)
			if skip {
				for c := 0; c < l.ch; c++ {
					dx[i*dim+c*l.inner+j] = 0
				}
				continue
			}
			dx[i*dim+lab*l.inner+j]--
			count++
		}
	}
	scale := top[0].Diff[0] / l.normalizer(count)
	for i := range dx {
		dx[i] *= scale
	}
}
