// Vectorised activations: x[j] = act(x[j] + bias[j]) for one row, with
// AVX-512F only (bit operations use the integer forms, which need no DQ).
// See act_amd64.go. Every lane goes through the same instructions, so the
// results do not depend on the position of an element in the row.

#include "textflag.h"

// Constants, each broadcast into a register at entry.
DATA actconst<>+0(SB)/4, $0x3fb8aa3b  // log2(e)
DATA actconst<>+4(SB)/4, $0x3f318000  // ln2 high part (exact k·ln2hi)
DATA actconst<>+8(SB)/4, $0xb95e8083  // ln2 low part
DATA actconst<>+12(SB)/4, $0x39500d01 // 1/7!
DATA actconst<>+16(SB)/4, $0x3ab60b61 // 1/6!
DATA actconst<>+20(SB)/4, $0x3c088889 // 1/5!
DATA actconst<>+24(SB)/4, $0x3d2aaaab // 1/4!
DATA actconst<>+28(SB)/4, $0x3e2aaaab // 1/3!
DATA actconst<>+32(SB)/4, $0x3f000000 // 1/2
DATA actconst<>+36(SB)/4, $0x3f800000 // 1
DATA actconst<>+40(SB)/4, $0x40000000 // 2
DATA actconst<>+44(SB)/4, $0x7fffffff // |x| mask
DATA actconst<>+48(SB)/4, $0x42d00000 // 104: exp argument clamp; e^-104 rounds to 0
DATA actconst<>+52(SB)/4, $0x41100000 // 9: tanh saturates to 1 beyond
// 1/(2i+1) for log1p's atanh series, highest first (offset 56..80).
DATA actconst<>+56(SB)/4, $0x3d888889 // 1/15
DATA actconst<>+60(SB)/4, $0x3d9d89d9 // 1/13
DATA actconst<>+64(SB)/4, $0x3dba2e8c // 1/11
DATA actconst<>+68(SB)/4, $0x3de38e39 // 1/9
DATA actconst<>+72(SB)/4, $0x3e124925 // 1/7
DATA actconst<>+76(SB)/4, $0x3e4ccccd // 1/5
DATA actconst<>+80(SB)/4, $0x3eaaaaab // 1/3
GLOBL actconst<>(SB), RODATA|NOPTR, $84

// ACTCONSTS points R11 (and AX) at actconst and broadcasts the constants
// the lane sequences below use: exp's in Z16..Z25, 2 in Z26, the |x| mask
// in Z28, the clamp 104 in Z29.
#define ACTCONSTS \
	LEAQ         actconst<>(SB), AX; \
	MOVQ         AX, R11;            \
	VBROADCASTSS 0(AX), Z16;         \
	VBROADCASTSS 4(AX), Z17;         \
	VBROADCASTSS 8(AX), Z18;         \
	VBROADCASTSS 12(AX), Z19;        \
	VBROADCASTSS 16(AX), Z20;        \
	VBROADCASTSS 20(AX), Z21;        \
	VBROADCASTSS 24(AX), Z22;        \
	VBROADCASTSS 28(AX), Z23;        \
	VBROADCASTSS 32(AX), Z24;        \
	VBROADCASTSS 36(AX), Z25;        \
	VBROADCASTSS 40(AX), Z26;        \
	VBROADCASTSS 44(AX), Z28;        \
	VBROADCASTSS 48(AX), Z29

// EXPPOLY splits the lanes of Z1 (|Z1| <= 104, or NaN) as
// Z1 = k·ln2 + r with k = round(Z1·log2 e) in Z4 and |r| <= ln2/2, and sets
// Z2 = P1(r) = e^r - 1 (Taylor polynomial to degree 7, error below 2^-26
// relative), so e^Z1 = 2^k·(P1 + 1). Scratch: Z5.
#define EXPPOLY \
	VMULPS       Z16, Z1, Z4; \
	VRNDSCALEPS  $0, Z4, Z4;  \
	VMOVAPS      Z1, Z5;      \
	VFNMADD231PS Z17, Z4, Z5; \
	VFNMADD231PS Z18, Z4, Z5; \
	VMOVAPS      Z19, Z2;     \
	VFMADD213PS  Z20, Z5, Z2; \
	VFMADD213PS  Z21, Z5, Z2; \
	VFMADD213PS  Z22, Z5, Z2; \
	VFMADD213PS  Z23, Z5, Z2; \
	VFMADD213PS  Z24, Z5, Z2; \
	VFMADD213PS  Z25, Z5, Z2; \
	VMULPS       Z5, Z2, Z2

