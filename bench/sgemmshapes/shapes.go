// Package sgemmshapes lists the SGEMM shapes sparknet's benchmarks measure:
// squares, and the products that convolution and inner-product layers of
// LeNet, cifar10_quick and CaffeNet run in their forward and backward
// passes, with the whole minibatch in one im2col GEMM.
package sgemmshapes

// Shape is one Sgemm call: C[M x N] = op(A)[M x K] * op(B)[K x N].
type Shape struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // "square", "conv" or "ip"
	TransA bool   `json:"transA"`
	TransB bool   `json:"transB"`
	M      int    `json:"m"`
	N      int    `json:"n"`
	K      int    `json:"k"`
}

// Flops is the number of floating-point operations of the product.
func (s Shape) Flops() float64 { return 2 * float64(s.M) * float64(s.N) * float64(s.K) }

// conv returns the three products of a convolution layer with cout output
// channels, kdim = cin*kh*kw and n = output pixels x batch:
// forward Y = W * col, weight gradient dW = dY * col^T, data gradient
// dcol = W^T * dY.
func conv(name string, cout, kdim, n int) []Shape {
	return []Shape{
		{Name: name + "-fwd", Kind: "conv", M: cout, N: n, K: kdim},
		{Name: name + "-bwdW", Kind: "conv", TransB: true, M: cout, N: kdim, K: n},
		{Name: name + "-bwdD", Kind: "conv", TransA: true, M: kdim, N: n, K: cout},
	}
}

// ip returns the three products of an inner-product layer with Caffe's
// weight layout (out x in): forward Y = X * W^T, weight gradient
// dW = dY^T * X, data gradient dX = dY * W.
func ip(name string, batch, in, out int) []Shape {
	return []Shape{
		{Name: name + "-fwd", Kind: "ip", TransB: true, M: batch, N: out, K: in},
		{Name: name + "-bwdW", Kind: "ip", TransA: true, M: out, N: in, K: batch},
		{Name: name + "-bwdD", Kind: "ip", M: batch, N: in, K: out},
	}
}

// Squares are the square products.
var Squares = []Shape{
	{Kind: "square", Name: "sq256", M: 256, N: 256, K: 256},
	{Kind: "square", Name: "sq512", M: 512, N: 512, K: 512},
	{Kind: "square", Name: "sq1024", M: 1024, N: 1024, K: 1024},
	{Kind: "square", Name: "sq2048", M: 2048, N: 2048, K: 2048},
}

// Layers are the layer products: LeNet (batch 64), cifar10_quick (batch
// 100), CaffeNet (batch 8).
var Layers = concat(
	conv("lenet-conv1", 20, 1*5*5, 24*24*64),
	conv("lenet-conv2", 50, 20*5*5, 8*8*64),
	ip("lenet-ip1", 64, 800, 500),
	ip("lenet-ip2", 64, 500, 10),
	conv("cifar-conv1", 32, 3*5*5, 32*32*100),
	conv("cifar-conv2", 32, 32*5*5, 16*16*100),
	conv("cifar-conv3", 64, 32*5*5, 8*8*100),
	ip("cifar-ip1", 100, 64*4*4, 64),
	conv("caffenet-conv1", 96, 3*11*11, 55*55*8),
	ip("caffenet-fc6", 8, 9216, 4096),
)

// All is Squares followed by Layers.
var All = concat(Squares, Layers)

func concat(lists ...[]Shape) []Shape {
	var out []Shape
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
