// Vector helpers of the convolutions (conv.go): dst[i] += src[i] sixteen
// lanes at a time with AVX-512F, the tail under a mask. Each lane is one
// float32 addition, exactly as the Go loop rounds it.

#include "textflag.h"

// func addVecAVX512(dst, src *float32, n int)
TEXT ·addVecAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX

loop64:
	CMPQ CX, $64
	JLT  loop16
	VMOVUPS (DI), Z0
	VMOVUPS 64(DI), Z1
	VMOVUPS 128(DI), Z2
	VMOVUPS 192(DI), Z3
	VADDPS  (SI), Z0, Z0
	VADDPS  64(SI), Z1, Z1
	VADDPS  128(SI), Z2, Z2
	VADDPS  192(SI), Z3, Z3
	VMOVUPS Z0, (DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	ADDQ    $256, DI
	ADDQ    $256, SI
	SUBQ    $64, CX
	JMP     loop64

loop16:
	CMPQ CX, $16
	JLT  tail
	VMOVUPS (DI), Z0
	VADDPS  (SI), Z0, Z0
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ADDQ    $64, SI
	SUBQ    $16, CX
	JMP     loop16

tail:
	TESTQ CX, CX
	JZ    done
	MOVQ  $1, AX
	SHLQ  CX, AX
	DECQ  AX
	KMOVW AX, K1
	VMOVUPS.Z (DI), K1, Z0
	VMOVUPS.Z (SI), K1, Z1
	VADDPS    Z1, Z0, K1, Z0
	VMOVUPS   Z0, K1, (DI)

done:
	VZEROUPPER
	RET
