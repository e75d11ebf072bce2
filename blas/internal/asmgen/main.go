// Command asmgen writes the amd64 SGEMM micro-kernels of package blas.
//
// A micro-kernel computes one mr x nr tile of C = alpha*A*B + beta*C from an
// A panel of mr rows (row r at a + r*as bytes, one float per k step) and a B
// panel of k rows of nr floats (row p at b + p*bs bytes). The tile's
// accumulators stay in vector registers for the whole k loop; each k step
// loads nr/w vectors of B, broadcasts mr floats of A and issues mr*nr/w FMAs.
// One kernel is written per row count 1..MR so that panels of any height run
// without padding.
//
// Usage (from package blas, see go:generate there):
//
//	go run ./internal/asmgen -o kernel_amd64.s -go kernel_tables_amd64.go
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"strings"
)

// variant describes one family of micro-kernels.
type variant struct {
	name  string // Go identifier prefix, e.g. "avx512"
	wide  bool   // zmm (16 floats) instead of ymm (8 floats)
	regs  int    // vector registers available: 16 (AVX2) or 32 (AVX-512)
	mr    int    // maximum rows
	nv    int    // vectors per row; nr = nv * lanes
	bcast bool   // FMAs take A from memory with an embedded broadcast
}

func (v variant) lanes() int {
	if v.wide {
		return 16
	}
	return 8
}

func (v variant) nr() int { return v.nv * v.lanes() }

func (v variant) reg(i int) string {
	if v.wide {
		return fmt.Sprintf("Z%d", i)
	}
	return fmt.Sprintf("Y%d", i)
}

// base registers, one per five rows of A; row r is addressed as
// base[r/5] + {0, as, 2as, 3as, 4as}[r%5].
var bases = []string{"AX", "R8", "R9", "R13", "R14", "R15"}

func aOperand(r, disp int) string {
	b := bases[r/5]
	d := ""
	if disp != 0 {
		d = fmt.Sprint(disp)
	}
	switch r % 5 {
	case 0:
		return fmt.Sprintf("%s(%s)", d, b)
	case 1:
		return fmt.Sprintf("%s(%s)(SI*1)", d, b)
	case 2:
		return fmt.Sprintf("%s(%s)(SI*2)", d, b)
	case 3:
		return fmt.Sprintf("%s(%s)(DI*1)", d, b)
	default:
		return fmt.Sprintf("%s(%s)(SI*4)", d, b)
	}
}

var pfC *bool

type gen struct {
	s bytes.Buffer
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.s, "\t"+format+"\n", args...)
}

func (g *gen) label(l string) { fmt.Fprintf(&g.s, "%s:\n", l) }

const unroll = 4

