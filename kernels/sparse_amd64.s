// The micro-kernel of products whose A has zero k steps (sparse.go).

#include "textflag.h"

// One step of a compacted A: B's 48 floats at b + off[i] (bytes; R12
// walks off), A's 8 values at SI. Accumulators as in sgemm8x48AVX512
// (ROW48 is redefined here: macros do not cross files).
#define ROWI(aoff, r0, r1, r2) \
	VBROADCASTSS aoff(SI), Z27; \
	VFMADD231PS  Z24, Z27, r0;  \
	VFMADD231PS  Z25, Z27, r1;  \
	VFMADD231PS  Z26, Z27, r2

#define STEPI \
	MOVLQSX (R12), AX;            \
	VMOVUPS (DI)(AX*1), Z24;      \
	VMOVUPS 64(DI)(AX*1), Z25;    \
	VMOVUPS 128(DI)(AX*1), Z26;   \
	ADDQ    $4, R12;              \
	ROWI(0, Z0, Z1, Z2);          \
	ROWI(4, Z3, Z4, Z5);          \
	ROWI(8, Z6, Z7, Z8);          \
	ROWI(12, Z9, Z10, Z11);       \
	ROWI(16, Z12, Z13, Z14);      \
	ROWI(20, Z15, Z16, Z17);      \
	ROWI(24, Z18, Z19, Z20);      \
	ROWI(28, Z21, Z22, Z23);      \
	ADDQ    $32, SI

#define STOREI(r0, r1, r2) \
	VMOVUPS r0, (DX);    \
	VMOVUPS r1, 64(DX);  \
	VMOVUPS r2, 128(DX); \
	ADDQ    R8, DX

#define STOREIBETA(r0, r1, r2) \
	VFMADD231PS (DX), Z29, r0;    \
	VFMADD231PS 64(DX), Z29, r1;  \
	VFMADD231PS 128(DX), Z29, r2; \
	STOREI(r0, r1, r2)

#define SCALEI(r0, r1, r2) \
	VMULPS Z28, r0, r0; \
	VMULPS Z28, r1, r1; \
	VMULPS Z28, r2, r2

// func sgemm8x48idxAVX512(n int, a *float32, b *float32, off *int32, c *float32, ldc int, alpha, beta float32, pf *float32)
TEXT ·sgemm8x48idxAVX512(SB), NOSPLIT, $0-64
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ off+24(FP), R12
	MOVQ c+32(FP), DX
	MOVQ ldc+40(FP), R8
	SHLQ $2, R8
	MOVQ pf+56(FP), R11

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

	MOVQ DX, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)
	ADDQ R8, AX
	PREFETCHT0 (AX)
	PREFETCHT0 128(AX)

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   itail

iloop4:
	PREFETCHT1 (R11)
	PREFETCHT1 64(R11)
	ADDQ       $128, R11
	STEPI
	STEPI
	STEPI
	STEPI
	DECQ BX
	JNZ  iloop4

itail:
	ANDQ $3, CX
	JZ   idone

iloop1:
	STEPI
	DECQ CX
	JNZ  iloop1

idone:
	VBROADCASTSS alpha+48(FP), Z28
	SCALEI(Z0, Z1, Z2)
	SCALEI(Z3, Z4, Z5)
	SCALEI(Z6, Z7, Z8)
	SCALEI(Z9, Z10, Z11)
	SCALEI(Z12, Z13, Z14)
	SCALEI(Z15, Z16, Z17)
	SCALEI(Z18, Z19, Z20)
	SCALEI(Z21, Z22, Z23)

	MOVL  beta+52(FP), AX
	TESTL $0x7fffffff, AX
	JZ    istore0

	VBROADCASTSS beta+52(FP), Z29
	STOREIBETA(Z0, Z1, Z2)
	STOREIBETA(Z3, Z4, Z5)
	STOREIBETA(Z6, Z7, Z8)
	STOREIBETA(Z9, Z10, Z11)
	STOREIBETA(Z12, Z13, Z14)
	STOREIBETA(Z15, Z16, Z17)
	STOREIBETA(Z18, Z19, Z20)
	STOREIBETA(Z21, Z22, Z23)
	VZEROUPPER
	RET

istore0:
	STOREI(Z0, Z1, Z2)
	STOREI(Z3, Z4, Z5)
	STOREI(Z6, Z7, Z8)
	STOREI(Z9, Z10, Z11)
	STOREI(Z12, Z13, Z14)
	STOREI(Z15, Z16, Z17)
	STOREI(Z18, Z19, Z20)
	STOREI(Z21, Z22, Z23)
	VZEROUPPER
	RET

// func nonFiniteAVX512(x *float32, n int) bool
// Reports whether any of x[0:n] has an all-ones exponent (±Inf, NaN),
// 16 floats at a time; the n%16 rest is the caller's.
TEXT ·nonFiniteAVX512(SB), NOSPLIT, $0-17
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	SHRQ $4, CX
	MOVL $0x7f800000, AX
	VPBROADCASTD AX, Z1
	KXORW K2, K2, K2
	JZ   nfdone

nfloop:
	VPANDD   (SI), Z1, Z0
	VPCMPEQD Z1, Z0, K1
	KORW     K1, K2, K2
	ADDQ     $64, SI
	DECQ     CX
	JNZ      nfloop

nfdone:
	KORTESTW K2, K2
	SETNE    ret+16(FP)
	VZEROUPPER
	RET
