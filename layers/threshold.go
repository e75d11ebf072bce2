package layers

import "github.com/sparknet/sparknet/caffe/pb"

func init() {
	Register("Threshold", func(p *pb.LayerParameter, ctx *Context) (Layer, error) {
		l := &Threshold{t: p.GetThresholdParam().GetThreshold()}
		l.init("Threshold", false, l.forward, thresholdBackward)
		return l, nil
	})
}

// Threshold outputs 1 where x > threshold and 0 elsewhere
// (threshold_param.threshold, default 0). Its gradient is zero wherever it
// exists; Caffe does not implement it, sparknet writes zeros.
type Threshold struct {
	neuron
	t float32
}

func (l *Threshold) forward(x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		if v > l.t {
			y[i] = 1
		} else {
			y[i] = 0
		}
	}
}

func thresholdBackward(_, _, _, dx []float32) { clear(dx) }