// kernel writes the kernel of variant v for exactly mr rows.
//
// Every kernel also prefetches the nr*4 bytes at pf into the caches at each
// k step, advancing pf by pfs bytes: the caller points it at data it will
// need soon (the next B panel or block), spreading that memory traffic
// over the arithmetic. A packing kernel also stores each row of B it loads
// to pb, nr floats per row, so that a panel read in place (row stride bs)
// can be reused from a compact copy by the kernels of the other rows.
func (g *gen) kernel(v variant, mr int, packing bool) {
	nv := v.nv
	acc := func(r, j int) string { return v.reg(r*nv + j) }
	nacc := mr * nv
	breg := func(j int) string { return v.reg(nacc + j) }
	treg := v.reg(nacc + nv)
	if nacc+nv+btmp(v) > v.regs {
		log.Fatalf("%s: %d rows need %d registers", v.name, mr, nacc+nv+btmp(v))
	}
	if mr > 15 {
		log.Fatalf("%s: %d rows: the base registers would clash with R13", v.name, mr)
	}
	name := fmt.Sprintf("%s_%d", v.name, mr)
	sig := "kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int"
	frame := 80
	if packing {
		name = fmt.Sprintf("%sPack_%d", v.name, mr)
		sig += ", pb *float32"
		frame = 88
	}
	fmt.Fprintf(&g.s, "// func %s(%s)\n", name, sig)
	fmt.Fprintf(&g.s, "TEXT ·%s(SB), NOSPLIT, $0-%d\n", name, frame)
	g.p("MOVQ kc+0(FP), CX")
	g.p("MOVQ a+8(FP), AX")
	g.p("MOVQ as+16(FP), SI")
	g.p("MOVQ b+24(FP), BX")
	g.p("MOVQ bs+32(FP), DX")
	g.p("LEAQ (SI)(SI*2), DI")
	if *pfC {
		// Bring the C tile in while the k loop runs: the epilogue then
		// finds it in the caches.
		g.p("MOVQ c+40(FP), R10")
		g.p("MOVQ cs+48(FP), R11")
		for r := 0; r < mr; r++ {
			for off := 0; off < v.nr()*4; off += 64 {
				g.p("PREFETCHT0 %d(R10)", off)
			}
			g.p("PREFETCHT0 %d(R10)", v.nr()*4-1)
			if r+1 < mr {
				g.p("ADDQ R11, R10")
			}
		}
	}
	g.p("MOVQ pf+64(FP), R13")
	g.p("MOVQ pfs+72(FP), R10")
	if packing {
		g.p("MOVQ pb+80(FP), R12")
	}
	for i := 1; i*5 < mr; i++ {
		g.p("LEAQ (%s)(SI*4), %s", bases[i-1], bases[i])
		g.p("ADDQ SI, %s", bases[i])
	}
	for i := 0; i < nacc; i++ {
		if v.wide {
			g.p("VPXORD %s, %s, %s", acc(i/nv, i%nv), acc(i/nv, i%nv), acc(i/nv, i%nv))
		} else {
			g.p("VXORPS %s, %s, %s", acc(i/nv, i%nv), acc(i/nv, i%nv), acc(i/nv, i%nv))
		}
	}
	step := func(disp int) {
		for j := 0; j < nv; j++ {
			g.p("VMOVUPS %d(BX), %s", j*v.lanes()*4, breg(j))
		}
		for l := 0; l < max(1, v.nr()*4/64); l++ {
			g.p("PREFETCHT0 %d(R13)", 64*l)
		}
		g.p("ADDQ R10, R13")
		g.p("ADDQ DX, BX")
		if packing {
			for j := 0; j < nv; j++ {
				g.p("VMOVUPS %s, %d(R12)", breg(j), j*v.lanes()*4)
			}
			g.p("ADDQ $%d, R12", v.nr()*4)
		}
		for r := 0; r < mr; r++ {
			if v.bcast {
				for j := 0; j < nv; j++ {
					g.p("VFMADD231PS.BCST %s, %s, %s", aOperand(r, disp), breg(j), acc(r, j))
				}
				continue
			}
			g.p("VBROADCASTSS %s, %s", aOperand(r, disp), treg)
			for j := 0; j < nv; j++ {
				g.p("VFMADD231PS %s, %s, %s", treg, breg(j), acc(r, j))
			}
		}
	}
	advance := func(n int) {
		for i := 0; i*5 < mr; i++ {
			g.p("ADDQ $%d, %s", 4*n, bases[i])
		}
	}
	g.p("CMPQ CX, $%d", unroll)
	g.p("JL tail%d", mr)
	g.label(fmt.Sprintf("loop%d", mr))
	for u := 0; u < unroll; u++ {
		step(4 * u)
	}
	advance(unroll)
	g.p("SUBQ $%d, CX", unroll)
	g.p("CMPQ CX, $%d", unroll)
	g.p("JGE loop%d", mr)
	g.label(fmt.Sprintf("tail%d", mr))
	g.p("TESTQ CX, CX")
	g.p("JZ store%d", mr)
	g.label(fmt.Sprintf("tail1%d", mr))
	step(0)
	advance(1)
	g.p("DECQ CX")
	g.p("JNZ tail1%d", mr)

	g.label(fmt.Sprintf("store%d", mr))
	al, be := breg(0), v.reg(nacc+1)
	g.p("MOVQ c+40(FP), R10")
	g.p("MOVQ cs+48(FP), R11")
	g.p("VBROADCASTSS alpha+56(FP), %s", al)
	g.p("MOVL beta+60(FP), R12")
	g.p("SHLL $1, R12") // ±0 -> 0
	g.p("JZ zero%d", mr)
	g.p("VBROADCASTSS beta+60(FP), %s", be)
	for r := 0; r < mr; r++ {
		for j := 0; j < nv; j++ {
			off := j * v.lanes() * 4
			g.p("VMULPS %s, %s, %s", al, acc(r, j), acc(r, j))
			g.p("VFMADD231PS %d(R10), %s, %s", off, be, acc(r, j))
			g.p("VMOVUPS %s, %d(R10)", acc(r, j), off)
		}
		if r+1 < mr {
			g.p("ADDQ R11, R10")
		}
	}
	g.p("VZEROUPPER")
	g.p("RET")
	g.label(fmt.Sprintf("zero%d", mr))
	for r := 0; r < mr; r++ {
		for j := 0; j < nv; j++ {
			g.p("VMULPS %s, %s, %s", al, acc(r, j), acc(r, j))
			g.p("VMOVUPS %s, %d(R10)", acc(r, j), j*v.lanes()*4)
		}
		if r+1 < mr {
			g.p("ADDQ R11, R10")
		}
	}
	g.p("VZEROUPPER")
	g.p("RET")
	g.s.WriteString("\n")
}

