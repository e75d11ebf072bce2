package layers

import (
	"errors"
	"fmt"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("Accuracy", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		ap := p.GetAccuracyParam()
		l := &Accuracy{topK: int(ap.GetTopK()), axisParam: int(ap.GetAxis())}
		if ap != nil && ap.IgnoreLabel != nil {
			l.hasIgnore, l.ignore = true, int(ap.GetIgnoreLabel())
		}
		if l.topK < 1 {
			return nil, errors.New("accuracy_param.top_k must be positive")
		}
		return l, nil
	})
}

// Accuracy is Caffe's AccuracyLayer: the fraction of positions whose label
// (bottom 1) is among the top_k scores of bottom 0 along accuracy_param.axis;
// a score tied with the label's counts against it, as in Caffe. Labels equal
// to ignore_label are skipped. An optional second top receives the accuracy
// of each class.
type Accuracy struct {
	topK, axisParam  int
	hasIgnore        bool
	ignore           int
	outer, ch, inner int
	counts           []float32
	err              error
}

// Type returns "Accuracy".
func (l *Accuracy) Type() string { return "Accuracy" }

// Arity: scores and labels; the accuracy and optionally per-class accuracies.
func (l *Accuracy) Arity() Arity {
	return Arity{ExactBottom: 2, MinBottom: -1, MaxBottom: -1, ExactTop: -1, MinTop: 1, MaxTop: 2}
}

// AllowForceBackward is false: accuracy has no gradient.
func (l *Accuracy) AllowForceBackward(int) bool { return false }

// Params returns nil.
func (l *Accuracy) Params() []*tensor.Blob { return nil }

// Err reports a label outside [0, classes) seen by the last Forward.
func (l *Accuracy) Err() error { return l.err }

// Setup checks the axis.
func (l *Accuracy) Setup(bottom, top []*tensor.Blob) error {
	if _, err := bottom[0].CheckAxis(l.axisParam); err != nil {
		return fmt.Errorf("accuracy_param.axis: %w", err)
	}
	return nil
}

// Reshape sizes the scalar top (and the per-class top).
func (l *Accuracy) Reshape(bottom, top []*tensor.Blob) error {
	axis, err := bottom[0].CheckAxis(l.axisParam)
	if err != nil {
		return fmt.Errorf("accuracy_param.axis: %w", err)
	}
	l.outer = bottom[0].CountRange(0, axis)
	l.ch = bottom[0].Dim(axis)
	l.inner = bottom[0].CountFrom(axis + 1)
	if l.topK > l.ch {
		return fmt.Errorf("top_k %d must be less than or equal to the number of classes %d", l.topK, l.ch)
	}
	if l.outer*l.inner != bottom[1].Count() {
		return fmt.Errorf("number of labels must match number of predictions: predictions %s along axis %d need %d labels, got %d", bottom[0].ShapeString(), axis, l.outer*l.inner, bottom[1].Count())
	}
	top[0].Reshape()
	if len(top) > 1 {
		top[1].Reshape(l.ch)
		if cap(l.counts) < l.ch {
			l.counts = make([]float32, l.ch)
		}
		l.counts = l.counts[:l.ch]
	}
	return nil
}

// Forward counts the hits.
func (l *Accuracy) Forward(bottom, top []*tensor.Blob) {
	l.err = nil
	x, labels := bottom[0].Data, bottom[1].Data
	dim := l.ch * l.inner
	var perClass []float32
	if len(top) > 1 {
		perClass = top[1].Data
		clear(perClass)
		clear(l.counts)
	}
	var hits float32
	count := 0
	for i := 0; i < l.outer; i++ {
		for j := 0; j < l.inner; j++ {
			lab := int(labels[i*l.inner+j])
			if l.hasIgnore && lab == l.ignore {
				continue
			}
			if lab < 0 || lab >= l.ch {
				if l.err == nil {
					l.err = fmt.Errorf("label %d at position %d is outside [0, %d)", lab, i*l.inner+j, l.ch)
				}
				continue
			}
			if perClass != nil {
				l.counts[lab]++
			}
			xs := x[i*dim+j:]
			truth := xs[lab*l.inner]
			// The label counts itself as one score >= truth.
			better := -1
			for c := 0; c < l.ch && better < l.topK; c++ {
				if xs[c*l.inner] >= truth {
					better++
				}
			}
			if better < l.topK {
				hits++
				if perClass != nil {
					perClass[lab]++
				}
			}
			count++
		}
	}
	if count > 0 {
		top[0].Data[0] = hits / float32(count)
	} else {
		top[0].Data[0] = 0
	}
	for c := range perClass {
		if l.counts[c] > 0 {
			perClass[c] /= l.counts[c]
		}
	}
}

// Backward does nothing: accuracy is not differentiable.
func (l *Accuracy) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {}
