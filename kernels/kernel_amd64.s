// Micro-kernels for Sgemm on amd64. See kernel_amd64.go for the Go
// declarations and the packed layouts they read.

#include "textflag.h"

// ---------------------------------------------------------------------------
// sgemm8x48AVX512: C[8×48] = alpha·Ap·Bp + beta·C.
// Accumulators: row i in Z(3i), Z(3i+1), Z(3i+2) (Z0..Z23).
// Per k step: 3 loads of B (48 floats), 8 broadcasts of A, 24 FMAs, so the
// two FMA ports stay busy and the load ports have slack.

#define ROW48(aoff, r0, r1, r2) \
	VBROADCASTSS aoff(SI), Z27; \
	VFMADD231PS  Z24, Z27, r0;  \
	VFMADD231PS  Z25, Z27, r1;  \
	VFMADD231PS  Z26, Z27, r2

#define STEP48(aoff) \
	VMOVUPS (DI), Z24;            \
	VMOVUPS 64(DI), Z25;          \
	VMOVUPS 128(DI), Z26;         \
	ADDQ    R9, DI;               \
	ROW48(aoff, Z0, Z1, Z2);      \
	ROW48(aoff+4, Z3, Z4, Z5);    \
	ROW48(aoff+8, Z6, Z7, Z8);    \
	ROW48(aoff+12, Z9, Z10, Z11); \
	ROW48(aoff+16, Z12, Z13, Z14); \
	ROW48(aoff+20, Z15, Z16, Z17); \
	ROW48(aoff+24, Z18, Z19, Z20); \
	ROW48(aoff+28, Z21, Z22, Z23)

// C row = row (beta == 0) or row + beta·C (beta in Z29); DX advances by ldc.
#define STORE48(r0, r1, r2) \
	VMOVUPS r0, (DX);    \
	VMOVUPS r1, 64(DX);  \
	VMOVUPS r2, 128(DX); \
	ADDQ    R8, DX

#define STORE48BETA(r0, r1, r2) \
	VFMADD231PS (DX), Z29, r0;    \
	VFMADD231PS 64(DX), Z29, r1;  \
	VFMADD231PS 128(DX), Z29, r2; \
	STORE48(r0, r1, r2)

#define SCALE3(r0, r1, r2) \
	VMULPS Z28, r0, r0; \
	VMULPS Z28, r1, r1; \
	VMULPS Z28, r2, r2

// The 8×48 kernels' common parts: clearing the accumulators, pulling the
// C tile (DX, ldc bytes in R8) towards L1 while the k loop runs, scaling
// by alpha (Z28) and storing with or without beta (Z29).
#define ZERO48 \
	VPXORD Z0, Z0, Z0; \
	VPXORD Z1, Z1, Z1; \
	VPXORD Z2, Z2, Z2; \
	VPXORD Z3, Z3, Z3; \
	VPXORD Z4, Z4, Z4; \
	VPXORD Z5, Z5, Z5; \
	VPXORD Z6, Z6, Z6; \
	VPXORD Z7, Z7, Z7; \
	VPXORD Z8, Z8, Z8; \
	VPXORD Z9, Z9, Z9; \
	VPXORD Z10, Z10, Z10; \
	VPXORD Z11, Z11, Z11; \
	VPXORD Z12, Z12, Z12; \
	VPXORD Z13, Z13, Z13; \
	VPXORD Z14, Z14, Z14; \
	VPXORD Z15, Z15, Z15; \
	VPXORD Z16, Z16, Z16; \
	VPXORD Z17, Z17, Z17; \
	VPXORD Z18, Z18, Z18; \
	VPXORD Z19, Z19, Z19; \
	VPXORD Z20, Z20, Z20; \
	VPXORD Z21, Z21, Z21; \
	VPXORD Z22, Z22, Z22; \
	VPXORD Z23, Z23, Z23

#define PREFC2 \
	PREFETCHT0 (AX);    \
	PREFETCHT0 128(AX); \
	ADDQ       R8, AX

#define PREFETCHC48 \
	MOVQ DX, AX; \
	PREFC2;      \
	PREFC2;      \
	PREFC2;      \
	PREFC2;      \
	PREFC2;      \
	PREFC2;      \
	PREFC2;      \
	PREFC2