// EXPM1 sets Z2 = e^Z1 - 1 = 2^k·P1 + (2^k - 1), which keeps full relative
// accuracy near 0 (k = 0). Needs k <= 127 (Z1 <= 88). Scratch: Z3..Z5.
#define EXPM1 \
	EXPPOLY;                  \
	VSCALEFPS    Z4, Z25, Z3; \
	VSUBPS       Z25, Z3, Z5; \
	VFMADD213PS  Z5, Z3, Z2

// LOG1P sets Z2 = log(1 + Z2) for Z2 in [0, 1]: 2·atanh(s) with
// s = u/(2+u) <= 1/3, whose odd series to s^15 is accurate to 2^-26
// relative and, unlike log(1+u), keeps full precision for tiny u.
// R11 points at actconst. Scratch: Z3, Z5, Z8.
#define LOG1P \
	VADDPS           Z26, Z2, Z3;     \
	VDIVPS           Z3, Z2, Z3;      \
	VMULPS           Z3, Z3, Z5;      \
	VBROADCASTSS     56(R11), Z8;     \
	VFMADD213PS.BCST 60(R11), Z5, Z8; \
	VFMADD213PS.BCST 64(R11), Z5, Z8; \
	VFMADD213PS.BCST 68(R11), Z5, Z8; \
	VFMADD213PS.BCST 72(R11), Z5, Z8; \
	VFMADD213PS.BCST 76(R11), Z5, Z8; \
	VFMADD213PS.BCST 80(R11), Z5, Z8; \
	VFMADD213PS      Z25, Z5, Z8;     \
	VADDPS           Z3, Z3, Z3;      \
	VMULPS           Z8, Z3, Z2

// SOFTPLUS sets Z0 = softplus(Z0) = max(x, 0) + log1p(e^-|x|), which
// neither overflows nor loses the tiny values for very negative x: |x| in
// Z7, -|x| clamped at -104 (NaN kept) in Z1, u = e^-|x| = 2^k·(P1 + 1) in
// Z2, then log1p(u), then max(x, 0) (NaN kept) added. Scratch: Z1..Z5,
// Z7, Z8.
#define SOFTPLUS \
	VPANDD    Z28, Z0, Z7; \
	VSUBPS    Z7, Z31, Z1; \
	VMAXPS    Z1, Z6, Z1;  \
	EXPPOLY;               \
	VADDPS    Z25, Z2, Z2; \
	VSCALEFPS Z4, Z2, Z2;  \
	LOG1P;                 \
	VMAXPS    Z0, Z31, Z0; \
	VADDPS    Z2, Z0, Z0

// SIGMOID sets Z0 = 1/(1 + e^-Z0): -x clamped to [-104, 104] in Z1,
// e^-x = 2^k·(P1 + 1) in Z2 (scalef saturates it to +Inf for x < -88.7,
// giving 0), then the division. Scratch: Z1, Z2, Z4, Z5.
#define SIGMOID \
	VSUBPS    Z0, Z31, Z1; \
	VMINPS    Z1, Z29, Z1; \
	VMAXPS    Z1, Z6, Z1;  \
	EXPPOLY;               \
	VADDPS    Z25, Z2, Z2; \
	VSCALEFPS Z4, Z2, Z2;  \
	VADDPS    Z25, Z2, Z2; \
	VDIVPS    Z2, Z25, Z0

