package kernels

import (
	"unsafe"

	"golang.org/x/sys/cpu"
)

// Assembly kernels (kernel_amd64.s). Pointers must address enough memory
// for the documented access pattern; the Go wrappers below check that.

//go:noescape
func sgemm8x48AVX512(kc int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32, pf *float32)

//go:noescape
func sgemm8x48idxAVX512(n int, a *float32, b *float32, off *int32, c *float32, ldc int, alpha, beta float32, pf *float32)

//go:noescape
func nonFiniteAVX512(x *float32, n int) bool

//go:noescape
func sgemm8x16AVX512(kc int, a *float32, astride int, b *float32, bstride int, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16AVX2(kc int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func transpose8x8AVX(dst *float32, ldd int, src *float32, lds int, blocks int)

//go:noescape
func gemvNAVX512(t, x, b *float32, ldb, k, n int)

//go:noescape
func gemvTAVX512(t, x, b *float32, ldb, k, n int)

var avx512Kernel = microKernel{
	name: "avx512-8x48",
	mr:   8,
	nr:   48,
	full: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
		// Bounds checks stand in for the assembly's unchecked accesses;
		// they are a few compares per tile.
		_ = a[kc*8-1]
		_ = b[kc*48-1]
		_ = c[7*ldc+47]
		sgemm8x48AVX512(kc, &a[0], 8, &b[0], 48, &c[0], ldc, alpha, beta, &b[0])
	},
	strided: func(kc int, a []float32, astride int, b []float32, bstride int, c []float32, ldc int, alpha, beta float32) {
		_ = a[(kc-1)*astride+7]
		_ = b[(kc-1)*bstride+47]
		_ = c[7*ldc+47]
		sgemm8x48AVX512(kc, &a[0], astride, &b[0], bstride, &c[0], ldc, alpha, beta, &b[0])
	},
	fullPF: func(kc int, a, b, c []float32, ldc int, alpha, beta float32, pf []float32) {
		_ = a[kc*8-1]
		_ = b[kc*48-1]
		_ = c[7*ldc+47]
		_ = pf[kc*8-1]
		sgemm8x48AVX512(kc, &a[0], 8, &b[0], 48, &c[0], ldc, alpha, beta, &pf[0])
	},
	fullIdx: func(n, kc int, a, b []float32, bstride int, off []int32, c []float32, ldc int, alpha, beta float32, pf []float32) {
		// off holds offsets of steps below kc, bstride floats apart
		// (compactA), so b's bound covers every row the kernel reads.
		if n > 0 {
			_ = a[n*8-1]
			_ = off[n-1]
			_ = pf[n*8-1]
		}
		_ = b[(kc-1)*bstride+47]
		_ = c[7*ldc+47]
		sgemm8x48idxAVX512(n, unsafe.SliceData(a), &b[0], unsafe.SliceData(off), &c[0], ldc, alpha, beta, unsafe.SliceData(pf))
	},
	narrow: func(kc int, a []float32, astride int, b []float32, bstride int, c []float32, ldc int, alpha, beta float32) {
		_ = a[(kc-1)*astride+7]
		_ = b[(kc-1)*bstride+15]
		_ = c[7*ldc+15]
		sgemm8x16AVX512(kc, &a[0], astride, &b[0], bstride, &c[0], ldc, alpha, beta)
	},
	transpose8: transpose8,
	gemvN: func(t, x, b []float32, ldb, k, n int) {
		_ = t[n-1]
		_ = x[k-1]
		_ = b[(k-1)*ldb+n-1]
		gemvNAVX512(&t[0], &x[0], &b[0], ldb, k, n)
	},
	gemvT: func(t, x, b []float32, ldb, k, n int) {
		_ = t[n-1]
		_ = x[k-1]
		_ = b[(n-1)*ldb+k-1]
		gemvTAVX512(&t[0], &x[0], &b[0], ldb, k, n)
	},
}

var avx2Kernel = microKernel{
	name: "avx2-6x16",
	mr:   6,
	nr:   16,
	full: func(kc int, a, b, c []float32, ldc int, alpha, beta float32) {
		_ = a[kc*6-1]
		_ = b[kc*16-1]
		_ = c[5*ldc+15]
		sgemm6x16AVX2(kc, &a[0], &b[0], &c[0], ldc, alpha, beta)
	},
	transpose8: transpose8,
}

func transpose8(dst []float32, ldd int, src []float32, lds int, blocks int) {
	if blocks == 0 {
		return
	}
	_ = dst[(8*blocks-1)*ldd+7]
	_ = src[7*lds+8*blocks-1]
	transpose8x8AVX(&dst[0], ldd, &src[0], lds, blocks)
}

var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL
)

func bestKernel() *microKernel {
	switch {
	case hasAVX512:
		return &avx512Kernel
	case hasAVX2:
		return &avx2Kernel
	}
	return &genericKernel
}

// kernelsForTest lists every kernel this CPU can run.
func kernelsForTest() []*microKernel {
	ks := []*microKernel{&genericKernel}
	if hasAVX2 {
		ks = append(ks, &avx2Kernel)
	}
	if hasAVX512 {
		ks = append(ks, &avx512Kernel)
	}
	return ks
}