// btmp is the number of extra vector registers a kernel needs besides its
// accumulators and B vectors: the broadcast register (and the epilogue's beta).
func btmp(v variant) int {
	if v.bcast && v.nv >= 2 {
		return 0
	}
	return 1
}

func parse(spec string) variant {
	// name:isa:mr:nv[:bcast]
	f := strings.Split(spec, ":")
	if len(f) < 4 {
		log.Fatalf("bad variant %q", spec)
	}
	v := variant{name: f[0]}
	switch f[1] {
	case "z":
		v.wide, v.regs = true, 32
	case "y32":
		v.regs = 32
	case "y":
		v.regs = 16
	default:
		log.Fatalf("bad isa in %q", spec)
	}
	fmt.Sscan(f[2], &v.mr)
	fmt.Sscan(f[3], &v.nv)
	for _, o := range f[4:] {
		switch {
		case o == "bcast":
			v.bcast = true
		default:
			log.Fatalf("bad option %q", o)
		}
	}
	return v
}

func main() {
	out := flag.String("o", "kernel_amd64.s", "assembly output file")
	goOut := flag.String("go", "kernel_tables_amd64.go", "Go declarations output file")
	pkg := flag.String("pkg", "blas", "package name")
	tags := flag.String("tags", "!noasm", "build constraint of the outputs")
	pfC = flag.Bool("pfc", true, "prefetch the C tile at the start of each kernel")
	vs := flag.String("v", "avx512:z:14:2,avx2:y:6:2", "comma-separated variants name:isa(z|y|y32):mr:nv[:bcast]")
	flag.Parse()

	var variants []variant
	for _, s := range strings.Split(*vs, ",") {
		variants = append(variants, parse(s))
	}
	hdr := fmt.Sprintf("// Code generated by asmgen -v %s; DO NOT EDIT.\n\n//go:build %s\n\n", *vs, *tags)
	var g gen
	g.s.WriteString(hdr + "#include \"textflag.h\"\n\n")
	var d bytes.Buffer
	d.WriteString(hdr + "package " + *pkg + "\n\n")
	for _, v := range variants {
		fmt.Fprintf(&d, "// %sKernels are the %d-column micro-kernels for 1..%d rows (index = rows).\n", v.name, v.nr(), v.mr)
		fmt.Fprintf(&d, "var %sKernels = [...]kernelFunc{nil", v.name)
		for r := 1; r <= v.mr; r++ {
			fmt.Fprintf(&d, ", %s_%d", v.name, r)
		}
		d.WriteString("}\n\n")
		fmt.Fprintf(&d, "// %sPackKernels are the kernels that also pack the B panel they read.\n", v.name)
		fmt.Fprintf(&d, "var %sPackKernels = [...]packKernelFunc{nil", v.name)
		for r := 1; r <= v.mr; r++ {
			fmt.Fprintf(&d, ", %sPack_%d", v.name, r)
		}
		d.WriteString("}\n\n")
		fmt.Fprintf(&d, "const %sNR = %d\n\n", v.name, v.nr())
		for r := 1; r <= v.mr; r++ {
			g.kernel(v, r, false)
			fmt.Fprintf(&d, "//go:noescape\nfunc %s_%d(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int)\n\n", v.name, r)
		}
		for r := 1; r <= v.mr; r++ {
			g.kernel(v, r, true)
			fmt.Fprintf(&d, "//go:noescape\nfunc %sPack_%d(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int, pb *float32)\n\n", v.name, r)
		}
	}
	src, err := format.Source(d.Bytes())
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*out, g.s.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(*goOut, src, 0o644); err != nil {
		log.Fatal(err)
	}
}
