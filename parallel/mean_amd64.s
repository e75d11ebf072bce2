//go:build !noasm

#include "textflag.h"

// func meanAVX2(dst *float32, srcs **float32, k, n int, kf float64, spread uint32) int
//
// Per block of 8 elements: Y0, Y1 are the float64 sums of elements 0-3 and
// 4-7 (the first vector, then the others added in order); Y3 and Y2 the
// largest and smallest |x| bit patterns (float32 bits & 0x7fffffff, whose
// order is the order of the magnitudes). The block is averaged when
// (max>>23) - (min>>23) <= spread and max <= 0x7f7fffff (finite).
TEXT ·meanAVX2(SB), NOSPLIT, $0-56
	MOVQ dst+0(FP), DI
	MOVQ srcs+8(FP), R8
	MOVQ k+16(FP), R9
	MOVQ n+24(FP), CX
	MOVSD kf+32(FP), X14
	VBROADCASTSD X14, Y14
	MOVL spread+40(FP), AX
	MOVL AX, X13
	VPBROADCASTD X13, Y13
	MOVL $0x7fffffff, AX
	MOVL AX, X12
	VPBROADCASTD X12, Y12
	MOVL $0x7f7fffff, AX
	MOVL AX, X11
	VPBROADCASTD X11, Y11
	XORQ SI, SI

block:
	LEAQ 8(SI), AX
	CMPQ AX, CX
	JGT  done
	MOVQ (R8), R10
	VCVTPS2PD (R10)(SI*4), Y0
	VCVTPS2PD 16(R10)(SI*4), Y1
	VPAND (R10)(SI*4), Y12, Y2
	VMOVDQU Y2, Y3
	MOVQ $1, BX

vectors:
	CMPQ BX, R9
	JGE  check
	MOVQ (R8)(BX*8), R10
	VCVTPS2PD (R10)(SI*4), Y4
	VADDPD Y4, Y0, Y0
	VCVTPS2PD 16(R10)(SI*4), Y5
	VADDPD Y5, Y1, Y1
	VPAND (R10)(SI*4), Y12, Y6
	VPMAXUD Y6, Y3, Y3
	VPMINUD Y6, Y2, Y2
	INCQ BX
	JMP  vectors

check:
	VPSRLD $23, Y3, Y7
	VPSRLD $23, Y2, Y8
	VPSUBD Y8, Y7, Y7
	VPCMPGTD Y13, Y7, Y7
	VPCMPGTD Y11, Y3, Y9
	VPOR Y9, Y7, Y7
	VPTEST Y7, Y7
	JNE  done
	VDIVPD Y14, Y0, Y0
	VDIVPD Y14, Y1, Y1
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y1, X1
	VMOVUPS X0, (DI)(SI*4)
	VMOVUPS X1, 16(DI)(SI*4)
	ADDQ $8, SI
	JMP  block

done:
	VZEROUPPER
	MOVQ SI, ret+48(FP)
	RET
