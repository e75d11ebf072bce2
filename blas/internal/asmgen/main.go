// Command asmgen writes the amd64 SGEMM micro-kernels of package blas.
//
// A micro-kernel computes one mr x nr tile of C = alpha*A*B + beta*C from an
// A panel of mr rows (row r at a + r*as bytes, one float per k step) and a B
// panel of k rows of nr floats (row p at b + p*bs bytes). The tile's
// accumulators stay in vector registers for the whole k loop; each k step
// loads nr/w vectors of B, broadcasts mr floats of A and issues mr*nr/w FMAs
// (w = 16 floats per zmm register, 8 per ymm). One kernel is written per row
// count 1..MR, so that row panels of any height run without padding.
//
// A variant is name:isa:MR:NV[:nopack], isa being z (AVX-512, 32 zmm
// registers), y (AVX2+FMA, 16 ymm) or y32 (ymm kernels using the 32
// registers of AVX-512VL); the tile is MR rows by NV vectors.
//
// Usage (package blas runs it through go generate):
//
//	go run ./internal/asmgen -o sgemm_kernels_amd64.s -go sgemm_kernels_amd64.go -v avx512:z:13:2,avx2:y:6:2
package main

import (
	"bytes"
	"flag"
	"fmt"
	"go/format"
	"os"
	"strconv"
	"strings"
)

