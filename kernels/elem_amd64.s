// scalarOpAVX512: dst[j] = x[j] op c, 16 lanes at a time, one IEEE
// single-precision operation per lane (the Go loop's bits). See elem.go.

#include "textflag.h"

// func scalarOpAVX512(dst, x *float32, n int, op int, c float32)
TEXT ·scalarOpAVX512(SB), NOSPLIT, $0-36
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	MOVQ         op+24(FP), R8
	VBROADCASTSS c+32(FP), Z1
	MOVL         $0xffff, AX
	KMOVW        AX, K2

eloop:
	TESTQ CX, CX
	JLE   edone
	KMOVW K2, K1
	CMPQ  CX, $16
	JGE   efull
	MOVL  $1, AX
	SHLL  CX, AX
	DECL  AX
	KMOVW AX, K1

efull:
	VMOVUPS.Z (SI), K1, Z0
	CMPQ      R8, $0
	JEQ       eadd
	CMPQ      R8, $1
	JEQ       esub
	CMPQ      R8, $2
	JEQ       emul
	CMPQ      R8, $3
	JEQ       ediv
	CMPQ      R8, $4
	JEQ       ersub
	// 5: c / x; masked-off lanes divide by zero harmlessly (not stored)
	VDIVPS    Z0, Z1, Z0
	JMP       estore

eadd:
	VADDPS Z1, Z0, Z0
	JMP    estore

esub:
	VSUBPS Z1, Z0, Z0
	JMP    estore

emul:
	VMULPS Z1, Z0, Z0
	JMP    estore

ediv:
	VDIVPS Z1, Z0, Z0
	JMP    estore

ersub:
	VSUBPS Z0, Z1, Z0

estore:
	VMOVUPS Z0, K1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	JMP     eloop

edone:
	VZEROUPPER
	RET
