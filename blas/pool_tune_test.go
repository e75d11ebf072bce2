package blas

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/sparknet/sparknet/internal/threads"
)

func TestTunePool(t *testing.T) {
	if os.Getenv("TUNEPOOL") == "" {
		t.Skip()
	}
	withThreads(2, func() {
		p := threads.Default()
		var sink [2]float64
		work := func(chunk, lo, hi int) {
			x := 1.0
			for i := lo; i < hi; i++ {
				x = x*1.0000001 + 1e-9
			}
			sink[chunk] = x
		}
		for _, n := range []int{0, 1000, 100000, 10000000} {
			const reps = 200
			t0 := time.Now()
			for r := 0; r < reps; r++ {
				p.Run(2*n+2, 2, work)
			}
			el2 := time.Since(t0) / reps
			t0 = time.Now()
			for r := 0; r < reps; r++ {
				work(0, 0, 2*n+2)
			}
			el1 := time.Since(t0) / reps
			fmt.Printf("n=%d: 2 chunks %v, serial %v\n", n, el2, el1)
		}
	})
}
