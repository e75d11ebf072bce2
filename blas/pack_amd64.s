//go:build !noasm

#include "textflag.h"

// func transpose8(dst *float32, dstride int, src *float32, sstride int, n8 int)
//
// For s, t in [0,8) and each of the n8 blocks q: dst[(8q+t)*dstride + s] =
// src[s*sstride + 8q+t]. Strides are in bytes. Needs AVX.
TEXT ·transpose8(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ dstride+8(FP), DX
	MOVQ src+16(FP), SI
	MOVQ sstride+24(FP), R8
	MOVQ n8+32(FP), CX
	TESTQ CX, CX
	JZ   tdone
	LEAQ (R8)(R8*2), R9   // 3*sstride
	LEAQ (SI)(R8*4), R10  // src + 4 rows
	LEAQ (DX)(DX*2), R11  // 3*dstride
	LEAQ (DI)(DX*4), R12  // dst + 4 rows

tloop:
	PREFETCHT0 512(SI)
	PREFETCHT0 512(SI)(R8*1)
	PREFETCHT0 512(SI)(R8*2)
	PREFETCHT0 512(SI)(R9*1)
	PREFETCHT0 512(R10)
	PREFETCHT0 512(R10)(R8*1)
	PREFETCHT0 512(R10)(R8*2)
	PREFETCHT0 512(R10)(R9*1)
	VMOVUPS (SI), Y0
	VMOVUPS (SI)(R8*1), Y1
	VMOVUPS (SI)(R8*2), Y2
	VMOVUPS (SI)(R9*1), Y3
	VMOVUPS (R10), Y4
	VMOVUPS (R10)(R8*1), Y5
	VMOVUPS (R10)(R8*2), Y6
	VMOVUPS (R10)(R9*1), Y7

	VUNPCKLPS Y1, Y0, Y8  // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y9  // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	VSHUFPS $0x44, Y10, Y8, Y0  // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xEE, Y10, Y8, Y1  // a1 b1 c1 d1 | a5 ...
	VSHUFPS $0x44, Y11, Y9, Y2  // a2 ... | a6 ...
	VSHUFPS $0xEE, Y11, Y9, Y3  // a3 ... | a7 ...
	VSHUFPS $0x44, Y14, Y12, Y4 // e0 f0 g0 h0 | e4 ...
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	VPERM2F128 $0x20, Y4, Y0, Y8  // column 0
	VPERM2F128 $0x20, Y5, Y1, Y9  // column 1
	VPERM2F128 $0x20, Y6, Y2, Y10 // column 2
	VPERM2F128 $0x20, Y7, Y3, Y11 // column 3
	VPERM2F128 $0x31, Y4, Y0, Y12 // column 4
	VPERM2F128 $0x31, Y5, Y1, Y13 // column 5
	VPERM2F128 $0x31, Y6, Y2, Y14 // column 6
	VPERM2F128 $0x31, Y7, Y3, Y15 // column 7

	VMOVUPS Y8, (DI)
	VMOVUPS Y9, (DI)(DX*1)
	VMOVUPS Y10, (DI)(DX*2)
	VMOVUPS Y11, (DI)(R11*1)
	VMOVUPS Y12, (R12)
	VMOVUPS Y13, (R12)(DX*1)
	VMOVUPS Y14, (R12)(DX*2)
	VMOVUPS Y15, (R12)(R11*1)

	ADDQ $32, SI
	ADDQ $32, R10
	LEAQ (DI)(DX*8), DI
	LEAQ (R12)(DX*8), R12
	DECQ CX
	JNZ  tloop
	VZEROUPPER

tdone:
	RET

// func packNN(dst *float32, src *float32, sstride int, kc int, np int, n8 int)
//
// Packs kc rows of np*8*n8 floats (row stride sstride bytes at src) into np
// panels of kc x 8*n8 floats at dst, row by row so that the source is read
// sequentially. n8 is 1, 2 or 4. Needs AVX.
TEXT ·packNN(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ sstride+16(FP), DX
	MOVQ kc+24(FP), CX
	MOVQ np+32(FP), R8
	MOVQ n8+40(FP), AX
	TESTQ CX, CX
	JZ   ndone
	TESTQ R8, R8
	JZ   ndone
	SHLQ $5, AX           // bytes per panel row
	MOVQ AX, R9
	IMULQ CX, R9          // bytes per panel = kc * row bytes
	CMPQ AX, $128
	JEQ  n32row
	CMPQ AX, $64
	JEQ  n16row

n8row:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ R8, R12

n8col:
	VMOVUPS (R10), Y0
	VMOVUPS Y0, (R11)
	ADDQ $32, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  n8col
	ADDQ DX, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  n8row
	VZEROUPPER
	RET

n16row:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ R8, R12

n16col:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	ADDQ $64, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  n16col
	ADDQ DX, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  n16row
	VZEROUPPER
	RET

n32row:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ R8, R12

n32col:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), Y1
	VMOVUPS 64(R10), Y2
	VMOVUPS 96(R10), Y3
	VMOVUPS Y0, (R11)
	VMOVUPS Y1, 32(R11)
	VMOVUPS Y2, 64(R11)
	VMOVUPS Y3, 96(R11)
	SUBQ $-128, R10
	ADDQ R9, R11
	DECQ R12
	JNZ  n32col
	ADDQ DX, SI
	SUBQ $-128, DI
	DECQ CX
	JNZ  n32row
	VZEROUPPER

ndone:
	RET