// SIGMOID2 is the sigmoid lane sequence of biasActAVX512 (below) for two
// vectors at once, x in Z0 and Z9, interleaved so that their latency
// chains overlap; each lane goes through exactly the instructions of the
// one-vector path, so results are identical. Scratch: Z1, Z2, Z4, Z5,
// Z10..Z13.
#define SIGMOID2 \
	VSUBPS       Z0, Z31, Z1;  \
	VSUBPS       Z9, Z31, Z10; \
	VMINPS       Z1, Z29, Z1;  \
	VMINPS       Z10, Z29, Z10; \
	VMAXPS       Z1, Z6, Z1;   \
	VMAXPS       Z10, Z6, Z10; \
	VMULPS       Z16, Z1, Z4;  \
	VMULPS       Z16, Z10, Z11; \
	VRNDSCALEPS  $0, Z4, Z4;   \
	VRNDSCALEPS  $0, Z11, Z11; \
	VMOVAPS      Z1, Z5;       \
	VMOVAPS      Z10, Z12;     \
	VFNMADD231PS Z17, Z4, Z5;  \
	VFNMADD231PS Z17, Z11, Z12; \
	VFNMADD231PS Z18, Z4, Z5;  \
	VFNMADD231PS Z18, Z11, Z12; \
	VMOVAPS      Z19, Z2;      \
	VMOVAPS      Z19, Z13;     \
	VFMADD213PS  Z20, Z5, Z2;  \
	VFMADD213PS  Z20, Z12, Z13; \
	VFMADD213PS  Z21, Z5, Z2;  \
	VFMADD213PS  Z21, Z12, Z13; \
	VFMADD213PS  Z22, Z5, Z2;  \
	VFMADD213PS  Z22, Z12, Z13; \
	VFMADD213PS  Z23, Z5, Z2;  \
	VFMADD213PS  Z23, Z12, Z13; \
	VFMADD213PS  Z24, Z5, Z2;  \
	VFMADD213PS  Z24, Z12, Z13; \
	VFMADD213PS  Z25, Z5, Z2;  \
	VFMADD213PS  Z25, Z12, Z13; \
	VMULPS       Z5, Z2, Z2;   \
	VMULPS       Z12, Z13, Z13; \
	VADDPS       Z25, Z2, Z2;  \
	VADDPS       Z25, Z13, Z13; \
	VSCALEFPS    Z4, Z2, Z2;   \
	VSCALEFPS    Z11, Z13, Z13; \
	VADDPS       Z25, Z2, Z2;  \
	VADDPS       Z25, Z13, Z13; \
	VDIVPS       Z2, Z25, Z0;  \
	VDIVPS       Z13, Z25, Z9

// func biasActAVX512(x, bias *float32, n int, hasBias bool, act int, alpha float32)
TEXT ·biasActAVX512(SB), NOSPLIT, $0-44
	MOVQ x+0(FP), DI
	MOVQ bias+8(FP), SI
	MOVQ n+16(FP), CX
	MOVBLZX hasBias+24(FP), R9
	MOVQ act+32(FP), R8

	ACTCONSTS
	VBROADCASTSS 52(AX), Z30
	VBROADCASTSS alpha+40(FP), Z27
	VPXORD       Z31, Z31, Z31
	VSUBPS       Z29, Z31, Z6  // Z6 = -104

	MOVL  $0xffff, AX
	KMOVW AX, K2 // all lanes

	// Sigmoid (a decoder's output layer) two vectors at a time while 32
	// elements remain; the rest goes through the general loop.
	CMPQ R8, $3
	JNE  loop

sig2:
	CMPQ    CX, $32
	JLT     loop
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z9
	TESTQ   R9, R9
	JZ      sig2nobias
	VMOVUPS (SI), Z1
	VMOVUPS 64(SI), Z10
	VADDPS  Z1, Z0, Z0
	VADDPS  Z10, Z9, Z9

sig2nobias:
	SIGMOID2
	VMOVUPS Z0, (DI)
	VMOVUPS Z9, 64(DI)
	ADDQ    $128, DI
	ADDQ    $128, SI
	SUBQ    $32, CX
	JMP     sig2

loop:
	TESTQ CX, CX
	JLE   done
	KMOVW K2, K1
	CMPQ  CX, $16
	JGE   masked
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

masked:
	VMOVUPS.Z (DI), K1, Z0
	TESTQ     R9, R9
	JZ        nobias
	VMOVUPS.Z (SI), K1, Z1
	VADDPS    Z1, Z0, Z0

nobias:
	CMPQ R8, $1
	JEQ  relu
	CMPQ R8, $2
	JEQ  tanh
	CMPQ R8, $3
	JEQ  sigmoid
	CMPQ R8, $4
	JEQ  elu
	CMPQ R8, $5
	JEQ  leaky
	CMPQ R8, $6
	JEQ  softplus
	JMP  store // linear

softplus:
	SOFTPLUS
	JMP store

relu:
	// Operand order keeps NaN: max returns its second Intel operand (Z0)
	// when either is NaN.
	VMAXPS Z0, Z31, Z0
	JMP    store

leaky:
	VCMPPS $1, Z31, Z0, K3 // x < 0
	VMULPS Z27, Z0, K3, Z0
	JMP    store

elu:
	VCMPPS $1, Z31, Z0, K3 // x < 0
	VMINPS Z0, Z31, Z1     // min(x, 0), NaN kept
	VMAXPS Z1, Z6, Z1      // clamp at -104
	EXPM1
	VMULPS Z27, Z2, K3, Z0 // x < 0: alpha·(e^x - 1)
	JMP    store

sigmoid:
	SIGMOID
	JMP store

