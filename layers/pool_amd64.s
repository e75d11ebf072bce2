//go:build !noasm

#include "textflag.h"

// Pooling kernels, AVX-512: one channel plane per call, 16 outputs of a row
// per vector. See poolGeom (pool_plane.go) for the tables they read.

// Lane numbers 0..15.
DATA poolLanes<>+0(SB)/4, $0
DATA poolLanes<>+4(SB)/4, $1
DATA poolLanes<>+8(SB)/4, $2
DATA poolLanes<>+12(SB)/4, $3
DATA poolLanes<>+16(SB)/4, $4
DATA poolLanes<>+20(SB)/4, $5
DATA poolLanes<>+24(SB)/4, $6
DATA poolLanes<>+28(SB)/4, $7
DATA poolLanes<>+32(SB)/4, $8
DATA poolLanes<>+36(SB)/4, $9
DATA poolLanes<>+40(SB)/4, $10
DATA poolLanes<>+44(SB)/4, $11
DATA poolLanes<>+48(SB)/4, $12
DATA poolLanes<>+52(SB)/4, $13
DATA poolLanes<>+56(SB)/4, $14
DATA poolLanes<>+60(SB)/4, $15
GLOBL poolLanes<>(SB), RODATA|NOPTR, $64

// Even lanes 0, 2, ..., 30 of two vectors.
DATA poolEven<>+0(SB)/4, $0
DATA poolEven<>+4(SB)/4, $2
DATA poolEven<>+8(SB)/4, $4
DATA poolEven<>+12(SB)/4, $6
DATA poolEven<>+16(SB)/4, $8
DATA poolEven<>+20(SB)/4, $10
DATA poolEven<>+24(SB)/4, $12
DATA poolEven<>+28(SB)/4, $14
DATA poolEven<>+32(SB)/4, $16
DATA poolEven<>+36(SB)/4, $18
DATA poolEven<>+40(SB)/4, $20
DATA poolEven<>+44(SB)/4, $22
DATA poolEven<>+48(SB)/4, $24
DATA poolEven<>+52(SB)/4, $26
DATA poolEven<>+56(SB)/4, $28
DATA poolEven<>+60(SB)/4, $30
GLOBL poolEven<>(SB), RODATA|NOPTR, $64

// -FLT_MAX, Caffe's initial maximum.
DATA poolNegMax<>+0(SB)/4, $0xff7fffff
GLOBL poolNegMax<>(SB), RODATA|NOPTR, $4

// Geometry offsets (poolGeom).
#define G_W 0
#define G_OH 8
#define G_OW 16
#define G_KW 24
#define G_SW 32
#define G_NCHUNK 40
#define G_ROWLO 48
#define G_ROWHI 72
#define G_TAB 96
#define G_DIV 120
#define G_TAIL 144

// LOADWIN loads the window column of table entry (R9) of the row at CX
// into Z1: 16 values, or the even values of 32 for stride 2; lanes outside
// the row are zero. AX = the entry's start.
#define LOADWIN(lbl) \
	MOVQ (R9), AX \
	KMOVW 8(R9), K1 \
	KMOVW 12(R9), K3 \
	VMOVUPS.Z (CX)(AX*4), K1, Z1 \
	CMPQ G_SW(R8), $2 \
	JNE  lbl \
	KMOVW 10(R9), K2 \
	VMOVUPS.Z 64(CX)(AX*4), K2, Z6 \
	VPERMT2PS Z6, Z7, Z1 \
lbl:

// func poolMaxPlaneAVX512(y, x *float32, mask *int32, geom *poolGeom)
// Max pooling of one plane: y and mask (the argmax index in the plane) of
// each output; windows scanned row by row with a strict comparison from
// -FLT_MAX and index -1, as Caffe's.
TEXT ·poolMaxPlaneAVX512(SB), NOSPLIT, $0-32
	MOVQ x+8(FP), SI
	MOVQ geom+24(FP), R8
	VMOVDQU32 poolEven<>(SB), Z7
	VMOVDQU32 poolLanes<>(SB), Z2
	VPBROADCASTD G_SW(R8), Z4
	VPMULLD Z4, Z2, Z3        // lane*sw
	VBROADCASTSS poolNegMax<>(SB), Z8
	VPTERNLOGD $0xff, Z9, Z9, Z9 // -1
	KMOVW G_TAIL(R8), K5
	XORQ R10, R10             // oy

xoy:
	XORQ R11, R11             // chunk