// variant describes one family of micro-kernels.
type variant struct {
	name   string // Go identifier prefix, e.g. "avx512"
	wide   bool   // zmm (16 floats) instead of ymm (8 floats)
	regs   int    // vector registers available: 16 or 32
	mr     int    // maximum rows
	nv     int    // vectors per row; nr = nv * lanes
	noPack bool   // no packing kernels
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

// parseVariant parses name:isa:mr:nv[:nopack].
func parseVariant(spec string) (variant, error) {
	f := strings.Split(spec, ":")
	if len(f) < 4 || len(f) > 5 {
		return variant{}, fmt.Errorf("variant %q: want name:isa:mr:nv[:nopack]", spec)
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
		return variant{}, fmt.Errorf("variant %q: isa %q is not z, y or y32", spec, f[1])
	}
	var err error
	if v.mr, err = strconv.Atoi(f[2]); err != nil || v.mr < 1 || v.mr > 15 {
		return variant{}, fmt.Errorf("variant %q: rows %q not in 1..15", spec, f[2])
	}
	if v.nv, err = strconv.Atoi(f[3]); err != nil || v.nv < 1 || v.nv > 4 {
		return variant{}, fmt.Errorf("variant %q: vectors per row %q not in 1..4", spec, f[3])
	}
	if len(f) == 5 {
		if f[4] != "nopack" {
			return variant{}, fmt.Errorf("variant %q: unknown option %q", spec, f[4])
		}
		v.noPack = true
	}
	// Accumulators, B vectors and the broadcast register.
	if need := v.mr*v.nv + v.nv + 1; need > v.regs {
		return variant{}, fmt.Errorf("variant %q needs %d vector registers, has %d", spec, need, v.regs)
	}
	return v, nil
}

// Base registers for the rows of A, one per five rows; row r is addressed as
// bases[r/5] + {0, as, 2as, 3as, 4as}[r%5] with SI = as and DI = 3as.
var bases = []string{"AX", "R8", "R9"}

func aOperand(r, disp int) string {
	b := bases[r/5]
	d := ""
	if disp != 0 {
		d = strconv.Itoa(disp)
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

type gen struct {
	s bytes.Buffer
}

func (g *gen) p(format string, args ...any) {
	fmt.Fprintf(&g.s, "\t"+format+"\n", args...)
}

func (g *gen) label(l string) { fmt.Fprintf(&g.s, "%s:\n", l) }

// unroll is how many k steps one loop iteration takes.
const unroll = 4

// kernel writes the kernel of variant v for exactly mr rows.
//
// It first prefetches the C tile, so that the epilogue finds it in the
// caches. At each k step it also prefetches the nr floats at pf, advancing
// pf by pfs bytes: the caller points pf at data it will need soon (the next
// B panel or block), which spreads that memory traffic over the arithmetic.
// A packing kernel also stores each row of B it loads to pb, nr floats per
// row, so that a panel read in place (row stride bs) can be reused from a
// compact copy by the kernels of the other rows.
//
// Registers: CX k count, AX/R8/R9 A rows, SI as, DI 3as, BX B, DX bs,
// R13 pf, R10 pfs, R12 pb; after the loop R10, R11 and R12 address C.
func (g *gen) kernel(v variant, mr int, packing bool) {
	nv := v.nv
	acc := func(r, j int) string { return v.reg(r*nv + j) }
	nacc := mr * nv
	breg := func(j int) string { return v.reg(nacc + j) }
	treg := v.reg(nacc + nv)
	bytesPerRow := v.nr() * 4
	lines := max(1, bytesPerRow/64)

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

	g.p("MOVQ c+40(FP), R10")
	g.p("MOVQ cs+48(FP), R11")
	for r := 0; r < mr; r++ {
		for off := 0; off < bytesPerRow; off += 64 {
			g.p("PREFETCHT0 %d(R10)", off)
		}
		g.p("PREFETCHT0 %d(R10)", bytesPerRow-1) // a row may straddle one more line
		if r+1 < mr {
			g.p("ADDQ R11, R10")
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
	for r := 0; r < mr; r++ {
		for j := 0; j < nv; j++ {
			if v.wide {
				g.p("VPXORD %s, %s, %s", acc(r, j), acc(r, j), acc(r, j))
			} else {
				g.p("VXORPS %s, %s, %s", acc(r, j), acc(r, j), acc(r, j))
			}
		}
	}

	step := func(disp int) {
		for j := 0; j < nv; j++ {
			g.p("VMOVUPS %d(BX), %s", j*v.lanes()*4, breg(j))
		}
		for l := 0; l < lines; l++ {
			g.p("PREFETCHT0 %d(R13)", 64*l)
		}
		g.p("ADDQ R10, R13")
		g.p("ADDQ DX, BX")
		if packing {
			for j := 0; j < nv; j++ {
				g.p("VMOVUPS %s, %d(R12)", breg(j), j*v.lanes()*4)
			}
			g.p("ADDQ $%d, R12", bytesPerRow)
		}
		for r := 0; r < mr; r++ {
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
	g.p("JL tail")
	g.label("loop")
	for u := 0; u < unroll; u++ {
		step(4 * u)
	}
	advance(unroll)
	g.p("SUBQ $%d, CX", unroll)
	g.p("CMPQ CX, $%d", unroll)
	g.p("JGE loop")
	g.label("tail")
	g.p("TESTQ CX, CX")
	g.p("JZ store")
	g.label("tail1")
	step(0)
	advance(1)
	g.p("DECQ CX")
	g.p("JNZ tail1")

	// C = alpha*acc + beta*C; C is not read when beta is ±0.
	g.label("store")
	al, be := breg(0), treg
	g.p("MOVQ c+40(FP), R10")
	g.p("MOVQ cs+48(FP), R11")
	g.p("VBROADCASTSS alpha+56(FP), %s", al)
	g.p("MOVL beta+60(FP), R12")
	g.p("SHLL $1, R12")
	g.p("JZ zero")
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
	g.label("zero")
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

// generate returns the assembly and the Go declarations of the kernels of
// the comma-separated variants, for package pkg under build constraint tags.
func generate(variants, pkg, tags string) (asm, decls []byte, err error) {
	var vs []variant
	for _, spec := range strings.Split(variants, ",") {
		v, err := parseVariant(spec)
		if err != nil {
			return nil, nil, err
		}
		vs = append(vs, v)
	}
	hdr := fmt.Sprintf("// Code generated by asmgen -v %s; DO NOT EDIT.\n\n//go:build %s\n\n", variants, tags)
	var g gen
	g.s.WriteString(hdr + "#include \"textflag.h\"\n\n")
	var d bytes.Buffer
	d.WriteString(hdr + "package " + pkg + "\n\n")
	for _, v := range vs {
		fmt.Fprintf(&d, "// %sKernels are the %d-column micro-kernels for 1..%d rows (index = rows).\n", v.name, v.nr(), v.mr)
		fmt.Fprintf(&d, "var %sKernels = [...]kernelFunc{nil", v.name)
		for r := 1; r <= v.mr; r++ {
			fmt.Fprintf(&d, ", %s_%d", v.name, r)
		}
		d.WriteString("}\n\n")
		if !v.noPack {
			fmt.Fprintf(&d, "// %sPackKernels are the kernels that also pack the B panel they read.\n", v.name)
			fmt.Fprintf(&d, "var %sPackKernels = [...]packKernelFunc{nil", v.name)
			for r := 1; r <= v.mr; r++ {
				fmt.Fprintf(&d, ", %sPack_%d", v.name, r)
			}
			d.WriteString("}\n\n")
		}
		fmt.Fprintf(&d, "const %sNR = %d\n\n", v.name, v.nr())
		for r := 1; r <= v.mr; r++ {
			g.kernel(v, r, false)
			fmt.Fprintf(&d, "//go:noescape\nfunc %s_%d(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int)\n\n", v.name, r)
		}
		for r := 1; r <= v.mr && !v.noPack; r++ {
			g.kernel(v, r, true)
			fmt.Fprintf(&d, "//go:noescape\nfunc %sPack_%d(kc int, a *float32, as int, b *float32, bs int, c *float32, cs int, alpha, beta float32, pf *float32, pfs int, pb *float32)\n\n", v.name, r)
		}
	}
	decls, err = format.Source(d.Bytes())
	if err != nil {
		return nil, nil, fmt.Errorf("formatting the declarations: %w", err)
	}
	return g.s.Bytes(), decls, nil
}

func main() {
	out := flag.String("o", "sgemm_kernels_amd64.s", "assembly output file")
	goOut := flag.String("go", "sgemm_kernels_amd64.go", "Go declarations output file")
	pkg := flag.String("pkg", "blas", "package name")
	tags := flag.String("tags", "!noasm", "build constraint of the outputs")
	variants := flag.String("v", "avx512:z:13:2,avx2:y:6:2", "comma-separated variants name:isa(z|y|y32):mr:nv[:nopack]")
	flag.Parse()

	asm, decls, err := generate(*variants, *pkg, *tags)
	if err == nil {
		err = os.WriteFile(*out, asm, 0o644)
	}
	if err == nil {
		err = os.WriteFile(*goOut, decls, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "asmgen:", err)
		os.Exit(1)
	}
}