tanh:
	// tanh|x| = (e^2|x| - 1)/(e^2|x| + 1), saturated at |x| = 9; then
	// the sign of x is put back.
	VPANDD Z28, Z0, Z7 // |x|
	VMINPS Z7, Z30, Z7
	VADDPS Z7, Z7, Z1
	EXPM1
	VADDPS Z26, Z2, Z3 // e^2|x| + 1
	VDIVPS Z3, Z2, Z2
	VPANDND Z0, Z28, Z1 // sign bit of x
	VPORD  Z1, Z2, Z0

store:
	VMOVUPS Z0, K1, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop

done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// actGradAVX512: dx = dy·act'(x) from y = act(x). For act in
// Linear..LeakyReLU the arithmetic matches the Go loops in act.go operation
// for operation (no fused multiply-adds), so both paths agree bit for bit;
// Softplus uses the vector expm1 and agrees to a few ulps.

// func actGradAVX512(dx, dy, y *float32, n int, act int, alpha float32)
TEXT ·actGradAVX512(SB), NOSPLIT, $0-44
	MOVQ dx+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ n+24(FP), CX
	MOVQ act+32(FP), R8
	VBROADCASTSS alpha+40(FP), Z27
	LEAQ actconst<>(SB), AX
	VBROADCASTSS 0(AX), Z16
	VBROADCASTSS 4(AX), Z17
	VBROADCASTSS 8(AX), Z18
	VBROADCASTSS 12(AX), Z19
	VBROADCASTSS 16(AX), Z20
	VBROADCASTSS 20(AX), Z21
	VBROADCASTSS 24(AX), Z22
	VBROADCASTSS 28(AX), Z23
	VBROADCASTSS 32(AX), Z24
	VBROADCASTSS 36(AX), Z25 // 1
	VBROADCASTSS 48(AX), Z29
	VPXORD       Z31, Z31, Z31
	VSUBPS       Z29, Z31, Z6 // -104
	MOVL  $0xffff, AX
	KMOVW AX, K2

gloop:
	TESTQ CX, CX
	JLE   gdone
	KMOVW K2, K1
	CMPQ  CX, $16
	JGE   gmasked
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

gmasked:
	VMOVUPS.Z (SI), K1, Z0 // dy
	VMOVUPS.Z (DX), K1, Z1 // y
	CMPQ R8, $1
	JEQ  grelu
	CMPQ R8, $2
	JEQ  gtanh
	CMPQ R8, $3
	JEQ  gsigmoid
	CMPQ R8, $4
	JEQ  gelu
	CMPQ R8, $5
	JEQ  gleaky
	CMPQ R8, $6
	JEQ  gsoftplus
	JMP  gstore // linear

gsoftplus:
	// sigmoid(x) = 1 - e^-y = -expm1(-y) with y = softplus(x) >= 0.
	VSUBPS Z1, Z31, Z1 // -y
	VMAXPS Z1, Z6, Z1  // clamp at -104, NaN kept
	EXPM1
	VSUBPS Z2, Z31, Z2 // -expm1(-y)
	VMULPS Z2, Z0, Z0
	JMP    gstore

grelu:
	VCMPPS    $0x1e, Z31, Z1, K3 // y > 0 (false for NaN)
	VMOVAPS.Z Z0, K3, Z0
	JMP       gstore

gleaky:
	VCMPPS  $0x1e, Z31, Z1, K3
	KNOTW   K3, K3
	VMULPS  Z27, Z0, K3, Z0 // !(y > 0): dy·alpha
	JMP     gstore

gelu:
	VCMPPS  $0x1e, Z31, Z1, K3
	KNOTW   K3, K3
	VADDPS  Z27, Z1, Z2     // y + alpha
	VMULPS  Z2, Z0, K3, Z0  // !(y > 0): dy·(y + alpha)
	JMP     gstore

gsigmoid:
	VMULPS Z1, Z0, Z0 // dy·y
	VSUBPS Z1, Z25, Z2 // 1 - y
	VMULPS Z2, Z0, Z0
	JMP    gstore

gtanh:
	VMULPS Z1, Z1, Z2  // y·y
	VSUBPS Z2, Z25, Z2 // 1 - y·y
	VMULPS Z2, Z0, Z0

gstore:
	VMOVUPS Z0, K1, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	ADDQ    $64, DX
	SUBQ    $16, CX
	JMP     gloop

gdone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// colSumAVX512: dst[j] = Σ_i src[i*n + j], rows added in order (the same
// order as the Go loop, so results agree bit for bit). Columns go in strips
// of 64, then 16, then one masked strip.

