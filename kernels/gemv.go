package kernels

import "sync"

// gemvRow is Sgemm for m == 1: c = alpha·op(a)·op(B) + beta·c, where a is a
// single row (or, transposed, a single column with stride lda). Packing B
// would touch every element of B once more than the product itself does, so
// this path streams B directly through a matrix-vector kernel, on one
// goroutine.
func gemvRow(kern *microKernel, transA, transB bool, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32) {
	ws := gemvPool.Get().(*gemvScratch)
	if cap(ws.t) < n {
		ws.t = make([]float32, n)
	}
	t := ws.t[:n]
	x := a[:k]
	if transA {
		// op(A) = Aᵀ with A k×1: gather the strided column.
		if cap(ws.x) < k {
			ws.x = make([]float32, k)
		}
		x = ws.x[:k]
		for p := range x {
			x[p] = a[p*lda]
		}
	}
	if transB {
		kern.gemvT(t, x, b, ldb, k, n)
	} else {
		kern.gemvN(t, x, b, ldb, k, n)
	}
	c = c[:n]
	if beta == 0 {
		for j, v := range t {
			c[j] = alpha * v
		}
	} else {
		for j, v := range t {
			c[j] = alpha*v + beta*c[j]
		}
	}
	gemvPool.Put(ws)
}

type gemvScratch struct{ x, t []float32 }

var gemvPool = sync.Pool{New: func() any { return new(gemvScratch) }}
