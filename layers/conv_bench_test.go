package layers

import (
	"fmt"
	"os"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/tensor"
)

// BenchmarkLayers times forward and backward of the convolution and
// pooling layers of the benchmark nets (LeNet batch 64, cifar10_quick batch
// 100, CaffeNet batch 8), on the threads of the process-wide pool:
//
//	go test -run XXX -bench Layers ./layers
func BenchmarkLayers(b *testing.B) {
	cases := []struct {
		name, text string
		shape      []int
	}{
		{"lenet-conv1", `type: "Convolution" convolution_param { num_output: 20 kernel_size: 5 weight_filler { type: "xavier" } }`, []int{64, 1, 28, 28}},
		{"lenet-pool1", `type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }`, []int{64, 20, 24, 24}},
		{"lenet-conv2", `type: "Convolution" convolution_param { num_output: 50 kernel_size: 5 weight_filler { type: "xavier" } }`, []int{64, 20, 12, 12}},
		{"lenet-pool2", `type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }`, []int{64, 50, 8, 8}},
		{"cifar-conv1", `type: "Convolution" convolution_param { num_output: 32 pad: 2 kernel_size: 5 weight_filler { type: "gaussian" std: 0.0001 } }`, []int{100, 3, 32, 32}},
		{"cifar-pool1", `type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 }`, []int{100, 32, 32, 32}},
		{"cifar-conv2", `type: "Convolution" convolution_param { num_output: 32 pad: 2 kernel_size: 5 weight_filler { type: "gaussian" std: 0.01 } }`, []int{100, 32, 16, 16}},
		{"cifar-pool2", `type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 }`, []int{100, 32, 16, 16}},
		{"cifar-conv3", `type: "Convolution" convolution_param { num_output: 64 pad: 2 kernel_size: 5 weight_filler { type: "gaussian" std: 0.01 } }`, []int{100, 32, 8, 8}},
		{"cifar-pool3", `type: "Pooling" pooling_param { pool: AVE kernel_size: 3 stride: 2 }`, []int{100, 64, 8, 8}},
		{"caffenet-conv1", `type: "Convolution" convolution_param { num_output: 96 kernel_size: 11 stride: 4 weight_filler { type: "gaussian" std: 0.01 } }`, []int{8, 3, 227, 227}},
		{"caffenet-pool1", `type: "Pooling" pooling_param { pool: MAX kernel_size: 3 stride: 2 }`, []int{8, 96, 55, 55}},
		{"caffenet-conv2", `type: "Convolution" convolution_param { num_output: 256 pad: 2 kernel_size: 5 group: 2 weight_filler { type: "gaussian" std: 0.01 } }`, []int{8, 96, 27, 27}},
		{"caffenet-conv3", `type: "Convolution" convolution_param { num_output: 384 pad: 1 kernel_size: 3 weight_filler { type: "gaussian" std: 0.01 } }`, []int{8, 256, 13, 13}},
		{"caffenet-conv4", `type: "Convolution" convolution_param { num_output: 384 pad: 1 kernel_size: 3 group: 2 weight_filler { type: "gaussian" std: 0.01 } }`, []int{8, 384, 13, 13}},
	}
	for _, c := range cases {
		t := &testing.T{}
		l := coreLayer(t, pb.Phase_TRAIN, `name: "l" `+c.text)
		x := gaussBlob(coreRand(), 1, c.shape...)
		top := blobs(1)
		bottom := []*tensor.Blob{x}
		if err := l.Setup(bottom, top); err != nil {
			b.Fatal(err)
		}
		if err := l.Reshape(bottom, top); err != nil {
			b.Fatal(err)
		}
		r := coreRand()
		for i := range top[0].Diff {
			top[0].Diff[i] = float32(r.NormFloat64())
		}
		prop := []bool{os.Getenv("NOPROP") == "" && c.shape[1] != 3 && c.shape[1] != 1} // as in the nets: no gradient for the data
		b.Run(fmt.Sprintf("%s/fwd", c.name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				l.Forward(bottom, top)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
		})
		b.Run(fmt.Sprintf("%s/bwd", c.name), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				l.Backward(top, prop, bottom)
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/1e3/float64(b.N), "ms/op")
		})
	}
}
