package layers

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/sparknet/sparknet/caffe/pb"
	"github.com/sparknet/sparknet/internal/threads"
	"github.com/sparknet/sparknet/tensor"
)

func zzCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZPool(t *testing.T) {
	threads.SetThreads(1)
	l := coreLayer(t, pb.Phase_TRAIN, `name: "p" type: "Pooling" pooling_param { pool: MAX kernel_size: 2 stride: 2 }`)
	x := gaussBlob(coreRand(), 1, 64, 20, 24, 24)
	top := blobs(1)
	coreSetup(t, l, []*tensor.Blob{x}, top)
	t0 := zzCPU()
	for i := 0; i < 200; i++ {
		l.Forward([]*tensor.Blob{x}, top)
	}
	fmt.Println("pool fwd", (zzCPU()-t0)/200)
}