// func colSumAVX512(dst, src *float32, m, n int)
TEXT ·colSumAVX512(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ m+16(FP), R9
	MOVQ n+24(FP), R10
	MOVQ R10, R8
	SHLQ $2, R8 // row stride in bytes

cs64:
	CMPQ   R10, $64
	JLT    cs16
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	MOVQ   SI, AX
	MOVQ   R9, CX
	TESTQ  CX, CX
	JZ     cs64store

cs64loop:
	VADDPS (AX), Z0, Z0
	VADDPS 64(AX), Z1, Z1
	VADDPS 128(AX), Z2, Z2
	VADDPS 192(AX), Z3, Z3
	ADDQ   R8, AX
	DECQ   CX
	JNZ    cs64loop

cs64store:
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, DI
	ADDQ    $256, SI
	SUBQ    $64, R10
	JMP     cs64

cs16:
	TESTQ R10, R10
	JZ    csdone
	MOVL  $0xffff, AX
	CMPQ  R10, $16
	JGE   cs16mask
	MOVQ  R10, CX
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX

cs16mask:
	KMOVW  AX, K1
	VPXORD Z0, Z0, Z0
	MOVQ   SI, AX
	MOVQ   R9, CX
	TESTQ  CX, CX
	JZ     cs16store

cs16loop:
	VMOVUPS.Z (AX), K1, Z1
	VADDPS    Z1, Z0, Z0
	ADDQ      R8, AX
	DECQ      CX
	JNZ       cs16loop

cs16store:
	VMOVUPS Z0, K1, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, R10
	JG      cs16

csdone:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// bernoulliAVX512: one row's Bernoulli negative log-likelihood, Σ softplus(l)
// − x·l with each term in float64, accumulated per lane (element j in lane
// j mod 16: lanes 0..7 in Z14, 8..15 in Z15) and stored to acc; with hasG,
// g = (sigmoid(l) − x)·scale. The softplus and sigmoid lanes go through
// exactly biasActAVX512's instructions. See bernoulli.go.

// func bernoulliAVX512(l, x, grad *float32, n int, hasG bool, scale float32, acc *[16]float64)
TEXT ·bernoulliAVX512(SB), NOSPLIT, $0-48
	MOVQ    l+0(FP), SI
	MOVQ    x+8(FP), DX
	MOVQ    grad+16(FP), DI
	MOVQ    n+24(FP), CX
	MOVBLZX hasG+32(FP), R9
	MOVQ    acc+40(FP), R10

	ACTCONSTS
	VBROADCASTSS scale+36(FP), Z27
	VPXORD       Z31, Z31, Z31
	VSUBPS       Z29, Z31, Z6 // -104
	VPXORD       Z14, Z14, Z14
	VPXORD       Z15, Z15, Z15

	MOVL  $0xffff, AX
	KMOVW AX, K2

bloop:
	TESTQ CX, CX
	JLE   bdone
	KMOVW K2, K1
	CMPQ  CX, $16
	JGE   bfull
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

bfull:
	VMOVUPS.Z (SI), K1, Z9  // l
	VMOVUPS.Z (DX), K1, Z10 // x

	VMOVAPS Z9, Z0
	SOFTPLUS
	VMOVAPS Z0, Z11

	// sp − x·l in float64, lanes 0..7 then 8..15; masked-off lanes add
	// nothing.
	VCVTPS2PD     Y11, Z1
	VCVTPS2PD     Y10, Z2
	VCVTPS2PD     Y9, Z3
	VMULPD        Z3, Z2, Z2
	VSUBPD        Z2, Z1, Z1
	VADDPD        Z1, Z14, K1, Z14
	VEXTRACTF64X4 $1, Z11, Y1
	VEXTRACTF64X4 $1, Z10, Y2
	VEXTRACTF64X4 $1, Z9, Y3
	VCVTPS2PD     Y1, Z1
	VCVTPS2PD     Y2, Z2
	VCVTPS2PD     Y3, Z3
	VMULPD        Z3, Z2, Z2
	VSUBPD        Z2, Z1, Z1
	KSHIFTRW      $8, K1, K3
	VADDPD        Z1, Z15, K3, Z15

	TESTQ R9, R9
	JZ    bnext

	// g = (sigmoid(l) − x)·scale
	VMOVAPS Z9, Z0
	SIGMOID
	VSUBPS  Z10, Z0, Z0
	VMULPS    Z27, Z0, Z0
	VMOVUPS   Z0, K1, (DI)

bnext:
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, DI
	SUBQ $16, CX
	JMP  bloop

bdone:
	VMOVUPD Z14, (R10)
	VMOVUPD Z15, 64(R10)
	VZEROUPPER
	RET
