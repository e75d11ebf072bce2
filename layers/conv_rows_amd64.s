//go:build !noasm

#include "textflag.h"

// Row kernels of im2col and col2im: 8 floats per AVX move, then one by one.
// Needs AVX2.

// func copyRowsAVX2(dst, src *float32, rows, ow, lo, hi, pitch, stride int)
// For each of rows rows: dst[0:lo] = 0, dst[lo+k] = src[k*stride] for k in
// [0, hi-lo), dst[hi:ow] = 0; then dst += ow, src += pitch.
TEXT ·copyRowsAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ ow+24(FP), R8
	MOVQ lo+32(FP), R9
	MOVQ hi+40(FP), R10
	MOVQ pitch+48(FP), R11
	MOVQ stride+56(FP), R13
	SHLQ $2, R11
	SHLQ $2, R13              // stride in bytes
	MOVQ R10, R12
	SUBQ R9, R12              // n = hi - lo
	VXORPS Y0, Y0, Y0
	TESTQ CX, CX
	JZ   cdone

crow:
	XORQ AX, AX

cpre:
	CMPQ AX, R9
	JGE  cbody
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP  cpre

cbody:
	LEAQ (DI)(R9*4), BX
	MOVQ SI, DX
	MOVQ R12, AX
	CMPQ R13, $4
	JNE  cstrided
	CMPQ AX, $8
	JL   ctail

cvec:
	VMOVUPS (DX), Y1
	VMOVUPS Y1, (BX)
	ADDQ $32, DX
	ADDQ $32, BX
	SUBQ $8, AX
	CMPQ AX, $8
	JGE  cvec

ctail:
	TESTQ AX, AX
	JZ   csuf

cone:
	VMOVSS (DX), X1
	VMOVSS X1, (BX)
	ADDQ $4, DX
	ADDQ $4, BX
	DECQ AX
	JNZ  cone

	JMP  csuf

cstrided:
	TESTQ AX, AX
	JZ   csuf

csone:
	VMOVSS (DX), X1
	VMOVSS X1, (BX)
	ADDQ R13, DX
	ADDQ $4, BX
	DECQ AX
	JNZ  csone

csuf:
	MOVQ R10, AX

csufl:
	CMPQ AX, R8
	JGE  cnext
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP  csufl

cnext:
	LEAQ (DI)(R8*4), DI
	ADDQ R11, SI
	DECQ CX
	JNZ  crow

cdone:
	VZEROUPPER
	RET

// func addRowsAVX2(dst, src *float32, rows, n, dpitch, spitch int)
// For each of rows rows: dst[0:n] += src[0:n]; then dst += dpitch,
// src += spitch.
TEXT ·addRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), CX
	MOVQ n+24(FP), R8
	MOVQ dpitch+32(FP), R9
	MOVQ spitch+40(FP), R10
	SHLQ $2, R9
	SHLQ $2, R10
	TESTQ CX, CX
	JZ   adone

arow:
	MOVQ DI, BX
	MOVQ SI, DX
	MOVQ R8, AX
	CMPQ AX, $8
	JL   atail

avec:
	VMOVUPS (DX), Y1
	VADDPS (BX), Y1, Y1
	VMOVUPS Y1, (BX)
	ADDQ $32, DX
	ADDQ $32, BX
	SUBQ $8, AX
	CMPQ AX, $8
	JGE  avec

atail:
	TESTQ AX, AX
	JZ   anext

aone:
	VMOVSS (DX), X1
	VADDSS (BX), X1, X1
	VMOVSS X1, (BX)
	ADDQ $4, DX
	ADDQ $4, BX
	DECQ AX
	JNZ  aone

anext:
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ CX
	JNZ  arow

adone:
	VZEROUPPER
	RET

