package blas

import (
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sparknet/sparknet/bench/sgemmshapes"
)

func threadCPU() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts)
	return time.Duration(ts.Nano())
}

// TestTune: TUNE=regexp go test -run Tune -v
func TestTune(t *testing.T) {
	sel := os.Getenv("TUNE")
	if sel == "" {
		t.Skip()
	}
	runtime.LockOSThread()
	if v := os.Getenv("KC"); v != "" {
		fmt.Sscan(v, &available[0].kc)
	}

	if v := os.Getenv("NC"); v != "" {
		fmt.Sscan(v, &available[0].nc)
	}
	withThreads(1, func() {
		for _, s := range sgemmshapes.All {
			if !strings.Contains(","+sel+",", ","+s.Name+",") && sel != "all" {
				continue
			}
			rng := rand.New(rand.NewPCG(1, 1))
			rnd := func(n int) []float32 {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(rng.NormFloat64())
				}
				return x
			}
			lda, ldb := s.K, s.N
			if s.TransA {
				lda = s.M
			}
			if s.TransB {
				ldb = s.K
			}
			if v := os.Getenv("LDBPAD"); v != "" {
				var pad int
				fmt.Sscan(v, &pad)
				ldb += pad
			}
			a, b, c := rnd(s.M*s.K), rnd(map[bool]int{false: s.K, true: s.N}[s.TransB]*ldb), make([]float32, s.M*s.N)
			f := func() { Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c, s.N) }
			f()
			iters := max(1, int(3e8/s.Flops()))
			modes := []int{0}
			if v := os.Getenv("MODES"); v != "" {
				modes = nil
				for _, f := range strings.Split(v, ",") {
					var m int
					fmt.Sscan(f, &m)
					modes = append(modes, m)
				}
			}
			best := make([]time.Duration, len(modes))
			for i := range best {
				best[i] = time.Hour
			}
			for r := 0; r < 7; r++ {
				for mi, m := range modes {
					forceBMode = m
					f()
					t0 := threadCPU()
					for i := 0; i < iters; i++ {
						f()
					}
					best[mi] = min(best[mi], threadCPU()-t0)
				}
			}
			fmt.Printf("%-22s", s.Name)
			for mi, m := range modes {
				fmt.Printf("  mode %d: %6.1f", m, s.Flops()*float64(iters)/best[mi].Seconds()/1e9)
			}
			fmt.Println()
		}
	})
}

// TestTuneWall: TUNEW=names go test -run TuneWall -v: best wall time on 1 and 2 threads.
func TestTuneWall(t *testing.T) {
	sel := os.Getenv("TUNEW")
	if sel == "" {
		t.Skip()
	}
	for _, s := range sgemmshapes.All {
		if !strings.Contains(","+sel+",", ","+s.Name+",") && sel != "all" {
			continue
		}
		rng := rand.New(rand.NewPCG(1, 1))
		rnd := func(n int) []float32 {
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(rng.NormFloat64())
			}
			return x
		}
		lda, ldb := s.K, s.N
		if s.TransA {
			lda = s.M
		}
		if s.TransB {
			ldb = s.K
		}
		a, b, c := rnd(s.M*s.K), rnd(s.K*s.N), make([]float32, s.M*s.N)
		f := func() { Sgemm(s.TransA, s.TransB, s.M, s.N, s.K, 1, a, lda, b, ldb, 0, c, s.N) }
		iters := max(1, int(3e8/s.Flops()))
		fmt.Printf("%-22s", s.Name)
		for _, nt := range []int{1, 2} {
			withThreads(nt, func() {
				f()
				best := time.Hour
				for r := 0; r < 9; r++ {
					t0 := time.Now()
					for i := 0; i < iters; i++ {
						f()
					}
					best = min(best, time.Since(t0))
				}
				fmt.Printf("  %dT %6.1f", nt, s.Flops()*float64(iters)/best.Seconds()/1e9)
			})
		}
		fmt.Println()
	}
}
