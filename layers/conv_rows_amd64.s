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
