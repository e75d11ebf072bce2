package nn

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/sparknet/sparknet/blas"
	"github.com/sparknet/sparknet/caffe"
	"github.com/sparknet/sparknet/caffe/pb"
)

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func TestZZCPU(t *testing.T) {
	file := os.Getenv("ZZNET")
	if file == "" {
		t.Skip()
	}
	blas.SetThreads(1)
	np, _ := caffe.LoadNet(filepath.Join("../../shared/bench/prototxt", file))
	n, err := New(np, &pb.NetState{Phase: pb.Phase_TRAIN.Enum()}, Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	n.ForwardBackward()
	L := len(n.Layers())
	fwd, bwd := make([]time.Duration, L), make([]time.Duration, L)
	iters := 3
	var tot time.Duration
	for it := 0; it < iters; it++ {
		for i := 0; i < L; i++ {
			t0 := cpuNow()
			n.ForwardRange(i, i)
			fwd[i] += cpuNow() - t0
		}
		for i := L - 1; i >= 0; i-- {
			t0 := cpuNow()
			n.BackwardRange(i, i)
			bwd[i] += cpuNow() - t0
		}
	}
	for i := 0; i < L; i++ {
		fmt.Printf("%-10s fwd %8.3f ms  bwd %8.3f ms\n", n.LayerNames()[i], float64(fwd[i])/1e6/float64(iters), float64(bwd[i])/1e6/float64(iters))
		tot += fwd[i] + bwd[i]
	}
	fmt.Printf("total CPU %.3f ms/iter\n", float64(tot)/1e6/float64(iters))
}
