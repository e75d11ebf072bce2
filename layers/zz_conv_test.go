package layers

import (
	"fmt"
	"testing"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func TestZZConv(t *testing.T) {
	threads.SetThreads(1)
	for _, c := range []struct{ text string; shape []int }{
		{`num_output: 32 kernel_size: 5 pad: 2 weight_filler { type: "xavier" }`, []int{9, 32, 16, 16}},
		{`num_output: 32 kernel_size: 5 pad: 2 weight_filler { type: "xavier" }`, []int{26, 3, 32, 32}},
	} {
		l := coreLayer(t, pb.Phase_TRAIN, `name: "c" type: "Convolution" convolution_param { `+c.text+` }`).(*Convolution)
		x := gaussBlob(coreRand(), 1, c.shape...)
		top := blobs(1)
		coreForward(t, l, []*tensor.Blob{x}, top)
		meas := func(name string, f func()) {
			f()
			t0 := zzCPU()
			n := 0
			for zzCPU()-t0 < 2e8 {
				f()
				n++
			}
			fmt.Printf("  %-10s %.3f ms\n", name, float64(zzCPU()-t0)/1e6/float64(n))
		}
		fmt.Println(c.shape, "chunk", l.chunk, "K", l.kdim)
		w := l.packWeights()
		meas("im2col", func() { l.im2col(x.Data, 0, l.num) })
		meas("gemm", func() { l.forwardGEMM(w, l.num) })
		meas("scatter", func() { l.scatter(top[0].Data, 0, l.num) })
		meas("gather", func() { l.gather(top[0].Diff, 0, l.num) })
		meas("dW", func() { l.weightGradGEMM(l.num, true) })
		meas("dcol", func() { l.colGEMM(l.num) })
		meas("col2im", func() { l.col2im(x.Diff, nil, 0, l.num) })
	}
}
