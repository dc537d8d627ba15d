package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"

	"github.com/vaec/vaec/kernels"
)

// sgemm computes c[m×n] += a[m×k]·b[k×n], row-major and densely packed,
// with package kernels' blocked, multi-core, SIMD matrix multiply. Shapes
// come from the model file, so they are checked here (CheckSgemm) instead
// of letting Sgemm panic.
func sgemm(m, n, k int, a, b, c []float32) error {
	return gemm(false, false, m, n, k, 1, a, b, 1, c)
}

// gemm computes c[m×n] = alpha·op(a)·op(b) + beta·c.
func gemm(transA, transB bool, m, n, k int, alpha float32, a, b []float32, beta float32, c []float32) error {
	lda, ldb := max(k, 1), max(n, 1)
	if transA {
		lda = max(m, 1)
	}
	if transB {
		ldb = max(k, 1)
	}
	if err := kernels.CheckSgemm(transA, transB, m, n, k, a, lda, b, ldb, c, max(n, 1)); err != nil {
		return err
	}
	ldc := max(n, 1)
	// kernels.Sgemm keeps products of a few rows (batch 1) on one core, to
	// save the hand-off. Their cost is reading B, so for a large B it pays
	// to have each core read half of it: split the columns.
	parts := min(goruntime.GOMAXPROCS(0), 4)
	if m > 4 || n*k < splitMin || parts < 2 || n < 32*parts {
		kernels.Sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return nil
	}
	var wg sync.WaitGroup
	per := (n/parts + 15) &^ 15
	for j0 := 0; j0 < n; j0 += per {
		j1 := min(j0+per, n)
		bj := b[j0:] // columns j0.. of a [K, N] B
		if transB {
			bj = b[j0*ldb:] // rows j0.. of an [N, K] B
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			kernels.Sgemm(transA, transB, m, j1-j0, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc)
		}()
	}
	wg.Wait()
	return nil
}

// splitMin is the size of B (elements) from which a product of a few rows
// is split across cores: below it, B fits in one core's cache and the
// hand-off costs more than it saves.
const splitMin = 1 << 16

// buildGemm: Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, likewise B.
func buildGemm(a attrs, _ []*value) (kernel, error) {
	return gemmKernel(a, kernels.Linear, 0)
}

