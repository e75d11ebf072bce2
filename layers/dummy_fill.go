package layers

import "math"

// Fast refills for DummyData, whose gaussian and uniform tops are redrawn
// by every Forward (Caffe's semantics): one seed is drawn from the layer's
// generator per top and Forward, and each fixed block of fillBlock values
// is drawn from its own stream (seed, block index), in parallel. The values
// depend on the seed only, never on the thread count.

// fillBlock is the number of values drawn from one stream.
const fillBlock = 1 << 13

// blockRand draws the values of one block: SplitMix64 (a Weyl sequence
// through a mixing function), whose draws do not wait on one another as
// those of a multiplicative generator do, and a ziggurat for normal
// deviates.
type blockRand struct{ s uint64 }

// seed starts the stream of block b of seed at a pseudo-random point.
func (r *blockRand) seed(seed, b uint64) {
	r.s = mix64(seed ^ mix64(b+0x632be59bd9b4e019))
}

// uint64 returns the next 64 random bits.
func (r *blockRand) uint64() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// mix64 is SplitMix64's finaliser.
func mix64(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// float64 returns a uniform value in [0, 1).
func (r *blockRand) float64() float64 {
	return float64(r.uint64()>>11) / (1 << 53)
}

// normal returns a standard normal deviate by Marsaglia and Tsang's
// ziggurat (128 strips).
func (r *blockRand) normal() float64 {
	for {
		u := r.uint64()
		j := int32(u)
		i := u >> 32 & 0x7f
		x := float64(j) * float64(zigW[i])
		if uint32(max(j, -j)) < zigK[i] {
			return x
		}
		if i == 0 {
			// The tail beyond zigR.
			for {
				x = -math.Log(1-r.float64()) * (1 / zigR)
				y := -math.Log(1 - r.float64())
				if y+y >= x*x {
					break
				}
			}
			if j > 0 {
				return zigR + x
			}
			return -zigR - x
		}
		if zigF[i]+float32(r.float64())*(zigF[i-1]-zigF[i]) < float32(math.Exp(-0.5*x*x)) {
			return x
		}
	}
}

// The ziggurat's tables: the start of the tail zigR, and for each strip
// the acceptance bound zigK, the scale zigW from a 32-bit integer to x and
// the density zigF at its edge.
const zigR = 3.442619855899

var (
	zigK [128]uint32
	zigW [128]float32
	zigF [128]float32
)

func init() {
	const m = 1 << 31
	const v = 9.91256303526217e-3 // the area of each strip
	dn := zigR
	tn := dn
	q := v / math.Exp(-0.5*dn*dn)
	zigK[0] = uint32(dn / q * m)
	zigK[1] = 0
	zigW[0] = float32(q / m)
	zigW[127] = float32(dn / m)
	zigF[0] = 1
	zigF[127] = float32(math.Exp(-0.5 * dn * dn))
	for i := 126; i >= 1; i-- {
		dn = math.Sqrt(-2 * math.Log(v/dn+math.Exp(-0.5*dn*dn)))
		zigK[i+1] = uint32(dn / tn * m)
		tn = dn
		zigF[i] = float32(math.Exp(-0.5 * dn * dn))
		zigW[i] = float32(dn / m)
	}
}

// fillNormalBlock sets d to mean + std*N(0, 1), from stream (seed, block).
func fillNormalBlock(d []float32, mean, std float32, seed, block uint64) {
	var r blockRand
	r.seed(seed, block)
	for i := range d {
		d[i] = float32(float64(mean) + float64(std)*r.normal())
	}
}

// fillUniformBlock sets d to uniform values in [lo, hi), from stream
// (seed, block).
func fillUniformBlock(d []float32, lo, hi float32, seed, block uint64) {
	var r blockRand
	r.seed(seed, block)
	width := float64(hi) - float64(lo)
	for i := range d {
		v := float32(float64(lo) + width*r.float64())
		if v >= hi && hi > lo { // rounding to float32 may reach hi
			v = math.Nextafter32(hi, lo)
		}
		d[i] = v
	}
}
