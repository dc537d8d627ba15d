package runtime

import (
	"fmt"
	goruntime "runtime"
	"sync"
)

// sgemm computes c[m×n] += a[m×k]·b[k×n], all row-major and densely packed.
// This is the one place the runtime spends its time, so it is blocked for
// the cache and split across cores:
//
//   - rows of a are taken four at a time, so each row of b loaded from
//     memory updates four rows of c (a 4×1 outer-product step);
//   - k is blocked so that the slice of b in use stays in L2;
//   - rows of c (or, for a single row, columns) are divided among
//     goroutines when the product is large enough to pay for them.
func sgemm(m, n, k int, a, b, c []float32) {
	if m == 0 || n == 0 || k == 0 {
		return
	}
	work := m * n * k
	workers := min(goruntime.GOMAXPROCS(0), 8)
	if work < parallelMin || workers < 2 {
		sgemmSerial(m, n, k, a, k, b, n, c, n, 0, n)
		return
	}
	var wg sync.WaitGroup
	if m >= 4*workers {
		// Split rows, in multiples of four so each worker keeps the 4-row kernel.
		per := (m/workers + 3) &^ 3
		for r0 := 0; r0 < m; r0 += per {
			r1 := min(r0+per, m)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sgemmSerial(r1-r0, n, k, a[r0*k:], k, b, n, c[r0*n:], n, 0, n)
			}()
		}
	} else {
		// Few rows (batch 1): split columns in multiples of 16.
		per := (n/workers + 15) &^ 15
		for j0 := 0; j0 < n; j0 += per {
			j1 := min(j0+per, n)
			wg.Add(1)
			go func() {
				defer wg.Done()
				sgemmSerial(m, n, k, a, k, b, n, c, n, j0, j1)
			}()
		}
	}
	wg.Wait()
}

// parallelMin is the product size (multiply-adds) below which sgemm stays
// on one goroutine: under it, starting goroutines costs more than it saves.
const parallelMin = 1 << 16

// kBlock bounds the rows of b touched per pass: 256 rows of a few hundred
// floats stay within L2.
const kBlock = 256

// sgemmSerial updates columns [j0, j1) of c.
func sgemmSerial(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, j0, j1 int) {
	for k0 := 0; k0 < k; k0 += kBlock {
		k1 := min(k0+kBlock, k)
		i := 0
		for ; i+4 <= m; i += 4 {
			c0 := c[i*ldc+j0 : i*ldc+j1]
			c1 := c[(i+1)*ldc+j0 : (i+1)*ldc+j1]
			c2 := c[(i+2)*ldc+j0 : (i+2)*ldc+j1]
			c3 := c[(i+3)*ldc+j0 : (i+3)*ldc+j1]
			for p := k0; p < k1; p++ {
				a0, a1, a2, a3 := a[i*lda+p], a[(i+1)*lda+p], a[(i+2)*lda+p], a[(i+3)*lda+p]
				if a0 == 0 && a1 == 0 && a2 == 0 && a3 == 0 {
					continue // common after ReLU
				}
				axpy4(c0, c1, c2, c3, b[p*ldb+j0:p*ldb+j1], a0, a1, a2, a3)
			}
		}
		for ; i < m; i++ {
			ci := c[i*ldc+j0 : i*ldc+j1]
			for p := k0; p < k1; p++ {
				if av := a[i*lda+p]; av != 0 {
					axpy1(ci, b[p*ldb+j0:p*ldb+j1], av)
				}
			}
		}
	}
}

