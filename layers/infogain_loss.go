package layers

import (
	"errors"
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("InfogainLoss", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ip := p.GetInfogainLossParam()
		l := &InfogainLoss{
			axis:          int(ip.GetAxis()),
			source:        ip.GetSource(),
			normalization: pb.LossParameter_VALID,
			softmax:       newSoftmax(int(ip.GetAxis())),
			prob:          &tensor.Blob{},
		}
		l.probTop = []*tensor.Blob{l.prob}
		if lp := p.GetLossParam(); lp != nil {
			if lp.Normalize != nil {
				return nil, errors.New("loss_param.normalize is deprecated for InfogainLoss; use normalization")
			}
			if lp.IgnoreLabel != nil {
				l.hasIgnore, l.ignore = true, int(lp.GetIgnoreLabel())
			}
			l.normalization = lp.GetNormalization()
		}
		if err := checkNormalization(l.normalization); err != nil {
			return nil, err
		}
		return l, nil
	})
}

// InfogainLoss is the multinomial logistic loss weighted by an "infogain"
// matrix H (K x K): with p = softmax(bottom[0]) along infogain_loss_param.axis
// (default 1), the loss of a prediction with label y is
// -sum_k H[y,k] log(max(p_k, 1e-20)), normalised by loss_param.normalization
// (default VALID). H is bottom[2] when given, else the .binaryproto named
// by infogain_loss_param.source. Labels equal to loss_param.ignore_label are
// skipped; other labels outside [0, K) are reported by Err. An optional
// second top receives the probabilities.
type InfogainLoss struct {
	axis          int
	source        string
	hasIgnore     bool
	ignore        int
	normalization pb.LossParameter_NormalizationMode

	softmax   *Softmax
	prob      *tensor.Blob
	probTop   []*tensor.Blob // {prob}, the internal softmax's top
	infogain  *tensor.Blob   // H loaded from source, nil when it is bottom[2]
	sumRows   []float32
	outer     int
	inner     int
	numLabels int
	err       error
}

// Type returns "InfogainLoss".
func (l *InfogainLoss) Type() string { return "InfogainLoss" }

// Arity is two or three bottoms and one or two tops.
func (l *InfogainLoss) Arity() Arity {
	return Arity{ExactBottom: -1, MinBottom: 2, MaxBottom: 3, ExactTop: -1, MinTop: 1, MaxTop: 2, AutoTop: true}
}

// IsLoss reports that the first top is a loss.
func (l *InfogainLoss) IsLoss() bool { return true }

// AllowForceBackward excludes the labels and the infogain matrix.
func (l *InfogainLoss) AllowForceBackward(bottom int) bool { return bottom == 0 }

// Params returns nil.
func (l *InfogainLoss) Params() []*tensor.Blob { return nil }

// Err reports a label out of range in the last Forward.
func (l *InfogainLoss) Err() error { return l.err }

// Setup sets up the internal softmax and loads H when it is not a bottom.
func (l *InfogainLoss) Setup(bottom, top []*tensor.Blob) error {
	if err := l.softmax.Setup(bottom[:1], l.probTop); err != nil {
		return fmt.Errorf("infogain_loss_param.axis: %w", err)
	}
	if len(bottom) < 3 {
		if l.source == "" {
			return errors.New("infogain matrix source must be specified (infogain_loss_param.source) when there is no third bottom")
		}
		bp, err := caffe.LoadBlobProto(l.source)
		if err != nil {
			return fmt.Errorf("loading the infogain matrix: %w", err)
		}
		l.infogain = &tensor.Blob{}
		if err := caffe.BlobFromProto(l.infogain, bp, true); err != nil {
			return fmt.Errorf("infogain matrix %s: %w", l.source, err)
		}
	}
	return nil
}

func (l *InfogainLoss) matrix(bottom []*tensor.Blob) *tensor.Blob {
	if len(bottom) > 2 {
		return bottom[2]
	}
	return l.infogain
}