#define SCALE48 \
	SCALE3(Z0, Z1, Z2); \
	SCALE3(Z3, Z4, Z5); \
	SCALE3(Z6, Z7, Z8); \
	SCALE3(Z9, Z10, Z11); \
	SCALE3(Z12, Z13, Z14); \
	SCALE3(Z15, Z16, Z17); \
	SCALE3(Z18, Z19, Z20); \
	SCALE3(Z21, Z22, Z23)

#define STORE48ALL \
	STORE48(Z0, Z1, Z2); \
	STORE48(Z3, Z4, Z5); \
	STORE48(Z6, Z7, Z8); \
	STORE48(Z9, Z10, Z11); \
	STORE48(Z12, Z13, Z14); \
	STORE48(Z15, Z16, Z17); \
	STORE48(Z18, Z19, Z20); \
	STORE48(Z21, Z22, Z23)

#define STORE48ALLBETA \
	STORE48BETA(Z0, Z1, Z2); \
	STORE48BETA(Z3, Z4, Z5); \
	STORE48BETA(Z6, Z7, Z8); \
	STORE48BETA(Z9, Z10, Z11); \
	STORE48BETA(Z12, Z13, Z14); \
	STORE48BETA(Z15, Z16, Z17); \
	STORE48BETA(Z18, Z19, Z20); \
	STORE48BETA(Z21, Z22, Z23)

// Consecutive k steps of A are astride floats apart (8 when packed, the
// leading dimension of a transposed A read in place), and of B bstride
// floats apart (48 when packed, the leading dimension of a row-major B read
// in place).
//
// Every four k steps it also prefetches two cache lines into L2, from pf
// on (2·64 bytes per 4 steps: kc·32 bytes a call). A product over a
// packed B points pf at the panel it will read next, so that panel's first
// tile finds it in L2: its 4 KB pages defeat the hardware prefetchers,
// and when another core has just written it (a trainer's shards read the
// weights the update wrote) the misses cost most. Callers with nothing to
// fetch pass b, lines already in L1.
//
// func sgemm8x48AVX512(kc int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, pf *float32)
TEXT ·sgemm8x48AVX512(SB), NOSPLIT, $0-72
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ astride+16(FP), R10
	SHLQ $2, R10
	MOVQ b+24(FP), DI
	MOVQ bstride+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8
	MOVQ pf+64(FP), R11

	ZERO48

	// Pull the C tile towards L1 while the k loop runs.
	PREFETCHC48

	// k loop, unrolled by 4.
	MOVQ CX, BX
	SHRQ $2, BX
	JZ   k48tail

k48loop4:
	PREFETCHT1 (R11)
	PREFETCHT1 64(R11)
	ADDQ       $128, R11
	STEP48(0)
	ADDQ R10, SI
	STEP48(0)
	ADDQ R10, SI
	STEP48(0)
	ADDQ R10, SI
	STEP48(0)
	ADDQ R10, SI
	DECQ BX
	JNZ  k48loop4

k48tail:
	ANDQ $3, CX
	JZ   k48done

k48loop1:
	STEP48(0)
	ADDQ R10, SI
	DECQ CX
	JNZ  k48loop1

k48done:
	VBROADCASTSS alpha+56(FP), Z28
	SCALE48

	// beta == ±0: C is write-only.
	MOVL  beta+60(FP), AX
	TESTL $0x7fffffff, AX
	JZ    k48store0

	VBROADCASTSS beta+60(FP), Z29
	STORE48ALLBETA
	VZEROUPPER
	RET

k48store0:
	STORE48ALL
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// sgemm8x48idxAVX512: the 8×48 kernel over a compacted A (sparse.go):
// n steps of A's 8 values at SI, each against B's 48 floats at b + off[i]
// (bytes; R12 walks off). Accumulators as in sgemm8x48AVX512.
#define STEPI \
	MOVLQSX (R12), AX;          \
	VMOVUPS (DI)(AX*1), Z24;    \
	VMOVUPS 64(DI)(AX*1), Z25;  \
	VMOVUPS 128(DI)(AX*1), Z26; \
	ADDQ    $4, R12;            \
	ROW48(0, Z0, Z1, Z2);       \
	ROW48(4, Z3, Z4, Z5);       \
	ROW48(8, Z6, Z7, Z8);       \
	ROW48(12, Z9, Z10, Z11);    \
	ROW48(16, Z12, Z13, Z14);   \
	ROW48(20, Z15, Z16, Z17);   \
	ROW48(24, Z18, Z19, Z20);   \
	ROW48(28, Z21, Z22, Z23);   \
	ADDQ    $32, SI

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

	ZERO48

	PREFETCHC48

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
	SCALE48

	MOVL  beta+52(FP), AX
	TESTL $0x7fffffff, AX
	JZ    istore0

	VBROADCASTSS beta+52(FP), Z29
	STORE48ALLBETA
	VZEROUPPER
	RET

