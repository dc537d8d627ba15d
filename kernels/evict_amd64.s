#include "textflag.h"

// func evictLines(x *float32, n int)
// CLFLUSHOPT on every 64-byte line that x[0:n] touches. No fence: the
// flushes are hints to the caches, not an ordering the program relies on.
TEXT ·evictLines(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	LEAQ (SI)(CX*4), DI // end
	ANDQ $~63, SI       // first line
evictloop:
	CLFLUSHOPT (SI)
	ADDQ $64, SI
	CMPQ SI, DI
	JB   evictloop
	RET

// func cpuidEvict(eax, ecx uint32) (a, b, c, d uint32)
TEXT ·cpuidEvict(SB), NOSPLIT, $0-24
	MOVL eax+0(FP), AX
	MOVL ecx+4(FP), CX
	CPUID
	MOVL AX, a+8(FP)
	MOVL BX, b+12(FP)
	MOVL CX, c+16(FP)
	MOVL DX, d+20(FP)
	RET
