package layers

import (
	"fmt"
	"math"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

func init() {
	Register("ContrastiveLoss", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		cp := p.GetContrastiveLossParam()
		return &ContrastiveLoss{margin: cp.GetMargin(), legacy: cp.GetLegacyVersion()}, nil
	})
}

// ContrastiveLoss is Hadsell et al.'s loss over feature pairs a, b
// (bottoms 0 and 1, N x C x 1 x 1) and similarity labels y (bottom 2):
// sum_n [y d^2 + (1 - y) max(margin - d, 0)^2] / 2N with d = ||a - b||, or
// with max(margin - d^2, 0) for dissimilar pairs when legacy_version is set
// (contrastive_loss_param).
type ContrastiveLoss struct {
	margin float32
	legacy bool

	num, channels int
	diff          []float32 // a - b
	distSq        []float32 // per pair
}

// Type returns "ContrastiveLoss".
func (l *ContrastiveLoss) Type() string { return "ContrastiveLoss" }

// Arity is three bottoms and one top.
func (l *ContrastiveLoss) Arity() Arity {
	return Arity{ExactBottom: 3, MinBottom: -1, MaxBottom: -1, ExactTop: 1, MinTop: -1, MaxTop: -1, AutoTop: true}
}

// IsLoss reports that the top is a loss.
func (l *ContrastiveLoss) IsLoss() bool { return true }

// AllowForceBackward excludes the similarity labels.
func (l *ContrastiveLoss) AllowForceBackward(bottom int) bool { return bottom != 2 }

// Params returns nil.
func (l *ContrastiveLoss) Params() []*tensor.Blob { return nil }

// Setup has nothing to check beyond Reshape's checks.
func (l *ContrastiveLoss) Setup(bottom, top []*tensor.Blob) error { return nil }

// Reshape checks the shapes (Caffe's legacy 4-D accessors) and makes the top
// a scalar.
func (l *ContrastiveLoss) Reshape(bottom, top []*tensor.Blob) error {
	if err := checkLossBottoms(bottom); err != nil {
		return err
	}
	a, b, y := bottom[0], bottom[1], bottom[2]
	for _, blob := range bottom {
		if blob.NumAxes() > 4 {
			return fmt.Errorf("bottoms must have at most 4 axes, got %s", blob.ShapeString())
		}
	}
	switch {
	case a.Channels() != b.Channels():
		return fmt.Errorf("the feature bottoms must have the same channels: %s vs %s", a.ShapeString(), b.ShapeString())
	case a.Height() != 1 || a.Width() != 1 || b.Height() != 1 || b.Width() != 1:
		return fmt.Errorf("the feature bottoms must be N x C x 1 x 1: %s, %s", a.ShapeString(), b.ShapeString())
	case y.Channels() != 1 || y.Height() != 1 || y.Width() != 1:
		return fmt.Errorf("the label bottom must be N x 1 x 1 x 1, got %s", y.ShapeString())
	case a.Num() != b.Num() || y.Num() != a.Num():
		return fmt.Errorf("bottoms must have the same number of examples: %s, %s, %s", a.ShapeString(), b.ShapeString(), y.ShapeString())
	}
	l.num, l.channels = a.Num(), a.Channels()
	l.diff = growFloats(l.diff, a.Count())
	l.distSq = growFloats(l.distSq, l.num)
	top[0].Reshape()
	return nil
}

// Forward computes the loss.
func (l *ContrastiveLoss) Forward(bottom, top []*tensor.Blob) {
	a, b, y := bottom[0].Data, bottom[1].Data, bottom[2].Data
	d := l.diff[:len(a)]
	b = b[:len(a)]
	for i, v := range a {
		d[i] = v - b[i]
	}
	C := l.channels
	var loss float32
	for n := 0; n < l.num; n++ {
		row := d[n*C : (n+1)*C]
		ds := float32(dot64(row, row))
		l.distSq[n] = ds
		if int(y[n]) != 0 {
			loss += ds
		} else if l.legacy {
			loss += max(l.margin-ds, 0)
		} else {
			dist := max(l.margin-float32(math.Sqrt(float64(ds))), 0)
			loss += dist * dist
		}
	}
	top[0].Data[0] = loss / float32(l.num) / 2
}

// Backward computes the gradients of both feature bottoms.
func (l *ContrastiveLoss) Backward(top []*tensor.Blob, propagateDown []bool, bottom []*tensor.Blob) {
	y := bottom[2].Data
	C := l.channels
	for i := 0; i < 2; i++ {
		if !propagateDown[i] {
			continue
		}
		sign := float32(1)
		if i == 1 {
			sign = -1
		}
		alpha := sign * top[0].Diff[0] / float32(l.num)
		out := bottom[i].Diff
		for n := 0; n < l.num; n++ {
			row := l.diff[n*C : (n+1)*C]
			o := out[n*C : (n+1)*C]
			o = o[:len(row)]
			var k float32
			if int(y[n]) != 0 {
				k = alpha
			} else {
				var mdist float32
				if l.legacy {
					mdist = l.margin - l.distSq[n]
					k = -alpha
				} else {
					dist := float32(math.Sqrt(float64(l.distSq[n])))
					mdist = l.margin - dist
					k = -alpha * mdist / (dist + 1e-4)
				}
				if !(mdist > 0) {
					clear(o)
					continue
				}
			}
			for j, v := range row {
				o[j] = k * v
			}
		}
	}
}