// Lane numbers 0..15, for gather indices.
DATA lanes16<>+0(SB)/4, $0
DATA lanes16<>+4(SB)/4, $1
DATA lanes16<>+8(SB)/4, $2
DATA lanes16<>+12(SB)/4, $3
DATA lanes16<>+16(SB)/4, $4
DATA lanes16<>+20(SB)/4, $5
DATA lanes16<>+24(SB)/4, $6
DATA lanes16<>+28(SB)/4, $7
DATA lanes16<>+32(SB)/4, $8
DATA lanes16<>+36(SB)/4, $9
DATA lanes16<>+40(SB)/4, $10
DATA lanes16<>+44(SB)/4, $11
DATA lanes16<>+48(SB)/4, $12
DATA lanes16<>+52(SB)/4, $13
DATA lanes16<>+56(SB)/4, $14
DATA lanes16<>+60(SB)/4, $15
GLOBL lanes16<>(SB), RODATA|NOPTR, $64

// CLAMP16 clamps reg to [0, 16] (uses BX).
#define CLAMP16(reg) \
	XORQ BX, BX \
	CMPQ reg, BX \
	CMOVQLT BX, reg \
	MOVQ $16, BX \
	CMPQ reg, BX \
	CMOVQGT BX, reg

// LOWBITS sets dst = (1 << CX) - 1.
#define LOWBITS(dst) \
	MOVL $1, dst \
	SHLQ CX, dst \
	DECQ dst

// The AVX-512 row kernels: one 16-float vector per step, the row ends and
// the zero margins done by masks rather than one float at a time.