istore0:
	STORE48ALL
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// sgemm6x16AVX2: C[6×16] = alpha·Ap·Bp + beta·C with AVX2+FMA.
// Accumulators: row i in Y(2i), Y(2i+1) (Y0..Y11); B in Y12, Y13.

#define ROW16(aoff, r0, r1) \
	VBROADCASTSS aoff(SI), Y14; \
	VFMADD231PS  Y12, Y14, r0;  \
	VFMADD231PS  Y13, Y14, r1

#define STEP16(aoff, boff) \
	VMOVUPS boff(DI), Y12;      \
	VMOVUPS (boff+32)(DI), Y13; \
	ROW16(aoff, Y0, Y1);        \
	ROW16(aoff+4, Y2, Y3);      \
	ROW16(aoff+8, Y4, Y5);      \
	ROW16(aoff+12, Y6, Y7);     \
	ROW16(aoff+16, Y8, Y9);     \
	ROW16(aoff+20, Y10, Y11)

#define STORE16(r0, r1) \
	VMOVUPS r0, (DX);   \
	VMOVUPS r1, 32(DX); \
	ADDQ    R8, DX

#define STORE16BETA(r0, r1) \
	VFMADD231PS (DX), Y15, r0;   \
	VFMADD231PS 32(DX), Y15, r1; \
	STORE16(r0, r1)

#define SCALE2(r0, r1) \
	VMULPS Y14, r0, r0; \
	VMULPS Y14, r1, r1

// func sgemm6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemm6x16AVX2(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	MOVQ CX, BX
	SHRQ $2, BX
	JZ   k16tail

