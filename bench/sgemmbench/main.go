// Command sgemmbench measures sparknet's blas.Sgemm against OpenBLAS in the
// same run, on the squares and layer shapes of bench/sgemmshapes.
//
// For each thread count it starts an OpenBLAS timing server (openblas.py,
// embedded, run by /usr/bin/python3 with OPENBLAS_NUM_THREADS set) and then,
// shape by shape, alternates samples of ours and of OpenBLAS so that both
// see the same machine load; it prints the medians (or, with -stat best, the
// fastest samples) and their ratio, the fraction of the FMA peak ours
// reaches, and how many CPUs our samples actually got.
//
//	go run ./bench/sgemmbench -threads 1,2 -run 'sq|conv'
//
// With -openblas=false only ours is measured. -json writes every result as
// one JSON object per line.
package main

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sparknet/sparknet/bench/sgemmshapes"
	"github.com/sparknet/sparknet/blas"
)

//go:embed openblas.py
var openblasPy string

// result is one shape on one thread count.
type result struct {
	Shape    sgemmshapes.Shape `json:"shape"`
	Threads  int               `json:"threads"`
	Ours     float64           `json:"ours_gflops"`
	OpenBLAS float64           `json:"openblas_gflops,omitempty"`
	Ratio    float64           `json:"ratio,omitempty"`
	PeakFrac float64           `json:"peak_fraction,omitempty"`
	CPUs     float64           `json:"ours_cpus"` // CPU time / wall time of our samples
	Kernel   string            `json:"kernel"`
}

func main() {
	threadList := flag.String("threads", "1,2", "comma-separated thread counts")
	run := flag.String("run", "", "regexp selecting shapes by name (default all)")
	reps := flag.Int("reps", 5, "samples per shape and library (medians are reported)")
	seconds := flag.Float64("seconds", 0.15, "length of one sample in seconds")
	withOpenBLAS := flag.Bool("openblas", true, "also measure OpenBLAS through /usr/bin/python3 and numpy")
	python := flag.String("python", "/usr/bin/python3", "Python with numpy that links Debian's libblas.so.3")
	peak := flag.Float64("peak", 114.5, "FMA peak of one core in GFLOP/s (0: do not report)")
	jsonOut := flag.String("json", "", "also write the results as JSON lines to this file")
	generic := flag.Bool("generic", false, "measure the portable Go kernels instead of the assembly")
	stat := flag.String("stat", "median", "how samples are summarised: median, or best (the fastest: on a busy machine, the closest to a quiet one)")
	flag.Parse()

	switch *stat {
	case "median":
	case "best":
		summarise = slices.Max[[]float64]
	default:
		fmt.Fprintf(os.Stderr, "sgemmbench: -stat %q: want median or best\n", *stat)
		os.Exit(2)
	}
	if err := mainErr(*threadList, *run, *reps, *seconds, *withOpenBLAS, *python, *peak, *jsonOut, *generic); err != nil {
		fmt.Fprintln(os.Stderr, "sgemmbench:", err)
		os.Exit(1)
	}
}

func mainErr(threadList, run string, reps int, seconds float64, withOpenBLAS bool, python string, peak float64, jsonOut string, generic bool) error {
	var counts []int
	for _, f := range strings.Split(threadList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-threads: %q is not a positive integer", f)
		}
		counts = append(counts, n)
	}
	re, err := regexp.Compile(run)
	if err != nil {
		return fmt.Errorf("-run: %w", err)
	}
	var shapes []sgemmshapes.Shape
	for _, s := range sgemmshapes.All {
		if re.MatchString(s.Name) {
			shapes = append(shapes, s)
		}
	}
	if len(shapes) == 0 {
		return fmt.Errorf("-run %q matches no shape", run)
	}
	if reps < 1 {
		return fmt.Errorf("-reps %d: need at least 1", reps)
	}
	blas.UseGeneric(generic)

	var results []result
	for _, nt := range counts {
		blas.SetThreads(nt)
		var ob *openblas
		if withOpenBLAS {
			if ob, err = startOpenBLAS(python, nt); err != nil {
				return err
			}
			fmt.Printf("threads %d: ours %s (GOMAXPROCS %d); %s\n", nt, blas.Kernel(), runtime.GOMAXPROCS(0), ob.info)
		} else {
			fmt.Printf("threads %d: ours %s (GOMAXPROCS %d)\n", nt, blas.Kernel(), runtime.GOMAXPROCS(0))
		}
		for _, s := range shapes {
			r := result{Shape: s, Threads: nt, Kernel: blas.Kernel()}
			ours := newOperands(s)
			var mine, theirs, cpus []float64
			for i := 0; i < reps; i++ {
				g, c := ours.sample(seconds)
				mine, cpus = append(mine, g), append(cpus, c)
				if ob != nil {
					g, err := ob.sample(s, seconds)
					if err != nil {
						return err
					}
					theirs = append(theirs, g)
				}
			}
			r.Ours, r.CPUs = summarise(mine), median(cpus)
			if ob != nil {
				r.OpenBLAS = summarise(theirs)
				r.Ratio = r.Ours / r.OpenBLAS
			}
			if peak > 0 {
				r.PeakFrac = r.Ours / (peak * float64(nt))
			}
			results = append(results, r)
			fmt.Fprintf(os.Stderr, "  %-22s ours %6.1f (%.2f CPUs)  openblas %6.1f\n", s.Name, r.Ours, r.CPUs, r.OpenBLAS)
		}
		if ob != nil {
			ob.close()
		}
	}
	printTable(os.Stdout, results, counts, withOpenBLAS, peak)
	if jsonOut != "" {
		f, err := os.Create(jsonOut)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		for _, r := range results {
			if err := enc.Encode(r); err != nil {
				f.Close()
				return err
			}
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}

// operands holds the matrices of one shape for our Sgemm.
type operands struct {
	s             sgemmshapes.Shape
	a, b, c       []float32
	lda, ldb, ldc int
}

func newOperands(s sgemmshapes.Shape) *operands {
	rng := rand.New(rand.NewPCG(1, 2))
	rnd := func(n int) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x
	}
	o := &operands{s: s, a: rnd(s.M * s.K), b: rnd(s.K * s.N), c: make([]float32, s.M*s.N), lda: s.K, ldb: s.N, ldc: s.N}
	if s.TransA {
		o.lda = s.M
	}
	if s.TransB {
		o.ldb = s.K
	}
	o.run() // warm-up: packing buffers, pool
	return o
}

