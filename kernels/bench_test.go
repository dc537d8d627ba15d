package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// benchShapes are the products of the 784-400-20 VAE: training at batch
// 128 (forward NN, weight-gradient TN, input-gradient NT), and inference at
// batch 1 and 256. Names give m×k×n: op(A) is m×k, op(B) k×n.
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"NN_128x784x400", false, false, 128, 400, 784}, // x·W1 (encoder 784→400)
	{"TN_784x128x400", true, false, 784, 400, 128},  // xᵀ·dZ1
	{"NT_128x784x400", false, true, 128, 400, 784},  // dZ·Wᵀ of the decoder's 400→784 layer
	{"NT_128x400x784", false, true, 128, 784, 400},  // dZ1·W1ᵀ (an input gradient 400→784)
	{"NN_128x400x20", false, false, 128, 20, 400},   // h·Wmu
	{"TN_400x128x20", true, false, 400, 20, 128},    // hᵀ·dMu
	{"NT_128x20x400", false, true, 128, 400, 20},    // dMu·Wmuᵀ
	{"NN_128x20x400", false, false, 128, 400, 20},   // z·Wd1
	{"NN_1x784x400", false, false, 1, 400, 784},
	{"NN_1x20x400", false, false, 1, 400, 20},
	{"NN_1x400x784", false, false, 1, 784, 400},
	{"NT_1x400x784", false, true, 1, 784, 400},
	{"NN_256x784x400", false, false, 256, 400, 784},
	{"NN_256x20x400", false, false, 256, 400, 20},
	{"NN_256x400x784", false, false, 256, 784, 400},
}

// BenchmarkSgemm runs every shape through this package and through gonum's
// pure-Go BLAS, reporting GFLOP/s (2·m·n·k per call) for both.
func BenchmarkSgemm(b *testing.B) {
	for _, s := range benchShapes {
		tc := gemmCase{transA: s.transA, transB: s.transB, m: s.m, n: s.n, k: s.k, alpha: 1}
		b.Run(s.name+"/vaec", func(b *testing.B) { benchGemm(b, tc, false) })
		b.Run(s.name+"/gonum", func(b *testing.B) { benchGemm(b, tc, true) })
	}
}

func benchGemm(b *testing.B, tc gemmCase, gonum bool) {
	rng := rand.New(rand.NewPCG(1, 1))
	a, lda, bb, ldb, c, ldc := tc.operands(rng)
	clear(c)
	run := func() {
		Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, a, lda, bb, ldb, 0, c, ldc)
	}
	if gonum {
		ar, ac, br, bc := tc.m, tc.k, tc.k, tc.n
		ta, tb := blas.NoTrans, blas.NoTrans
		if tc.transA {
			ar, ac, ta = tc.k, tc.m, blas.Trans
		}
		if tc.transB {
			br, bc, tb = tc.n, tc.k, blas.Trans
		}
		ga := blas32.General{Rows: ar, Cols: ac, Stride: lda, Data: a}
		gb := blas32.General{Rows: br, Cols: bc, Stride: ldb, Data: bb}
		gc := blas32.General{Rows: tc.m, Cols: tc.n, Stride: ldc, Data: c}
		run = func() { blas32.Gemm(ta, tb, 1, ga, gb, 0, gc) }
	}
	run()
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for b.Loop() {
		run()
	}
	cpu := processCPU() - cpu0
	flops := 2 * float64(tc.m) * float64(tc.n) * float64(tc.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		// Work per CPU-second: independent of how many cores helped and
		// of time spent descheduled on a busy machine.
		b.ReportMetric(flops/cpu.Seconds()/1e9, "GFLOP/cpu-s")
	}
}

// BenchmarkKernel measures one micro-kernel in isolation (packed operands
// in L1/L2), which bounds what Sgemm can reach.
func BenchmarkKernel(b *testing.B) {
	for _, k := range kernelsForTest() {
		b.Run(fmt.Sprintf("%s/kc256", k.name), func(b *testing.B) {
			kc := 256
			ap := make([]float32, k.mr*kc)
			bp := make([]float32, k.nr*kc)
			c := make([]float32, k.mr*k.nr)
			for i := range ap {
				ap[i] = 1
			}
			for b.Loop() {
				k.full(kc, ap, bp, c, k.nr, 1, 1)
			}
			flops := 2 * float64(k.mr*k.nr*kc)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
