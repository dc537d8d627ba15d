// The finiteness check of sparse.go (its indexed micro-kernel is in
// kernel_amd64.s, beside the 8×48 kernel whose macros it shares).

#include "textflag.h"

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