func (o *operands) run() {
	blas.Sgemm(o.s.TransA, o.s.TransB, o.s.M, o.s.N, o.s.K, 1, o.a, o.lda, o.b, o.ldb, 0, o.c, o.ldc)
}

// sample runs the product repeatedly for about seconds and returns GFLOP/s
// and the CPUs it kept busy (CPU time over wall time: below the thread
// count when the machine did not give us the cores).
func (o *operands) sample(seconds float64) (gflops, cpus float64) {
	iters := 0
	cpu0, start := processCPU(), time.Now()
	var el time.Duration
	for el.Seconds() < seconds {
		o.run()
		iters++
		el = time.Since(start)
	}
	return o.s.Flops() * float64(iters) / el.Seconds() / 1e9, (processCPU() - cpu0).Seconds() / el.Seconds()
}

// openblas is a running timing server.
type openblas struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
	info string
}

func startOpenBLAS(python string, threads int) (*openblas, error) {
	cmd := exec.Command(python, "-c", openblasPy)
	cmd.Env = append(os.Environ(), fmt.Sprintf("OPENBLAS_NUM_THREADS=%d", threads))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the OpenBLAS timer with %s: %w (need python3-numpy and libopenblas0-pthread; or -openblas=false)", python, err)
	}
	ob := &openblas{cmd: cmd, in: in, out: bufio.NewScanner(out)}
	if !ob.out.Scan() {
		ob.close()
		return nil, fmt.Errorf("the OpenBLAS timer (%s) exited before answering: %v", python, ob.out.Err())
	}
	ob.info = ob.out.Text()
	return ob, nil
}

func (ob *openblas) sample(s sgemmshapes.Shape, seconds float64) (float64, error) {
	req, err := json.Marshal(map[string]any{"name": s.Name, "transA": s.TransA, "transB": s.TransB,
		"m": s.M, "n": s.N, "k": s.K, "seconds": seconds})
	if err != nil {
		return 0, err
	}
	if _, err := fmt.Fprintf(ob.in, "%s\n", req); err != nil {
		return 0, fmt.Errorf("OpenBLAS timer: %w", err)
	}
	if !ob.out.Scan() {
		return 0, fmt.Errorf("OpenBLAS timer stopped answering at %s: %v", s.Name, ob.out.Err())
	}
	var ans struct{ GFLOPS float64 }
	if err := json.Unmarshal(ob.out.Bytes(), &ans); err != nil {
		return 0, fmt.Errorf("OpenBLAS timer answer %q: %w", ob.out.Text(), err)
	}
	return ans.GFLOPS, nil
}

func (ob *openblas) close() {
	ob.in.Close()
	ob.cmd.Wait()
}

// summarise reduces the samples of one shape: median by default.
var summarise = median

func median(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	if len(x)%2 == 1 {
		return x[len(x)/2]
	}
	return (x[len(x)/2-1] + x[len(x)/2]) / 2
}

// printTable prints a Markdown table: one row per shape, a column group per
// thread count.
func printTable(w io.Writer, results []result, counts []int, withOpenBLAS bool, peak float64) {
	head := "| shape | m | n | k |"
	rule := "|---|---:|---:|---:|"
	for _, nt := range counts {
		head += fmt.Sprintf(" ours %dT | CPUs |", nt)
		rule += "---:|---:|"
		if withOpenBLAS {
			head += fmt.Sprintf(" OpenBLAS %dT | ratio |", nt)
			rule += "---:|---:|"
		}
		if peak > 0 {
			head += " of peak |"
			rule += "---:|"
		}
	}
	fmt.Fprintln(w, head)
	fmt.Fprintln(w, rule)
	byShape := map[string]map[int]result{}
	var order []sgemmshapes.Shape
	for _, r := range results {
		if byShape[r.Shape.Name] == nil {
			byShape[r.Shape.Name] = map[int]result{}
			order = append(order, r.Shape)
		}
		byShape[r.Shape.Name][r.Threads] = r
	}
	for _, s := range order {
		name := s.Name
		switch {
		case s.TransA && s.TransB:
			name += " (TT)"
		case s.TransA:
			name += " (TN)"
		case s.TransB:
			name += " (NT)"
		}
		line := fmt.Sprintf("| %s | %d | %d | %d |", name, s.M, s.N, s.K)
		for _, nt := range counts {
			r := byShape[s.Name][nt]
			line += fmt.Sprintf(" %.1f | %.2f |", r.Ours, r.CPUs)
			if withOpenBLAS {
				line += fmt.Sprintf(" %.1f | %.2fx |", r.OpenBLAS, r.Ratio)
			}
			if peak > 0 {
				line += fmt.Sprintf(" %.0f%% |", 100*r.PeakFrac)
			}
		}
		fmt.Fprintln(w, line)
	}
	fmt.Fprintln(w, "\nGFLOP/s of alternating samples (see -stat); ratio = ours / OpenBLAS; peak = FMA peak x threads;")
	fmt.Fprintln(w, "CPUs = CPU time / wall time of our samples (less than the thread count: the machine was busy).")
}
