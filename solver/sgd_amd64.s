//go:build !noasm

#include "textflag.h"

// func sgdAVX512(w, grad, hist *float32, n int, c *sgdConsts)
// For k < n, 16 values at a time with the remainder under a mask:
//	u = g*norm (+ decay*w when decay is on)
//	h = rate*u + momentum*h
//	g = h, w = w - h
// each product rounded on its own (no FMA), as sgdScalar.
TEXT ·sgdAVX512(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), DI
	MOVQ grad+8(FP), SI
	MOVQ hist+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ c+32(FP), R8
	VBROADCASTSS 0(R8), Z4    // norm
	VBROADCASTSS 4(R8), Z5    // decay
	VBROADCASTSS 8(R8), Z6    // rate
	VBROADCASTSS 12(R8), Z7   // momentum
	MOVL 16(R8), R9           // decay on
	XORQ AX, AX
	MOVW $0xffff, BX
	KMOVW BX, K1

loop:
	MOVQ CX, BX
	SUBQ AX, BX
	JLE  done
	CMPQ BX, $16
	JGE  body
	MOVQ BX, R10              // the last n-AX < 16 values under a mask
	MOVL $1, BX
	SHLXL R10, BX, BX
	DECL BX
	KMOVW BX, K1

body:
	VMOVUPS.Z (SI)(AX*4), K1, Z0
	VMOVUPS.Z (DI)(AX*4), K1, Z1
	VMOVUPS.Z (DX)(AX*4), K1, Z3
	VMULPS Z4, Z0, Z0
	TESTL R9, R9
	JZ   nodecay
	VMULPS Z5, Z1, Z2
	VADDPS Z2, Z0, Z0

nodecay:
	VMULPS Z6, Z0, Z0
	VMULPS Z7, Z3, Z3
	VADDPS Z3, Z0, Z0
	VSUBPS Z0, Z1, Z1
	VMOVUPS Z0, K1, (DX)(AX*4)
	VMOVUPS Z0, K1, (SI)(AX*4)
	VMOVUPS Z1, K1, (DI)(AX*4)
	ADDQ $16, AX
	JMP  loop

done:
	VZEROUPPER
	RET
