//go:build !noasm

#include "textflag.h"

DATA reluOne<>+0(SB)/4, $0x3f800000
GLOBL reluOne<>(SB), RODATA|NOPTR, $4

// func reluForwardAVX512(y, x *float32, n int, slope float32)
// y = max(x, 0) + slope*min(x, 0) with Go's max and min (NaN wins, max of
// zeros is +0, min -0), 16 values at a time; slope 0 skips the second term.
TEXT ·reluForwardAVX512(SB), NOSPLIT, $0-28
	MOVQ y+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	VBROADCASTSS slope+24(FP), Z3
	VXORPS Z0, Z0, Z0
	XORQ AX, AX
	MOVL slope+24(FP), DX
	TESTL DX, DX
	JNZ  rfslope

rf0:
	MOVQ CX, BX
	SUBQ AX, BX
	JLE  rfdone
	CMPQ BX, $16
	JLT  rf0tail
	VMOVUPS (SI)(AX*4), Z1
	VMAXPS Z1, Z0, Z1         // x where NaN or both zero
	VADDPS Z0, Z1, Z1         // -0 + 0 = +0
	VMOVUPS Z1, (DI)(AX*4)
	ADDQ $16, AX
	JMP  rf0

rf0tail:
	MOVQ BX, CX
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VMAXPS Z1, Z0, Z1
	VADDPS Z0, Z1, Z1
	VMOVUPS Z1, K1, (DI)(AX*4)
	JMP  rfdone

rfslope:
	MOVQ CX, BX
	SUBQ AX, BX
	JLE  rfdone
	CMPQ BX, $16
	JLT  rfstail
	VMOVUPS (SI)(AX*4), Z1
	VMAXPS Z1, Z0, Z2
	VADDPS Z0, Z2, Z2
	VMINPS Z1, Z0, Z1
	VMULPS Z3, Z1, Z1
	VADDPS Z1, Z2, Z2
	VMOVUPS Z2, (DI)(AX*4)
	ADDQ $16, AX
	JMP  rfslope

rfstail:
	MOVQ BX, CX
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (SI)(AX*4), K1, Z1
	VMAXPS Z1, Z0, Z2
	VADDPS Z0, Z2, Z2
	VMINPS Z1, Z0, Z1
	VMULPS Z3, Z1, Z1
	VADDPS Z1, Z2, Z2
	VMOVUPS Z2, K1, (DI)(AX*4)

rfdone:
	VZEROUPPER
	RET

// func reluBackwardAVX512(dx, dy, x *float32, n int, slope float32)
// dx = dy * ((x > 0) + slope*(x <= 0)): the factor is 1, slope or (x NaN) 0.
TEXT ·reluBackwardAVX512(SB), NOSPLIT, $0-36
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ x+16(FP), R8
	MOVQ n+24(FP), CX
	VBROADCASTSS slope+32(FP), Z3
	VBROADCASTSS reluOne<>(SB), Z4
	VXORPS Z0, Z0, Z0
	XORQ AX, AX

rb:
	MOVQ CX, BX
	SUBQ AX, BX
	JLE  rbdone
	CMPQ BX, $16
	JLT  rbtail
	VMOVUPS (R8)(AX*4), Z1
	VCMPPS $0x1e, Z0, Z1, K2  // x > 0 (ordered)
	VCMPPS $0x12, Z0, Z1, K3  // x <= 0 (ordered)
	VMOVAPS Z0, Z2
	VMOVAPS Z4, K2, Z2
	VMOVAPS Z3, K3, Z2
	VMULPS (SI)(AX*4), Z2, Z2
	VMOVUPS Z2, (DI)(AX*4)
	ADDQ $16, AX
	JMP  rb

rbtail:
	MOVQ BX, CX
	MOVL $1, DX
	SHLL CX, DX
	DECL DX
	KMOVW DX, K1
	VMOVUPS.Z (R8)(AX*4), K1, Z1
	VMOVUPS.Z (SI)(AX*4), K1, Z5
	VCMPPS $0x1e, Z0, Z1, K2
	VCMPPS $0x12, Z0, Z1, K3
	VMOVAPS Z0, Z2
	VMOVAPS Z4, K2, Z2
	VMOVAPS Z3, K3, Z2
	VMULPS Z5, Z2, Z2
	VMOVUPS Z2, K1, (DI)(AX*4)

rbdone:
	VZEROUPPER
	RET
