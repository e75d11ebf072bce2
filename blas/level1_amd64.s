//go:build !noasm

#include "textflag.h"

// The level-1 kernels work on 32 floats per iteration and finish element by
// element with the scalar forms of the same instructions, so every element
// is computed with the same roundings wherever it falls. Need AVX and FMA.

// func saxpyAsm(n int, alpha float32, x, y *float32)
TEXT ·saxpyAsm(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ x+16(FP), SI
	MOVQ y+24(FP), DI
	VBROADCASTSS alpha+8(FP), Y0
	CMPQ CX, $32
	JL   axtail

axloop:
	VMOVUPS (DI), Y1
	VMOVUPS 32(DI), Y2
	VMOVUPS 64(DI), Y3
	VMOVUPS 96(DI), Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	SUBQ $-128, SI
	SUBQ $-128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  axloop

axtail:
	TESTQ CX, CX
	JZ   axdone

axone:
	VMOVSS (DI), X1
	VFMADD231SS (SI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  axone

axdone:
	VZEROUPPER
	RET

// func saxpbyAsm(n int, alpha float32, x *float32, beta float32, y *float32)
TEXT ·saxpbyAsm(SB), NOSPLIT, $0-40
	MOVQ n+0(FP), CX
	MOVQ x+16(FP), SI
	MOVQ y+32(FP), DI
	VBROADCASTSS alpha+8(FP), Y0
	VBROADCASTSS beta+24(FP), Y5
	CMPQ CX, $32
	JL   bytail

byloop:
	VMULPS (DI), Y5, Y1
	VMULPS 32(DI), Y5, Y2
	VMULPS 64(DI), Y5, Y3
	VMULPS 96(DI), Y5, Y4
	VFMADD231PS (SI), Y0, Y1
	VFMADD231PS 32(SI), Y0, Y2
	VFMADD231PS 64(SI), Y0, Y3
	VFMADD231PS 96(SI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	SUBQ $-128, SI
	SUBQ $-128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  byloop

bytail:
	TESTQ CX, CX
	JZ   bydone

byone:
	VMULSS (DI), X5, X1
	VFMADD231SS (SI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  byone

bydone:
	VZEROUPPER
	RET

// func sscalAsm(n int, alpha float32, x *float32)
TEXT ·sscalAsm(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ x+16(FP), DI
	VBROADCASTSS alpha+8(FP), Y0
	CMPQ CX, $32
	JL   sctail

scloop:
	VMULPS (DI), Y0, Y1
	VMULPS 32(DI), Y0, Y2
	VMULPS 64(DI), Y0, Y3
	VMULPS 96(DI), Y0, Y4
	VMOVUPS Y1, (DI)
	VMOVUPS Y2, 32(DI)
	VMOVUPS Y3, 64(DI)
	VMOVUPS Y4, 96(DI)
	SUBQ $-128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  scloop

sctail:
	TESTQ CX, CX
	JZ   scdone

scone:
	VMULSS (DI), X0, X1
	VMOVSS X1, (DI)
	ADDQ $4, DI
	DECQ CX
	JNZ  scone

scdone:
	VZEROUPPER
	RET

// func sdotAsm(n int, x, y *float32) float32
//
// Four 8-lane partial sums over blocks of 32, added pairwise at the end,
// then the leftover elements in order.
TEXT ·sdotAsm(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JL   dtail

dloop:
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VFMADD231PS (DI), Y4, Y0
	VFMADD231PS 32(DI), Y5, Y1
	VFMADD231PS 64(DI), Y6, Y2
	VFMADD231PS 96(DI), Y7, Y3
	SUBQ $-128, SI
	SUBQ $-128, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  dloop

dtail:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	TESTQ CX, CX
	JZ   ddone

done1:
	VMOVSS (SI), X4
	VFMADD231SS (DI), X4, X0
	ADDQ $4, SI
	ADDQ $4, DI
	DECQ CX
	JNZ  done1

ddone:
	VMOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func sasumAsm(n int, x *float32) float32
TEXT ·sasumAsm(SB), NOSPLIT, $0-20
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	MOVL $0x7fffffff, AX
	MOVL AX, X8
	VPBROADCASTD X8, Y8
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	CMPQ CX, $32
	JL   atail

aloop:
	VANDPS (SI), Y8, Y4
	VANDPS 32(SI), Y8, Y5
	VANDPS 64(SI), Y8, Y6
	VANDPS 96(SI), Y8, Y7
	VADDPS Y4, Y0, Y0
	VADDPS Y5, Y1, Y1
	VADDPS Y6, Y2, Y2
	VADDPS Y7, Y3, Y3
	SUBQ $-128, SI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  aloop

atail:
	VADDPS Y1, Y0, Y0
	VADDPS Y3, Y2, Y2
	VADDPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS X1, X0, X0
	VHADDPS X0, X0, X0
	VHADDPS X0, X0, X0
	TESTQ CX, CX
	JZ   adone

aone:
	VMOVSS (SI), X4
	VANDPS X8, X4, X4
	VADDSS X4, X0, X0
	ADDQ $4, SI
	DECQ CX
	JNZ  aone

adone:
	VMOVSS X0, ret+16(FP)
	VZEROUPPER
	RET