xch:
	VMOVAPS Z8, Z10           // best
	VMOVDQA32 Z9, Z11         // argmax
	MOVQ G_ROWLO(R8), AX
	MOVQ (AX)(R10*8), R12     // iy

xiy:
	MOVQ G_ROWHI(R8), AX
	CMPQ R12, (AX)(R10*8)
	JGE  xstore
	MOVQ R12, BX
	IMULQ G_W(R8), BX         // iy*w
	LEAQ (SI)(BX*4), CX
	// R9 = &tab[chunk*kw]
	MOVQ R11, AX
	IMULQ G_KW(R8), AX
	SHLQ $4, AX
	MOVQ G_TAB(R8), R9
	ADDQ AX, R9
	XORQ R13, R13             // j

xj:
	LOADWIN(xloaded)
	VCMPPS $0x1e, Z10, Z1, K3, K4 // value > best (ordered), inside the window
	VMOVAPS Z1, K4, Z10
	LEAQ (BX)(AX*1), DX
	VPBROADCASTD DX, Z5
	VPADDD Z3, Z5, Z5         // indices
	VMOVDQA32 Z5, K4, Z11
	ADDQ $16, R9
	INCQ R13
	CMPQ R13, G_KW(R8)
	JLT  xj
	INCQ R12
	JMP  xiy

xstore:
	MOVQ R10, AX
	IMULQ G_OW(R8), AX
	MOVQ R11, DX
	SHLQ $4, DX
	ADDQ DX, AX               // oy*ow + chunk*16
	MOVQ y+0(FP), DI
	MOVQ mask+16(FP), DX
	INCQ R11
	CMPQ R11, G_NCHUNK(R8)
	JEQ  xlast
	VMOVUPS Z10, (DI)(AX*4)
	VMOVDQU32 Z11, (DX)(AX*4)
	JMP  xch

xlast:
	VMOVUPS Z10, K5, (DI)(AX*4)
	VMOVDQU32 Z11, K5, (DX)(AX*4)
	INCQ R10
	CMPQ R10, G_OH(R8)
	JLT  xoy
	VZEROUPPER
	RET

// func poolAvePlaneAVX512(y, x *float32, geom *poolGeom)
// Average pooling of one plane: each output is the sum of its window
// (row by row, in order) divided by its pool size (geom.div).
TEXT ·poolAvePlaneAVX512(SB), NOSPLIT, $0-24
	MOVQ x+8(FP), SI
	MOVQ geom+16(FP), R8
	VMOVDQU32 poolEven<>(SB), Z7
	KMOVW G_TAIL(R8), K5
	XORQ R10, R10             // oy

aoy:
	XORQ R11, R11             // chunk

ach:
	VXORPS Z10, Z10, Z10      // sum
	MOVQ G_ROWLO(R8), AX
	MOVQ (AX)(R10*8), R12     // iy

aiy:
	MOVQ G_ROWHI(R8), AX
	CMPQ R12, (AX)(R10*8)
	JGE  astore
	MOVQ R12, BX
	IMULQ G_W(R8), BX
	LEAQ (SI)(BX*4), CX
	MOVQ R11, AX
	IMULQ G_KW(R8), AX
	SHLQ $4, AX
	MOVQ G_TAB(R8), R9
	ADDQ AX, R9
	XORQ R13, R13

aj:
	LOADWIN(aloaded)
	VADDPS Z1, Z10, K3, Z10
	ADDQ $16, R9
	INCQ R13
	CMPQ R13, G_KW(R8)
	JLT  aj
	INCQ R12
	JMP  aiy

astore:
	MOVQ R10, AX
	IMULQ G_NCHUNK(R8), AX
	ADDQ R11, AX
	SHLQ $6, AX               // (oy*nchunk + chunk)*64 bytes
	ADDQ G_DIV(R8), AX
	VDIVPS (AX), Z10, Z10
	MOVQ R10, AX
	IMULQ G_OW(R8), AX
	MOVQ R11, DX
	SHLQ $4, DX
	ADDQ DX, AX
	MOVQ y+0(FP), DI
	INCQ R11
	CMPQ R11, G_NCHUNK(R8)
	JEQ  alast
	VMOVUPS Z10, (DI)(AX*4)
	JMP  ach

alast:
	VMOVUPS Z10, K5, (DI)(AX*4)
	INCQ R10
	CMPQ R10, G_OH(R8)
	JLT  aoy
	VZEROUPPER
	RET