k16loop4:
	STEP16(0, 0)
	STEP16(24, 64)
	STEP16(48, 128)
	STEP16(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	DECQ BX
	JNZ  k16loop4

k16tail:
	ANDQ $3, CX
	JZ   k16done

k16loop1:
	STEP16(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  k16loop1

k16done:
	VBROADCASTSS alpha+40(FP), Y14
	SCALE2(Y0, Y1)
	SCALE2(Y2, Y3)
	SCALE2(Y4, Y5)
	SCALE2(Y6, Y7)
	SCALE2(Y8, Y9)
	SCALE2(Y10, Y11)

	MOVL  beta+44(FP), AX
	TESTL $0x7fffffff, AX
	JZ    k16store0

	VBROADCASTSS beta+44(FP), Y15
	STORE16BETA(Y0, Y1)
	STORE16BETA(Y2, Y3)
	STORE16BETA(Y4, Y5)
	STORE16BETA(Y6, Y7)
	STORE16BETA(Y8, Y9)
	STORE16BETA(Y10, Y11)
	VZEROUPPER
	RET

k16store0:
	STORE16(Y0, Y1)
	STORE16(Y2, Y3)
	STORE16(Y4, Y5)
	STORE16(Y6, Y7)
	STORE16(Y8, Y9)
	STORE16(Y10, Y11)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// transpose8x8AVX transposes blocks consecutive 8×8 blocks:
//   dst[(8b+q)*ldd + i] = src[i*lds + 8b + q],  i, q in [0, 8).
// It is the packer for row-major A and for transposed B.

// func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int, blocks int)
TEXT ·transpose8x8AVX(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ blocks+32(FP), CX
	TESTQ CX, CX
	JZ    tdone
	LEAQ (R9)(R9*2), R10 // 3·lds
	LEAQ (R8)(R8*2), R11 // 3·ldd

tloop:
	// Rows 0..7 of the block.
	MOVQ    SI, AX
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R9*1), Y1
	VMOVUPS (AX)(R9*2), Y2
	VMOVUPS (AX)(R10*1), Y3
	LEAQ    (AX)(R9*4), AX
	VMOVUPS (AX), Y4
	VMOVUPS (AX)(R9*1), Y5
	VMOVUPS (AX)(R9*2), Y6
	VMOVUPS (AX)(R10*1), Y7

	// Interleave pairs of rows within each 128-bit lane.
	VUNPCKLPS Y1, Y0, Y8  // a0 b0 a1 b1 | a4 b4 a5 b5
	VUNPCKHPS Y1, Y0, Y9  // a2 b2 a3 b3 | a6 b6 a7 b7
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15

	// Gather 4-row columns within each lane.
	VSHUFPS $0x44, Y10, Y8, Y0  // a0 b0 c0 d0 | a4 b4 c4 d4
	VSHUFPS $0xEE, Y10, Y8, Y1  // a1 b1 c1 d1 | a5 ...
	VSHUFPS $0x44, Y11, Y9, Y2  // a2 ... | a6 ...
	VSHUFPS $0xEE, Y11, Y9, Y3  // a3 ... | a7 ...
	VSHUFPS $0x44, Y14, Y12, Y4 // e0 f0 g0 h0 | e4 ...
	VSHUFPS $0xEE, Y14, Y12, Y5
	VSHUFPS $0x44, Y15, Y13, Y6
	VSHUFPS $0xEE, Y15, Y13, Y7

	// Join the halves: column q = low/high lanes of the a..d and e..h parts.
	VPERM2F128 $0x20, Y4, Y0, Y8  // column 0
	VPERM2F128 $0x20, Y5, Y1, Y9  // column 1
	VPERM2F128 $0x20, Y6, Y2, Y10 // column 2
	VPERM2F128 $0x20, Y7, Y3, Y11 // column 3
	VPERM2F128 $0x31, Y4, Y0, Y12 // column 4
	VPERM2F128 $0x31, Y5, Y1, Y13 // column 5
	VPERM2F128 $0x31, Y6, Y2, Y14 // column 6
	VPERM2F128 $0x31, Y7, Y3, Y15 // column 7

	MOVQ    DI, AX
	VMOVUPS Y8, (AX)
	VMOVUPS Y9, (AX)(R8*1)
	VMOVUPS Y10, (AX)(R8*2)
	VMOVUPS Y11, (AX)(R11*1)
	LEAQ    (AX)(R8*4), AX
	VMOVUPS Y12, (AX)
	VMOVUPS Y13, (AX)(R8*1)
	VMOVUPS Y14, (AX)(R8*2)
	VMOVUPS Y15, (AX)(R11*1)

	ADDQ $32, SI        // next 8 source columns
	LEAQ (DI)(R8*8), DI // next 8 destination rows
	DECQ CX
	JNZ  tloop

tdone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// gemvNAVX512: t[j] = Σ_p x[p]·b[p*ldb + j] for j in [0, n), k ≥ 1.
// Columns go in strips of 128 (eight independent accumulators hide the FMA
// latency), then strips of 16, then one masked strip.

// func gemvNAVX512(t, x, b *float32, ldb, k, n int)
TEXT ·gemvNAVX512(SB), NOSPLIT, $0-48
	MOVQ t+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ k+32(FP), R9
	MOVQ n+40(FP), R10

gn128:
	CMPQ   R10, $128
	JLT    gn16
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	MOVQ   DX, AX
	MOVQ   SI, BX
	MOVQ   R9, CX

gn128loop:
	VBROADCASTSS (BX), Z16
	VFMADD231PS  (AX), Z16, Z0
	VFMADD231PS  64(AX), Z16, Z1
	VFMADD231PS  128(AX), Z16, Z2
	VFMADD231PS  192(AX), Z16, Z3
	VFMADD231PS  256(AX), Z16, Z4
	VFMADD231PS  320(AX), Z16, Z5
	VFMADD231PS  384(AX), Z16, Z6
	VFMADD231PS  448(AX), Z16, Z7
	ADDQ         $4, BX
	ADDQ         R8, AX
	DECQ         CX
	JNZ          gn128loop

	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	ADDQ    $512, DI
	ADDQ    $512, DX
	SUBQ    $128, R10
	JMP     gn128

gn16:
	CMPQ   R10, $16
	JLT    gnmask
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	MOVQ   DX, AX
	MOVQ   SI, BX
	MOVQ   R9, CX

	// Two accumulators (even and odd p) halve the dependency chain.
gn16loop:
	VBROADCASTSS (BX), Z16
	VFMADD231PS  (AX), Z16, Z0
	ADDQ         $4, BX
	ADDQ         R8, AX
	DECQ         CX
	JZ           gn16done
	VBROADCASTSS (BX), Z16
	VFMADD231PS  (AX), Z16, Z1
	ADDQ         $4, BX
	ADDQ         R8, AX
	DECQ         CX
	JNZ          gn16loop

gn16done:
	VADDPS  Z1, Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ADDQ    $64, DX
	SUBQ    $16, R10
	JMP     gn16

gnmask:
	TESTQ R10, R10
	JZ    gndone
	MOVQ  R10, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

	VPXORD Z0, Z0, Z0
	MOVQ   DX, AX
	MOVQ   SI, BX
	MOVQ   R9, CX

gnmaskloop:
	VBROADCASTSS (BX), Z16
	VMOVUPS.Z    (AX), K1, Z17
	VFMADD231PS  Z17, Z16, Z0
	ADDQ         $4, BX
	ADDQ         R8, AX
	DECQ         CX
	JNZ          gnmaskloop
	VMOVUPS      Z0, K1, (DI)

gndone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// gemvTAVX512: t[j] = Σ_p x[p]·b[j*ldb + p] for j in [0, n), k ≥ 1: dot
// products of x with rows of b, four rows at a time. K1 masks the last
// partial vector of each row.

// HSUM reduces the 16 lanes of z (whose low 256 bits are y, low 128 x) into
// lane 0 of x, using X31/Y31 as scratch. Order is fixed (deterministic).
#define HSUM(z, y, x) \
	VEXTRACTF64X4 $1, z, Y31;  \
	VADDPS        Y31, y, y;   \
	VEXTRACTF32X4 $1, y, X31;  \
	VADDPS        X31, x, x;   \
	VPERMILPS     $0x4E, x, X31; \
	VADDPS        X31, x, x;   \
	VPERMILPS     $0xB1, x, X31; \
	VADDPS        X31, x, x

// func gemvTAVX512(t, x, b *float32, ldb, k, n int)
TEXT ·gemvTAVX512(SB), NOSPLIT, $0-48
	MOVQ t+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	MOVQ k+32(FP), R9
	MOVQ n+40(FP), R10

	// K1 = mask of the k%16 trailing lanes (all ones if k%16 == 0).
	MOVQ  R9, CX
	ANDQ  $15, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	TESTQ CX, CX
	JNZ   gtmaskok
	MOVL  $0xffff, AX

gtmaskok:
	KMOVW AX, K1
	// R11 = number of full vectors before the masked one.
	MOVQ  R9, R11
	DECQ  R11
	SHRQ  $4, R11
	LEAQ  (R8)(R8*2), R12 // 3·ldb bytes

gt4:
	CMPQ   R10, $4
	JLT    gt1
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ   DX, AX
	MOVQ   SI, BX
	MOVQ   R11, CX
	TESTQ  CX, CX
	JZ     gt4last

gt4loop:
	VMOVUPS     (BX), Z16
	VFMADD231PS (AX), Z16, Z0
	VFMADD231PS (AX)(R8*1), Z16, Z1
	VFMADD231PS (AX)(R8*2), Z16, Z2
	VFMADD231PS (AX)(R12*1), Z16, Z3
	ADDQ        $64, BX
	ADDQ        $64, AX
	DECQ        CX
	JNZ         gt4loop

gt4last:
	VMOVUPS.Z   (BX), K1, Z16
	VMOVUPS.Z   (AX), K1, Z17
	VFMADD231PS Z17, Z16, Z0
	VMOVUPS.Z   (AX)(R8*1), K1, Z17
	VFMADD231PS Z17, Z16, Z1
	VMOVUPS.Z   (AX)(R8*2), K1, Z17
	VFMADD231PS Z17, Z16, Z2
	VMOVUPS.Z   (AX)(R12*1), K1, Z17
	VFMADD231PS Z17, Z16, Z3

	HSUM(Z0, Y0, X0)
	HSUM(Z1, Y1, X1)
	HSUM(Z2, Y2, X2)
	HSUM(Z3, Y3, X3)
	VMOVSS X0, (DI)
	VMOVSS X1, 4(DI)
	VMOVSS X2, 8(DI)
	VMOVSS X3, 12(DI)

	ADDQ $16, DI
	LEAQ (DX)(R8*4), DX
	SUBQ $4, R10
	JMP  gt4

gt1:
	TESTQ  R10, R10
	JZ     gtdone
	VPXORD Z0, Z0, Z0
	MOVQ   DX, AX
	MOVQ   SI, BX
	MOVQ   R11, CX
	TESTQ  CX, CX
	JZ     gt1last

gt1loop:
	VMOVUPS     (BX), Z16
	VFMADD231PS (AX), Z16, Z0
	ADDQ        $64, BX
	ADDQ        $64, AX
	DECQ        CX
	JNZ         gt1loop

gt1last:
	VMOVUPS.Z   (BX), K1, Z16
	VMOVUPS.Z   (AX), K1, Z17
	VFMADD231PS Z17, Z16, Z0
	HSUM(Z0, Y0, X0)
	VMOVSS      X0, (DI)

	ADDQ $4, DI
	ADDQ R8, DX
	DECQ R10
	JMP  gt1

gtdone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// sgemm8x16AVX512: C[8×16] = alpha·Ap·Bp + beta·C, reading 16 columns of a
// packed B panel whose rows are bstride floats apart. It covers the columns
// of the last, partial 48-wide panel without computing on padding.
// Accumulators Z0..Z7; the two broadcast registers alternate.

#define ROW16Z(aoff, r) \
	VBROADCASTSS aoff(SI), Z27; \
	VFMADD231PS  Z24, Z27, r

#define STEP16Z \
	VMOVUPS (DI), Z24;  \
	ROW16Z(0, Z0);      \
	ROW16Z(4, Z1);      \
	ROW16Z(8, Z2);      \
	ROW16Z(12, Z3);     \
	ROW16Z(16, Z4);     \
	ROW16Z(20, Z5);     \
	ROW16Z(24, Z6);     \
	ROW16Z(28, Z7);     \
	ADDQ    R10, SI;    \
	ADDQ    R9, DI

#define STORE16Z(r) \
	VMOVUPS r, (DX); \
	ADDQ    R8, DX

#define STORE16ZBETA(r) \
	VFMADD231PS (DX), Z29, r; \
	STORE16Z(r)

// func sgemm8x16AVX512(kc int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)
TEXT ·sgemm8x16AVX512(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ astride+16(FP), R10
	SHLQ $2, R10
	MOVQ b+24(FP), DI
	MOVQ bstride+32(FP), R9
	SHLQ $2, R9
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

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
	JZ   n16tail

n16loop2:
	STEP16Z
	STEP16Z
	DECQ BX
	JNZ  n16loop2

n16tail:
	ANDQ $1, CX
	JZ   n16done
	STEP16Z

n16done:
	VBROADCASTSS alpha+56(FP), Z28
	VMULPS       Z28, Z0, Z0
	VMULPS       Z28, Z1, Z1
	VMULPS       Z28, Z2, Z2
	VMULPS       Z28, Z3, Z3
	VMULPS       Z28, Z4, Z4
	VMULPS       Z28, Z5, Z5
	VMULPS       Z28, Z6, Z6
	VMULPS       Z28, Z7, Z7

	MOVL  beta+60(FP), AX
	TESTL $0x7fffffff, AX
	JZ    n16store0

	VBROADCASTSS beta+60(FP), Z29
	STORE16ZBETA(Z0)
	STORE16ZBETA(Z1)
	STORE16ZBETA(Z2)
	STORE16ZBETA(Z3)
	STORE16ZBETA(Z4)
	STORE16ZBETA(Z5)
	STORE16ZBETA(Z6)
	STORE16ZBETA(Z7)
	VZEROUPPER
	RET

n16store0:
	STORE16Z(Z0)
	STORE16Z(Z1)
	STORE16Z(Z2)
	STORE16Z(Z3)
	STORE16Z(Z4)
	STORE16Z(Z5)
	STORE16Z(Z6)
	STORE16Z(Z7)
	VZEROUPPER
	RET
