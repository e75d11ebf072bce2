package layers

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// Fill initialises b's values as Caffe's filler named by p.Type does
// (include/caffe/filler.hpp), drawing random numbers from r. A nil p fills
// with the constant 0. The supported types are constant, uniform, gaussian
// (with optional sparse masking), xavier, msra, positive_unitball and
// bilinear; any other type is an error.
//
// Fan-in and fan-out follow Caffe: fan_in = count/shape[0] and
// fan_out = count/shape[1], where a missing axis counts as 1. Arithmetic on
// scales is done in float32 as Caffe's Dtype arithmetic is.
func Fill(b *tensor.Blob, p *pb.FillerParameter, r *rand.Rand) error {
	if p == nil {
		clear(b.Data)
		return nil
	}
	typ := p.GetType()
	if typ != "gaussian" && p.GetSparse() != -1 {
		return fmt.Errorf("filler %q: sparse=%d is supported only by the gaussian filler", typ, p.GetSparse())
	}
	if b.Count() == 0 && typ != "constant" {
		return fmt.Errorf("filler %q: blob of shape %s is empty", typ, b.ShapeString())
	}
	switch typ {
	case "constant":
		v := p.GetValue()
		for i := range b.Data {
			b.Data[i] = v
		}
	case "uniform":
		fillUniform(b.Data, p.GetMin(), p.GetMax(), r)
	case "gaussian":
		return fillGaussian(b, p, r)
	case "xavier":
		n := varianceNormFan(b, p.GetVarianceNorm())
		scale := float32(math.Sqrt(float64(3 / n)))
		fillUniform(b.Data, -scale, scale, r)
	case "msra":
		n := varianceNormFan(b, p.GetVarianceNorm())
		std := float32(math.Sqrt(float64(2 / n)))
		fillNormal(b.Data, 0, std, r)
	case "positive_unitball":
		fillUniform(b.Data, 0, 1, r)
		num := b.LegacyShape(0)
		if num == 0 {
			return errors.New("filler positive_unitball: blob has no rows")
		}
		dim := b.Count() / num
		for i := 0; i < num; i++ {
			row := b.Data[i*dim : (i+1)*dim]
			var sum float32
			for _, v := range row {
				sum += v
			}
			for j := range row {
				row[j] /= sum
			}
		}
	case "bilinear":
		return fillBilinear(b)
	default:
		return fmt.Errorf("unknown filler type %q (want constant, uniform, gaussian, xavier, msra, positive_unitball or bilinear)", typ)
	}
	return nil
}

// varianceNormFan returns the n of Caffe's xavier and msra fillers: fan_in,
// fan_out, or their average (computed in float32).
func varianceNormFan(b *tensor.Blob, norm pb.FillerParameter_VarianceNorm) float32 {
	count := b.Count()
	fanIn := count / max(b.LegacyShape(0), 1)
	fanOut := count / max(b.LegacyShape(1), 1)
	switch norm {
	case pb.FillerParameter_AVERAGE:
		return float32(fanIn+fanOut) / 2
	case pb.FillerParameter_FAN_OUT:
		return float32(fanOut)
	default:
		return float32(fanIn)
	}
}

// fillUniform draws from U[lo, hi).
func fillUniform(d []float32, lo, hi float32, r *rand.Rand) {
	width := float64(hi) - float64(lo)
	for i := range d {
		v := float32(float64(lo) + width*r.Float64())
		if v >= hi && hi > lo { // rounding to float32 may reach hi
			v = math.Nextafter32(hi, lo)
		}
		d[i] = v
	}
}

// fillNormal draws from N(mean, std^2).
func fillNormal(d []float32, mean, std float32, r *rand.Rand) {
	for i := range d {
		d[i] = float32(float64(mean) + float64(std)*r.NormFloat64())
	}
}

// fillGaussian is Caffe's GaussianFiller: normal values, then, when sparse
// >= 0, each value is kept with probability sparse/shape[0] and zeroed
// otherwise (a Bernoulli mask).
func fillGaussian(b *tensor.Blob, p *pb.FillerParameter, r *rand.Rand) error {
	fillNormal(b.Data, p.GetMean(), p.GetStd(), r)
	sparse := p.GetSparse()
	if sparse < -1 {
		return fmt.Errorf("filler gaussian: sparse must be >= -1, got %d", sparse)
	}
	if sparse < 0 {
		return nil
	}
	if b.NumAxes() < 1 {
		return errors.New("filler gaussian: sparse needs a blob with at least one axis")
	}
	prob := float64(float32(sparse) / float32(b.Shape()[0]))
	if prob > 1 {
		return fmt.Errorf("filler gaussian: sparse=%d exceeds the number of outputs %d", sparse, b.Shape()[0])
	}
	for i := range b.Data {
		if r.Float64() >= prob {
			b.Data[i] = 0
		}
	}
	return nil
}

// fillBilinear is Caffe's BilinearFiller: every K x K filter of a 4-D blob
// holds the bilinear-interpolation kernel for upsampling by ceil(K/2).
func fillBilinear(b *tensor.Blob) error {
	if b.NumAxes() != 4 {
		return fmt.Errorf("filler bilinear: blob must have 4 axes, got shape %s", b.ShapeString())
	}
	w, h := b.Width(), b.Height()
	if w != h {
		return fmt.Errorf("filler bilinear: filter must be square, got %dx%d", h, w)
	}
	f := int(math.Ceil(float64(w) / 2))
	c := float32(float64(2*f-1-f%2) / (2 * float64(f)))
	ff := float32(f)
	for i := range b.Data {
		x := float32(i % w)
		y := float32((i / w) % h)
		b.Data[i] = (1 - fillerAbs32(x/ff-c)) * (1 - fillerAbs32(y/ff-c))
	}
	return nil
}

func fillerAbs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