// Reshape checks the label count and H's size and sizes the tops.
func (l *InfogainLoss) Reshape(bottom, top []*tensor.Blob) error {
	if err := checkLossBottoms(bottom); err != nil {
		return err
	}
	if err := l.softmax.Reshape(bottom[:1], l.probTop); err != nil {
		return err
	}
	axis, err := bottom[0].CheckAxis(l.axis)
	if err != nil {
		return fmt.Errorf("infogain_loss_param.axis: %w", err)
	}
	l.outer = bottom[0].CountRange(0, axis)
	l.inner = bottom[0].CountFrom(axis + 1)
	if l.outer*l.inner != bottom[1].Count() {
		return fmt.Errorf("number of labels must match number of predictions: predictions %s with axis %d need %d labels, got %s",
			bottom[0].ShapeString(), axis, l.outer*l.inner, bottom[1].ShapeString())
	}
	l.numLabels = bottom[0].Dim(axis)
	h := l.matrix(bottom)
	if h.Count() != l.numLabels*l.numLabels {
		return fmt.Errorf("infogain matrix H must be %dx%d, got shape %s", l.numLabels, l.numLabels, h.ShapeString())
	}
	l.sumRows = growFloats(l.sumRows, l.numLabels)
	if len(bottom) == 2 {
		l.sumRowsOf(h)
	}
	if len(top) > 1 {
		top[1].ReshapeLike(bottom[0])
	}
	top[0].Reshape()
	return nil
}

func (l *InfogainLoss) sumRowsOf(h *tensor.Blob) {
	K := l.numLabels
	for r := 0; r < K; r++ {
		var s float32
		for _, v := range h.Data[r*K : (r+1)*K] {
			s += v
		}
		l.sumRows[r] = s
	}
}

// label returns the label at i, or -1 when it is ignored or out of range
// (recording the error).
func (l *InfogainLoss) label(labels []float32, i int) int {
	k := int(labels[i])
	if l.hasIgnore && k == l.ignore {
		return -1
	}
	if k < 0 || k >= l.numLabels {
		if l.err == nil {
			l.err = fmt.Errorf("label %g at position %d is outside [0, %d): %w", labels[i], i, l.numLabels, errBadIndex)
		}
		return -1
	}
	return k
}

// Forward computes the probabilities and the loss.
func (l *InfogainLoss) Forward(bottom, top []*tensor.Blob) {
	l.err = nil
	l.softmax.Forward(bottom[:1], l.probTop)
	prob, labels, h := l.prob.Data, bottom[1].Data, l.matrix(bottom).Data
	K, inner := l.numLabels, l.inner
	var loss float32
	count := 0
	for i := 0; i < l.outer; i++ {
		for j := 0; j < inner; j++ {
			y := l.label(labels, i*inner+j)
			if y < 0 {
				continue
			}
			for k := 0; k < K; k++ {
				p := max(prob[(i*K+k)*inner+j], logThreshold)
				loss -= h[y*K+k] * float32(math.Log(float64(p)))
			}
			count++
		}
	}
	top[0].Data[0] = loss / lossNormalizer(l.normalization, l.outer, l.inner, count)
	if len(top) > 1 {
		top[1].ShareData(l.prob)
	}
}

// Backward computes (p_k sum_k' H[y,k'] - H[y,k]) * weight / normaliser.
func (l *InfogainLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	if !propagateDown[0] {
		return
	}
	h := l.matrix(bottom)
	if len(bottom) > 2 {
		l.sumRowsOf(h)
	}
	prob, labels, dx := l.prob.Data, bottom[1].Data, bottom[0].Diff
	K, inner := l.numLabels, l.inner
	count := 0
	for i := 0; i < l.outer; i++ {
		for j := 0; j < inner; j++ {
			k := int(labels[i*inner+j])
			if (l.hasIgnore && k == l.ignore) || k < 0 || k >= K {
				for c := 0; c < K; c++ {
					dx[(i*K+c)*inner+j] = 0
				}
				continue
			}
			for c := 0; c < K; c++ {
				at := (i*K+c)*inner + j
				dx[at] = prob[at]*l.sumRows[k] - h.Data[k*K+c]
			}
			count++
		}
	}
	w := top[0].Diff[0] / lossNormalizer(l.normalization, l.outer, l.inner, count)
	dx = dx[:len(prob)]
	for i := range dx {
		dx[i] *= w
	}
}