// gemmKernel is Gemm followed by the activation act (kernels.Linear for
// none): fuse uses it to run a Gemm and the activation that consumes it in
// one pass. A bias C of shape [N] or [1, N] with beta 1 is added together
// with the activation instead of before the product.
func gemmKernel(a attrs, act kernels.Act, actAlpha float32) (kernel, error) {
	alpha, beta := a.float("alpha", 1), a.float("beta", 1)
	transA, transB := a.int("transA", 0), a.int("transB", 0)
	if transA != 0 && transA != 1 || transB != 0 && transB != 1 {
		return nil, fmt.Errorf("transA=%d transB=%d: each must be 0 or 1", transA, transB)
	}
	return func(in []*value) (*value, error) {
		A, B, C := in[0], in[1], in[2]
		if A.isInt || B.isInt || C != nil && C.isInt {
			return nil, fmt.Errorf("inputs must be float32")
		}
		if len(A.shape) != 2 || len(B.shape) != 2 {
			return nil, fmt.Errorf("A %v and B %v must be matrices", A.shape, B.shape)
		}
		m, k := A.shape[0], A.shape[1]
		if transA == 1 {
			m, k = k, m
		}
		kb, n := B.shape[0], B.shape[1]
		if transB == 1 {
			kb, n = n, kb
		}
		if k != kb {
			return nil, fmt.Errorf("A %v (transA=%d) and B %v (transB=%d) do not multiply", A.shape, transA, B.shape, transB)
		}
		if _, err := checkedSize([]int{m, n}); err != nil {
			return nil, err
		}
		if C != nil {
			cs, err := broadcastShapes([]int{m, n}, C.shape)
			if err != nil || len(cs) != 2 || cs[0] != m || cs[1] != n {
				return nil, fmt.Errorf("C %v does not broadcast to [%d %d]", C.shape, m, n)
			}
		}
		if anyShapeOnly(A, B, C) {
			return &value{shape: []int{m, n}, shapeOnly: true}, nil
		}
		y := newFloat([]int{m, n})
		var bias []float32
		switch {
		case C == nil || beta == 0:
			if err := gemm(transA == 1, transB == 1, m, n, k, alpha, A.f, B.f, 0, y.f); err != nil {
				return nil, err
			}
		case beta == 1 && len(C.f) == n && (len(C.shape) <= 1 || C.shape[0] == 1):
			bias = C.f // a row vector: added with the activation
			if err := gemm(transA == 1, transB == 1, m, n, k, alpha, A.f, B.f, 0, y.f); err != nil {
				return nil, err
			}
		default:
			st := bstrides(C.shape, y.shape)
			for i := 0; i < m; i++ {
				row := y.f[i*n : (i+1)*n]
				for j := range row {
					row[j] = beta * C.f[i*st[0]+j*st[1]]
				}
			}
			if err := gemm(transA == 1, transB == 1, m, n, k, alpha, A.f, B.f, 1, y.f); err != nil {
				return nil, err
			}
		}
		if bias != nil || act != kernels.Linear {
			kernels.AddBiasAct(y.f, m, n, bias, act, actAlpha)
		}
		return y, nil
	}, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// buildMatMul: numpy matmul semantics (1-D operands promoted, batch
// dimensions broadcast).
func buildMatMul(attrs, []*value) (kernel, error) {
	return func(in []*value) (*value, error) {
		A, B := in[0], in[1]
		if A.isInt || B.isInt {
			return nil, fmt.Errorf("inputs must be float32")
		}
		if len(A.shape) == 0 || len(B.shape) == 0 {
			return nil, fmt.Errorf("A %v and B %v: scalars do not multiply", A.shape, B.shape)
		}
		as, bs := A.shape, B.shape
		if len(as) == 1 {
			as = []int{1, as[0]}
		}
		if len(bs) == 1 {
			bs = []int{bs[0], 1}
		}
		m, k := as[len(as)-2], as[len(as)-1]
		kb, n := bs[len(bs)-2], bs[len(bs)-1]
		if k != kb {
			return nil, fmt.Errorf("A %v and B %v do not multiply", A.shape, B.shape)
		}
		batch, err := broadcastShapes(as[:len(as)-2], bs[:len(bs)-2])
		if err != nil {
			return nil, err
		}
		full := append(append([]int{}, batch...), m, n)
		if _, err := checkedSize(full); err != nil {
			return nil, err
		}
		if anyShapeOnly(A, B) {
			return &value{shape: dropPromoted(full, A, B), shapeOnly: true}, nil
		}
		y := newFloat(full)
		ast := bstrides(as[:len(as)-2], batch)
		bst := bstrides(bs[:len(bs)-2], batch)
		nb := shapeSize(batch)
		idx := make([]int, len(batch))
		for t := 0; t < nb; t++ {
			ao, bo := 0, 0
			for d := range batch {
				ao += idx[d] * ast[d]
				bo += idx[d] * bst[d]
			}
			if err := sgemm(m, n, k, A.f[ao*m*k:(ao+1)*m*k], B.f[bo*k*n:(bo+1)*k*n], y.f[t*m*n:(t+1)*m*n]); err != nil {
				return nil, err
			}
			for d := len(batch) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < batch[d] {
					break
				}
				idx[d] = 0
			}
		}
		y.shape = dropPromoted(full, A, B)
		return y, nil
	}, nil
}

// dropPromoted removes from a matmul result shape [batch..., m, n] the
// dimensions that 1-D operands were promoted with, as numpy does.
func dropPromoted(full []int, A, B *value) []int {
	r := len(full)
	shape := append([]int{}, full[:r-2]...)
	if len(A.shape) > 1 {
		shape = append(shape, full[r-2])
	}
	if len(B.shape) > 1 {
		shape = append(shape, full[r-1])
	}
	return shape
}