// func copyRowsAVX512(dst, src *float32, rows, ow, lo, hi, pitch, stride int)
// Same contract as copyRowsAVX2. Needs AVX512F.
TEXT ·copyRowsAVX512(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R12
	MOVQ ow+24(FP), R8
	MOVQ lo+32(FP), R9
	MOVQ hi+40(FP), R10
	MOVQ pitch+48(FP), R11
	MOVQ stride+56(FP), R13
	SHLQ $2, R11              // pitch in bytes
	TESTQ R12, R12
	JZ   xdone
	CMPQ R13, $1
	JNE  xgather
	// Stride 1: lane x of a row reads src[x-lo], from base src - 4*lo.
	MOVQ R9, AX
	SHLQ $2, AX
	SUBQ AX, SI
	CMPQ R8, $16
	JG   xlong
	// Rows of at most 16: one masked load and store per row.
	MOVQ R10, CX
	LOWBITS(AX)
	MOVQ R9, CX
	LOWBITS(DX)
	XORQ DX, AX
	KMOVW AX, K1              // lanes [lo, hi)
	MOVQ R8, CX
	LOWBITS(AX)
	KMOVW AX, K2              // lanes [0, ow)
	MOVQ R8, DX
	SHLQ $2, DX

xshort:
	VMOVUPS.Z (SI), K1, Z1
	VMOVUPS Z1, K2, (DI)
	ADDQ R11, SI
	ADDQ DX, DI
	DECQ R12
	JNZ  xshort
	JMP  xdone

xlong:
	XORQ DX, DX               // x0

xlchunk:
	MOVQ R10, CX
	SUBQ DX, CX
	CLAMP16(CX)
	LOWBITS(AX)
	MOVQ R9, CX
	SUBQ DX, CX
	CLAMP16(CX)
	LOWBITS(BX)
	XORQ BX, AX
	KMOVW AX, K1              // lanes of [lo, hi) in this chunk
	MOVQ R8, CX
	SUBQ DX, CX
	CLAMP16(CX)
	LOWBITS(AX)
	KMOVW AX, K2              // lanes of [0, ow) in this chunk
	VMOVUPS.Z (SI)(DX*4), K1, Z1
	VMOVUPS Z1, K2, (DI)(DX*4)
	ADDQ $16, DX
	CMPQ DX, R8
	JLT  xlchunk
	LEAQ (DI)(R8*4), DI
	ADDQ R11, SI
	DECQ R12
	JNZ  xlong
	JMP  xdone

xgather:
	// Lane x reads src[(x-lo)*stride]: gather with indices
	// (x0-lo+lane)*stride.
	VMOVDQU32 lanes16<>(SB), Z2
	VPBROADCASTD R13, Z4
	VPMULLD Z4, Z2, Z3        // lane*stride

xgrow:
	XORQ DX, DX

xgchunk:
	MOVQ R10, CX
	SUBQ DX, CX
	CLAMP16(CX)
	LOWBITS(AX)
	MOVQ R9, CX
	SUBQ DX, CX
	CLAMP16(CX)
	LOWBITS(BX)
	XORQ BX, AX
	KMOVW AX, K1
	MOVQ R8, CX
	SUBQ DX, CX
	CLAMP16(CX)
	LOWBITS(AX)
	KMOVW AX, K2
	MOVQ DX, AX
	SUBQ R9, AX
	IMULQ R13, AX
	VPBROADCASTD AX, Z5
	VPADDD Z3, Z5, Z5
	VXORPS Z1, Z1, Z1
	VGATHERDPS (SI)(Z5*4), K1, Z1
	VMOVUPS Z1, K2, (DI)(DX*4)
	ADDQ $16, DX
	CMPQ DX, R8
	JLT  xgchunk
	LEAQ (DI)(R8*4), DI
	ADDQ R11, SI
	DECQ R12
	JNZ  xgrow

xdone:
	VZEROUPPER
	RET

// func addRowsAVX512(dst, src *float32, rows, n, dpitch, spitch int)
// Same contract as addRowsAVX2. Needs AVX512F.
TEXT ·addRowsAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ rows+16(FP), R12
	MOVQ n+24(FP), R8
	MOVQ dpitch+32(FP), R9
	MOVQ spitch+40(FP), R10
	SHLQ $2, R9
	SHLQ $2, R10
	TESTQ R12, R12
	JZ   ydone
	TESTQ R8, R8
	JZ   ydone

yrow:
	XORQ DX, DX

ychunk:
	MOVQ R8, CX
	SUBQ DX, CX
	CMPQ CX, $16
	JLT  ymask
	VMOVUPS (SI)(DX*4), Z1
	VADDPS (DI)(DX*4), Z1, Z1
	VMOVUPS Z1, (DI)(DX*4)
	ADDQ $16, DX
	CMPQ DX, R8
	JLT  ychunk
	JMP  ynext

ymask:
	LOWBITS(AX)
	KMOVW AX, K1
	VMOVUPS.Z (SI)(DX*4), K1, Z1
	VMOVUPS.Z (DI)(DX*4), K1, Z2
	VADDPS Z2, Z1, Z1
	VMOVUPS Z1, K1, (DI)(DX*4)

ynext:
	ADDQ R9, DI
	ADDQ R10, SI
	DECQ R12
	JNZ  yrow

ydone:
	VZEROUPPER
	RET

// func col2imPlaneAVX512(dst, col *float32, geom *col2imGeom, ld int)
// Sums the kh*kw column rows of one channel (each oh x ow, ld apart in
// col) into the h x w plane dst, for stride 1: dst[y][x] = sum over (i, j)
// in order of col[i*kw+j][y+ph-i*dh][x+off[j]] where in range. Each output
// row is accumulated in registers, 16 values at a time, and stored once.
// Needs AVX512F.
TEXT ·col2imPlaneAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ col+8(FP), SI
	MOVQ geom+16(FP), R8
	XORQ R9, R9               // y

cyloop:
	XORQ R10, R10             // chunk

ccloop:
	VXORPS Z0, Z0, Z0
	XORQ R11, R11             // i

ciloop:
	MOVQ R11, AX
	IMULQ 56(R8), AX          // i*dh
	MOVQ R9, BX
	ADDQ 48(R8), BX           // y+ph
	SUBQ AX, BX               // oy
	JLT  cidone               // negative for every later i too
	CMPQ BX, 16(R8)
	JGE  cinext
	MOVQ R11, AX
	IMULQ 40(R8), AX          // i*kw
	IMULQ ld+24(FP), AX       // (i*kw)*ld
	IMULQ 24(R8), BX          // oy*ow
	ADDQ BX, AX
	MOVQ R10, BX
	SHLQ $4, BX
	ADDQ BX, AX               // + chunk*16
	LEAQ (SI)(AX*4), DX       // row of kernel column j = 0
	MOVQ 80(R8), R13          // off
	MOVQ 104(R8), CX
	LEAQ (CX)(R10*2), CX      // &mask[chunk] of j = 0
	XORQ R12, R12             // j

cjloop:
	KMOVW (CX), K1
	MOVQ (R13)(R12*8), AX
	LEAQ (DX)(AX*4), BX
	VADDPS (BX), Z0, K1, Z0
	MOVQ ld+24(FP), AX
	LEAQ (DX)(AX*4), DX
	MOVQ 72(R8), AX
	LEAQ (CX)(AX*2), CX
	INCQ R12
	CMPQ R12, 40(R8)
	JLT  cjloop

cinext:
	INCQ R11
	CMPQ R11, 32(R8)
	JLT  ciloop

cidone:
	MOVQ R10, AX
	SHLQ $6, AX               // chunk*64 bytes
	MOVQ R10, BX
	INCQ BX
	CMPQ BX, 72(R8)
	JEQ  cclast
	VMOVUPS Z0, (DI)(AX*1)
	MOVQ BX, R10
	JMP  ccloop

cclast:
	KMOVW 128(R8), K2
	VMOVUPS Z0, K2, (DI)(AX*1)
	MOVQ 8(R8), AX
	LEAQ (DI)(AX*4), DI
	INCQ R9
	CMPQ R9, 0(R8)
	JLT  cyloop
	VZEROUPPER
	RET

// func im2colPlaneAVX512(dst, src *float32, geom *im2colGeom, k0, k1, ld int)
// Lowers kernel offsets [k0, k1) of one channel plane src (h x w) into
// rows of oh*ow values, ld apart, at dst: row kidx = i*kw + j holds, at
// (oy, ox), src[oy*sh - ph + i*dh][ox*sw + off[j]] for oy in
// [ohLo[i], ohHi[i]) and the lanes of mask[j*nchunk+c] in chunk c of the
// row, and 0 elsewhere. Stride 1 loads, other strides gather. Needs
// AVX512F.
TEXT ·im2colPlaneAVX512(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ geom+16(FP), R8
	MOVQ k0+24(FP), R9
	MOVQ k1+32(FP), R10
	CMPQ R9, R10
	JGE  mdone
	VXORPS Z0, Z0, Z0
	VMOVDQU32 lanes16<>(SB), Z2
	VPBROADCASTD 48(R8), Z4
	VPMULLD Z4, Z2, Z3        // gather indices lane*sw
	KMOVW 192(R8), K2         // lanes of the last chunk of a row
	MOVQ R9, AX
	XORQ DX, DX
	DIVQ 32(R8)
	MOVQ AX, BX               // i
	MOVQ DX, R13              // j

mk:
	// Rows [0, ohLo[i]) are zero.
	MOVQ 144(R8), AX
	MOVQ (AX)(BX*8), R11

mz1:
	TESTQ R11, R11
	JZ   mvalid
	XORQ R12, R12

mz1c:
	MOVQ R12, AX
	SHLQ $6, AX
	INCQ R12
	CMPQ R12, 80(R8)
	JEQ  mz1l
	VMOVUPS Z0, (DI)(AX*1)
	JMP  mz1c

mz1l:
	VMOVUPS Z0, K2, (DI)(AX*1)
	MOVQ 24(R8), AX
	LEAQ (DI)(AX*4), DI
	DECQ R11
	JMP  mz1

mvalid:
	// R11 = ohHi[i] - ohLo[i] rows read the input.
	MOVQ 168(R8), AX
	MOVQ (AX)(BX*8), R11
	MOVQ 144(R8), AX
	SUBQ (AX)(BX*8), R11
	JLE  mvdone
	// CX = &src[(ohLo[i]*sh + i*dh - ph)*w + off[j]]
	MOVQ (AX)(BX*8), AX
	IMULQ 40(R8), AX
	MOVQ BX, DX
	IMULQ 64(R8), DX
	ADDQ DX, AX
	SUBQ 56(R8), AX
	IMULQ 8(R8), AX
	MOVQ 96(R8), DX
	ADDQ (DX)(R13*8), AX
	LEAQ (SI)(AX*4), CX
	// DX = &mask[j*nchunk]
	MOVQ R13, AX
	IMULQ 80(R8), AX
	MOVQ 120(R8), DX
	LEAQ (DX)(AX*2), DX
	CMPQ 48(R8), $1
	JNE  mvg
	CMPQ 80(R8), $1
	JNE  mvl
	// Stride 1, one chunk per row.
	KMOVW (DX), K1
	MOVQ 24(R8), AX
	SHLQ $2, AX
	MOVQ 88(R8), R12

mv1:
	VMOVUPS.Z (CX), K1, Z1
	VMOVUPS Z1, K2, (DI)
	ADDQ R12, CX
	ADDQ AX, DI
	DECQ R11
	JNZ  mv1
	JMP  mvdone

mvl:
	// Stride 1, several chunks per row.
	XORQ R12, R12

mvlc:
	KMOVW (DX)(R12*2), K1
	MOVQ R12, AX
	SHLQ $6, AX
	VMOVUPS.Z (CX)(AX*1), K1, Z1
	INCQ R12
	CMPQ R12, 80(R8)
	JEQ  mvll
	VMOVUPS Z1, (DI)(AX*1)
	JMP  mvlc

mvll:
	VMOVUPS Z1, K2, (DI)(AX*1)
	ADDQ 88(R8), CX
	MOVQ 24(R8), AX
	LEAQ (DI)(AX*4), DI
	DECQ R11
	JNZ  mvl
	JMP  mvdone

mvg:
	// Other strides: gather.
	XORQ R12, R12

mvgc:
	KMOVW (DX)(R12*2), K1
	MOVQ R12, AX
	SHLQ $4, AX
	IMULQ 48(R8), AX
	VPBROADCASTD AX, Z5
	VPADDD Z3, Z5, Z5
	VXORPS Z1, Z1, Z1
	VGATHERDPS (CX)(Z5*4), K1, Z1
	MOVQ R12, AX
	SHLQ $6, AX
	INCQ R12
	CMPQ R12, 80(R8)
	JEQ  mvgl
	VMOVUPS Z1, (DI)(AX*1)
	JMP  mvgc

mvgl:
	VMOVUPS Z1, K2, (DI)(AX*1)
	ADDQ 88(R8), CX
	MOVQ 24(R8), AX
	LEAQ (DI)(AX*4), DI
	DECQ R11
	JNZ  mvg

mvdone:
	// Rows [ohHi[i], oh) are zero.
	MOVQ 16(R8), R11
	MOVQ 168(R8), AX
	SUBQ (AX)(BX*8), R11

mz2:
	TESTQ R11, R11
	JZ   mnext
	XORQ R12, R12

mz2c:
	MOVQ R12, AX
	SHLQ $6, AX
	INCQ R12
	CMPQ R12, 80(R8)
	JEQ  mz2l
	VMOVUPS Z0, (DI)(AX*1)
	JMP  mz2c

mz2l:
	VMOVUPS Z0, K2, (DI)(AX*1)
	MOVQ 24(R8), AX
	LEAQ (DI)(AX*4), DI
	DECQ R11
	JMP  mz2

mnext:
	MOVQ ld+40(FP), AX
	SUBQ 72(R8), AX
	LEAQ (DI)(AX*4), DI       // the next row of dst
	INCQ R13
	CMPQ R13, 32(R8)
	JLT  mknext
	XORQ R13, R13
	INCQ BX

mknext:
	INCQ R9
	CMPQ R9, R10
	JLT  mk

mdone:
	VZEROUPPER
	RET