// axpy4 does cr += ar·x for four rows at once.
func axpy4Go(c0, c1, c2, c3, x []float32, a0, a1, a2, a3 float32) {
	n := len(x)
	c0, c1, c2, c3 = c0[:n], c1[:n], c2[:n], c3[:n]
	j := 0
	for ; j+4 <= n; j += 4 {
		x0, x1, x2, x3 := x[j], x[j+1], x[j+2], x[j+3]
		c0[j] += a0 * x0
		c0[j+1] += a0 * x1
		c0[j+2] += a0 * x2
		c0[j+3] += a0 * x3
		c1[j] += a1 * x0
		c1[j+1] += a1 * x1
		c1[j+2] += a1 * x2
		c1[j+3] += a1 * x3
		c2[j] += a2 * x0
		c2[j+1] += a2 * x1
		c2[j+2] += a2 * x2
		c2[j+3] += a2 * x3
		c3[j] += a3 * x0
		c3[j+1] += a3 * x1
		c3[j+2] += a3 * x2
		c3[j+3] += a3 * x3
	}
	for ; j < n; j++ {
		xv := x[j]
		c0[j] += a0 * xv
		c1[j] += a1 * xv
		c2[j] += a2 * xv
		c3[j] += a3 * xv
	}
}

// axpy1 does c += a·x.
func axpy1Go(c, x []float32, a float32) {
	c = c[:len(x)]
	for j, xv := range x {
		c[j] += a * xv
	}
}

// transpose returns the r×c matrix x (row-major) transposed.
func transpose(x []float32, r, c int) []float32 {
	t := make([]float32, r*c)
	const bs = 32
	for i0 := 0; i0 < r; i0 += bs {
		for j0 := 0; j0 < c; j0 += bs {
			for i := i0; i < min(i0+bs, r); i++ {
				for j := j0; j < min(j0+bs, c); j++ {
					t[j*r+i] = x[i*c+j]
				}
			}
		}
	}
	return t
}

// buildGemm: Y = alpha·A'·B' + beta·C, A' = transA ? Aᵀ : A, likewise B.
// A constant B is stored as [K, N] once at load time, whatever transB says.
func buildGemm(a attrs, consts []*value) (kernel, error) {
	alpha, beta := a.float("alpha", 1), a.float("beta", 1)
	transA, transB := a.int("transA", 0), a.int("transB", 0)
	if transA != 0 && transA != 1 || transB != 0 && transB != 1 {
		return nil, fmt.Errorf("transA=%d transB=%d: each must be 0 or 1", transA, transB)
	}
	var bKN []float32 // the constant B in [K, N] layout
	var bShape []int
	if b := consts[1]; b != nil && !b.isInt && len(b.shape) == 2 {
		bShape = b.shape
		if transB == 1 {
			bKN = transpose(b.f, b.shape[0], b.shape[1])
		} else {
			bKN = b.f
		}
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
		y := newFloat([]int{m, n})
		if C != nil && beta != 0 {
			cs, err := broadcastShapes(y.shape, C.shape)
			if err != nil || len(cs) != 2 || cs[0] != m || cs[1] != n {
				return nil, fmt.Errorf("C %v does not broadcast to [%d %d]", C.shape, m, n)
			}
			st := bstrides(C.shape, y.shape)
			for i := 0; i < m; i++ {
				row := y.f[i*n : (i+1)*n]
				for j := range row {
					row[j] = beta * C.f[i*st[0]+j*st[1]]
				}
			}
		}
		av := A.f
		if transA == 1 {
			av = transpose(A.f, A.shape[0], A.shape[1])
		}
		bv := bKN
		if bv == nil || !sameShape(bShape, B.shape) {
			bv = B.f
			if transB == 1 {
				bv = transpose(B.f, B.shape[0], B.shape[1])
			}
		}
		if alpha != 1 {
			scaled := make([]float32, len(av))
			for i, x := range av {
				scaled[i] = alpha * x
			}
			av = scaled
		}
		sgemm(m, n, k, av, bv, y.f)
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
			sgemm(m, n, k, A.f[ao*m*k:(ao+1)*m*k], B.f[bo*k*n:(bo+1)*k*n], y.f[t*m*n:(t+1)*m*n])
			for d := len(batch) - 1; d >= 0; d-- {
				if idx[d]++; idx[d] < batch[d] {
					break
				}
				idx[d] = 0
			}
		}
		// Drop the promoted dimensions, as numpy does.
		shape := append([]int{}, batch...)
		if len(A.shape) > 1 {
			shape = append(shape, m)
		}
		if len(B.shape) > 1 {
			shape = append(shape, n)
		}
		y.shape = shape
		return y, nil
	}, nil
}