// Geometry offsets (poolBackGeom).
#define B_H 0
#define B_W 8
#define B_OH 16
#define B_OW 24
#define B_NCHUNK 32
#define B_T 40
#define B_OYLO 48
#define B_OYHI 72
#define B_IDX 96
#define B_MASK 120
#define B_TAIL 144
#define B_OCHUNK 152
#define B_OTAIL 160
#define B_DIV 168

// func poolAveBackAVX512(dx, dy, gs *float32, geom *poolBackGeom)
// The average-pooling gradient of one plane: gs = dy / pool size, then
// each input value dx[h][x] = the sum, over the outputs whose windows hold
// it, in output order, of gs. Each input row is accumulated in registers,
// 16 values at a time, from gathers of the covering output rows.
TEXT ·poolAveBackAVX512(SB), NOSPLIT, $0-32
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ gs+16(FP), DX
	MOVQ geom+24(FP), R8
	// gs = dy / div, output row by output row.
	KMOVW B_OTAIL(R8), K5
	MOVQ B_DIV(R8), CX
	XORQ R10, R10             // oy

boy:
	XORQ R11, R11             // chunk

boc:
	MOVQ R10, AX
	IMULQ B_OW(R8), AX
	MOVQ R11, BX
	SHLQ $4, BX
	ADDQ BX, AX               // oy*ow + chunk*16
	INCQ R11
	CMPQ R11, B_OCHUNK(R8)
	JEQ  boclast
	VMOVUPS (SI)(AX*4), Z1
	VDIVPS (CX), Z1, Z1
	VMOVUPS Z1, (DX)(AX*4)
	ADDQ $64, CX
	JMP  boc

boclast:
	VMOVUPS.Z (SI)(AX*4), K5, Z1
	VDIVPS (CX), Z1, Z1
	VMOVUPS Z1, K5, (DX)(AX*4)
	ADDQ $64, CX
	INCQ R10
	CMPQ R10, B_OH(R8)
	JLT  boy

	// dx, input row by input row.
	KMOVW B_TAIL(R8), K5
	XORQ R10, R10             // h

bh:
	XORQ R11, R11             // chunk

bch:
	VXORPS Z10, Z10, Z10
	MOVQ B_OYLO(R8), AX
	MOVQ (AX)(R10*8), R12     // oy

boyl:
	MOVQ B_OYHI(R8), AX
	CMPQ R12, (AX)(R10*8)
	JGE  bstore
	MOVQ R12, AX
	IMULQ B_OW(R8), AX
	LEAQ (DX)(AX*4), CX       // gs row oy
	// R9 = chunk*t (entry), BX = &idx[entry*16], SI = &mask[entry]
	MOVQ R11, R9
	IMULQ B_T(R8), R9
	MOVQ R9, BX
	SHLQ $6, BX
	ADDQ B_IDX(R8), BX
	MOVQ B_MASK(R8), SI
	LEAQ (SI)(R9*2), SI
	XORQ R13, R13             // t

	CMPQ B_OW(R8), $16
	JGT  bt
	// A row of at most 16 outputs: permute it rather than gather.
	MOVQ B_OW(R8), AX
	MOVQ AX, R9
	MOVL $1, AX
	XCHGQ R9, CX
	SHLQ CX, AX
	XCHGQ R9, CX
	DECQ AX
	KMOVW AX, K2
	VMOVUPS.Z (CX), K2, Z3

btp:
	KMOVW (SI), K1
	VMOVDQU32 (BX), Z2
	VPERMPS Z3, Z2, Z1
	VADDPS Z1, Z10, K1, Z10
	ADDQ $64, BX
	ADDQ $2, SI
	INCQ R13
	CMPQ R13, B_T(R8)
	JLT  btp
	INCQ R12
	JMP  boyl

bt:
	KMOVW (SI), K1
	VMOVDQU32 (BX), Z2
	VXORPS Z1, Z1, Z1
	VGATHERDPS (CX)(Z2*4), K1, Z1
	VADDPS Z1, Z10, Z10
	ADDQ $64, BX
	ADDQ $2, SI
	INCQ R13
	CMPQ R13, B_T(R8)
	JLT  bt
	INCQ R12
	JMP  boyl

bstore:
	MOVQ R11, AX
	SHLQ $4, AX
	INCQ R11
	CMPQ R11, B_NCHUNK(R8)
	JEQ  bclast
	VMOVUPS Z10, (DI)(AX*4)
	JMP  bch

bclast:
	VMOVUPS Z10, K5, (DI)(AX*4)
	MOVQ B_W(R8), AX
	LEAQ (DI)(AX*4), DI
	INCQ R10
	CMPQ R10, B_H(R8)
	JLT  bh
	VZEROUPPER
	RET
