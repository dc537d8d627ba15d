// Matrix-vector kernels over PackedB's strips: t[j] = Σ_p x[p]·b[p*w + j],
// b stored [k][w] contiguously, so the kernel streams it front to back.
// Each column sums even p and odd p in separate accumulators (twice the
// independent FMA chains) and adds the two at the end; both widths do
// exactly this, so a column's result does not depend on its strip.

#include "textflag.h"

// func gemvStrip64AVX512(t, x, b *float32, k int)
TEXT ·gemvStrip64AVX512(SB), NOSPLIT, $0-32
	MOVQ t+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ k+24(FP), CX

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

	MOVQ CX, BX
	SHRQ $1, BX
	JZ   s64tail

s64loop:
	VBROADCASTSS (SI), Z16
	VBROADCASTSS 4(SI), Z17
	VFMADD231PS  (DX), Z16, Z0
	VFMADD231PS  64(DX), Z16, Z1
	VFMADD231PS  128(DX), Z16, Z2
	VFMADD231PS  192(DX), Z16, Z3
	VFMADD231PS  256(DX), Z17, Z4
	VFMADD231PS  320(DX), Z17, Z5
	VFMADD231PS  384(DX), Z17, Z6
	VFMADD231PS  448(DX), Z17, Z7
	ADDQ         $8, SI
	ADDQ         $512, DX
	DECQ         BX
	JNZ          s64loop

s64tail:
	TESTQ $1, CX
	JZ    s64done
	VBROADCASTSS (SI), Z16
	VFMADD231PS  (DX), Z16, Z0
	VFMADD231PS  64(DX), Z16, Z1
	VFMADD231PS  128(DX), Z16, Z2
	VFMADD231PS  192(DX), Z16, Z3

s64done:
	VADDPS  Z4, Z0, Z0
	VADDPS  Z5, Z1, Z1
	VADDPS  Z6, Z2, Z2
	VADDPS  Z7, Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VZEROUPPER
	RET

// func gemvStrip16AVX512(t, x, b *float32, k int)
TEXT ·gemvStrip16AVX512(SB), NOSPLIT, $0-32
	MOVQ t+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ k+24(FP), CX

	VPXORD Z0, Z0, Z0
	VPXORD Z4, Z4, Z4

	MOVQ CX, BX
	SHRQ $1, BX
	JZ   s16tail

s16loop:
	VBROADCASTSS (SI), Z16
	VBROADCASTSS 4(SI), Z17
	VFMADD231PS  (DX), Z16, Z0
	VFMADD231PS  64(DX), Z17, Z4
	ADDQ         $8, SI
	ADDQ         $128, DX
	DECQ         BX
	JNZ          s16loop

s16tail:
	TESTQ $1, CX
	JZ    s16done
	VBROADCASTSS (SI), Z16
	VFMADD231PS  (DX), Z16, Z0

s16done:
	VADDPS  Z4, Z0, Z0
	VMOVUPS Z0, (DI)
	VZEROUPPER
	RET

// func copyPanels(d *float32, dstride int, s *float32, n int)
// n times: 48 consecutive floats from s to d, d advancing by dstride
// floats: one row of n consecutive panels of a PackedB (see PackRows).
TEXT ·copyPanels(SB), NOSPLIT, $0-32
	MOVQ d+0(FP), DI
	MOVQ dstride+8(FP), R8
	SHLQ $2, R8
	MOVQ s+16(FP), SI
	MOVQ n+24(FP), CX

cploop:
	TESTQ   CX, CX
	JLE     cpdone
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z1
	VMOVUPS 128(SI), Z2
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	ADDQ    $192, SI
	ADDQ    R8, DI
	DECQ    CX
	JMP     cploop

cpdone:
	VZEROUPPER
	RET
