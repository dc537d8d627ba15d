package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// gemmCase is one Sgemm call: shapes, transposes, scalars and the padding
// added to each leading dimension.
type gemmCase struct {
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	pad            int // extra columns in every stored matrix
}

func (tc gemmCase) String() string {
	t := func(b bool) string {
		if b {
			return "T"
		}
		return "N"
	}
	return fmt.Sprintf("%s%s/m%d_n%d_k%d/a%g_b%g/pad%d", t(tc.transA), t(tc.transB), tc.m, tc.n, tc.k, tc.alpha, tc.beta, tc.pad)
}

// operands allocates A, B, C for tc with random contents, NaN in the
// padding (so a kernel that reads padding poisons its result), and returns
// the leading dimensions.
func (tc gemmCase) operands(rng *rand.Rand) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := tc.m, tc.k
	if tc.transA {
		ar, ac = tc.k, tc.m
	}
	br, bc := tc.k, tc.n
	if tc.transB {
		br, bc = tc.n, tc.k
	}
	fill := func(rows, cols int) ([]float32, int) {
		ld := max(1, cols) + tc.pad
		x := make([]float32, rows*ld)
		for i := range x {
			if i%ld >= cols {
				x[i] = float32(math.NaN())
			} else {
				x[i] = float32(rng.NormFloat64())
			}
		}
		return x, ld
	}
	a, lda = fill(ar, ac)
	b, ldb = fill(br, bc)
	c, ldc = fill(tc.m, tc.n)
	if tc.beta == 0 {
		// beta == 0 must ignore C entirely, even NaN.
		for i := range c {
			c[i] = float32(math.NaN())
		}
	}
	return
}

// refGemm is the float64 triple loop Sgemm is checked against. It also
// returns, per element, a bound scale: |alpha|·Σ|a·b| + |beta·c|.
func refGemm(tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) (want, scale []float64) {
	want = make([]float64, tc.m*tc.n)
	scale = make([]float64, tc.m*tc.n)
	for i := 0; i < tc.m; i++ {
		for j := 0; j < tc.n; j++ {
			var s, abs float64
			for p := 0; p < tc.k; p++ {
				var av, bv float32
				if tc.transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if tc.transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				abs += math.Abs(float64(av) * float64(bv))
			}
			w := float64(tc.alpha) * s
			sc := math.Abs(float64(tc.alpha)) * abs
			if tc.beta != 0 {
				cv := float64(c[i*ldc+j])
				w += float64(tc.beta) * cv
				sc += math.Abs(float64(tc.beta) * cv)
			}
			want[i*tc.n+j] = w
			scale[i*tc.n+j] = sc
		}
	}
	return want, scale
}

// checkGemm runs tc through Sgemm with the active kernel and compares with
// the reference, including that padding of C is untouched.
func checkGemm(t *testing.T, tc gemmCase, rng *rand.Rand) {
	t.Helper()
	a, lda, b, ldb, c, ldc := tc.operands(rng)
	want, scale := refGemm(tc, a, lda, b, ldb, c, ldc)
	runAndCompare(t, tc, a, lda, b, ldb, c, ldc, want, scale)
}

// checkGemmAllKernels is checkGemm for every kernel the CPU supports,
// sharing one (slow) float64 reference.
func checkGemmAllKernels(t *testing.T, tc gemmCase, rng *rand.Rand) {
	t.Helper()
	a, lda, b, ldb, c, ldc := tc.operands(rng)
	want, scale := refGemm(tc, a, lda, b, ldb, c, ldc)
	saved := active
	defer func() { active = saved }()
	for _, k := range kernelsForTest() {
		active = k
		runAndCompare(t, tc, a, lda, b, ldb, append([]float32(nil), c...), ldc, want, scale)
	}
}

func runAndCompare(t *testing.T, tc gemmCase, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, want, scale []float64) {
	t.Helper()
	c0 := append([]float32(nil), c...)
	Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
	bad := 0
	for i := 0; i < tc.m; i++ {
		for j := 0; j < ldc; j++ {
			got := c[i*ldc+j]
			if j >= tc.n {
				if math.Float32bits(got) != math.Float32bits(c0[i*ldc+j]) {
					t.Fatalf("%s %v: C[%d,%d] outside n was written: got %v", active.name, tc, i, j, got)
				}
				continue
			}
			w, sc := want[i*tc.n+j], scale[i*tc.n+j]
			// float32 accumulation error grows with the depth and the
			// magnitude of the terms, not with the (possibly cancelled)
			// result.
			tol := 1e-6 + 4e-7*float64(tc.k+2)*sc
			if d := math.Abs(float64(got) - w); !(d <= tol) {
				if bad++; bad <= 3 {
					t.Errorf("%s %v: C[%d,%d] = %v, want %v (|diff| %.3g > tol %.3g)", active.name, tc, i, j, got, w, d, tol)
				}
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s %v: %d elements wrong in total", active.name, tc, bad)
	}
}

// withKernels runs f once per micro-kernel this CPU supports.
func withKernels(t *testing.T, f func(t *testing.T)) {
	t.Helper()
	saved := active
	defer func() { active = saved }()
	for _, k := range kernelsForTest() {
		active = k
		t.Run(k.name, f)
	}
}

var allTrans = [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}}

func TestSgemmSmallShapes(t *testing.T) {
	sizes := []int{0, 1, 2, 3, 5, 7, 16, 17, 31}
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(1, 2))
		for _, tr := range allTrans {
			for _, m := range sizes {
				for _, n := range sizes {
					for _, k := range sizes {
						checkGemm(t, gemmCase{transA: tr[0], transB: tr[1], m: m, n: n, k: k, alpha: 1, beta: 0}, rng)
					}
				}
			}
		}
	})
}

func TestSgemmLargeShapes(t *testing.T) {
	type mnk struct{ m, n, k int }
	shapes := []mnk{
		{128, 400, 784}, // training: x·W1
		{784, 400, 128}, // training: xᵀ·dY (as TN)
		{128, 784, 400}, // training: dY·Wᵀ (as NT)
		{128, 20, 400}, {400, 20, 128}, {128, 400, 20},
		{1, 400, 784}, {1, 784, 400}, {1, 400, 20}, {1, 20, 400},
		{3, 1000, 5000}, // packed B split into k-chunks
		{256, 400, 20}, {100, 64, 17}, {64, 100, 300}, {17, 31, 600},
		{31, 1, 64}, {7, 1000, 5}, {1, 1, 784}, {2, 1600, 3}, {9, 1024, 40}, {600, 50, 30},
	}
	if testing.Short() {
		shapes = shapes[3:]
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, s := range shapes {
		for _, tr := range allTrans {
			checkGemmAllKernels(t, gemmCase{transA: tr[0], transB: tr[1], m: s.m, n: s.n, k: s.k, alpha: 1, beta: 0}, rng)
		}
	}
}

func TestSgemmAlphaBetaPadding(t *testing.T) {
	scalars := [][2]float32{{1, 0}, {1, 1}, {-0.5, 2}, {2, -1}, {0, 0}, {0, 0.5}, {1.5, 0}}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tr := range allTrans {
		for _, s := range scalars {
			for _, pad := range []int{0, 3} {
				for _, sh := range [][3]int{{1, 37, 300}, {9, 50, 13}, {33, 97, 270}, {8, 48, 8}, {13, 3, 1}, {1021, 5, 9}, {9, 1021, 9}} {
					checkGemmAllKernels(t, gemmCase{transA: tr[0], transB: tr[1], m: sh[0], n: sh[1], k: sh[2], alpha: s[0], beta: s[1], pad: pad}, rng)
				}
			}
		}
	}
}

// TestSgemmRandom is a property test: random shapes, transposes, scalars
// and padding, all matching the reference.
func TestSgemmRandom(t *testing.T) {
	iters := 300
	if testing.Short() {
		iters = 60
	}
	withKernels(t, func(t *testing.T) {
		rng := rand.New(rand.NewPCG(7, 8))
		for range iters {
			tc := gemmCase{
				transA: rng.IntN(2) == 1, transB: rng.IntN(2) == 1,
				m: rng.IntN(70), n: rng.IntN(130), k: rng.IntN(300),
				alpha: float32(rng.IntN(5)-2) / 2, beta: float32(rng.IntN(3)) / 2,
				pad: rng.IntN(3),
			}
			checkGemm(t, tc, rng)
		}
	})
}

// TestSgemmDeterministic checks bit-identical results across runs and
// across GOMAXPROCS, for shapes large enough to take the parallel path.
func TestSgemmDeterministic(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	rng := rand.New(rand.NewPCG(9, 10))
	for _, tr := range allTrans {
		tc := gemmCase{transA: tr[0], transB: tr[1], m: 131, n: 389, k: 530, alpha: 1, beta: 0.5}
		a, lda, b, ldb, c0, ldc := tc.operands(rng)
		sameAcrossGOMAXPROCS(t, tc, c0, func(c []float32) {
			Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		})
	}
}

// sameAcrossGOMAXPROCS runs product on copies of c0 under GOMAXPROCS 1, 2,
// 3, 4, 2, 1 and fails unless every run gives the first one's bits. The
// caller restores GOMAXPROCS.
func sameAcrossGOMAXPROCS(t *testing.T, label any, c0 []float32, product func(c []float32)) {
	t.Helper()
	var first []float32
	for _, procs := range []int{1, 2, 3, 4, 2, 1} {
		runtime.GOMAXPROCS(procs)
		c := append([]float32(nil), c0...)
		product(c)
		if first == nil {
			first = c
			continue
		}
		for i := range c {
			if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
				t.Fatalf("%v: GOMAXPROCS=%d: C[%d] = %v, first run gave %v", label, procs, i, c[i], first[i])
			}
		}
	}
}

// TestSgemmConcurrent runs products from several goroutines at once (the
// pool is shared) and checks each against a sequential result.
func TestSgemmConcurrent(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	tc := gemmCase{m: 64, n: 200, k: 300, alpha: 1}
	a, lda, b, ldb, _, ldc := tc.operands(rng)
	want := make([]float32, tc.m*ldc)
	Sgemm(false, false, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 0, want, ldc)
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		go func() {
			c := make([]float32, tc.m*ldc)
			for range 5 {
				Sgemm(false, false, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 0, c, ldc)
				for i := range c {
					if c[i] != want[i] {
						errs <- fmt.Sprintf("element %d: %v != %v", i, c[i], want[i])
						return
					}
				}
			}
			errs <- ""
		}()
	}
	for range 8 {
		if e := <-errs; e != "" {
			t.Error(e)
		}
	}
}

func TestCheckSgemm(t *testing.T) {
	buf := make([]float32, 100)
	tests := []struct {
		name           string
		transA, transB bool
		m, n, k        int
		la, lb, lc     int // slice lengths
		lda, ldb, ldc  int
		want           string // substring of the error; "" means valid
	}{
		{"ok", false, false, 3, 4, 5, 15, 20, 12, 5, 4, 4, ""},
		{"ok empty", false, false, 0, 0, 0, 0, 0, 0, 1, 1, 1, ""},
		{"ok transposed", true, true, 3, 4, 5, 15, 20, 12, 3, 5, 4, ""},
		{"negative", false, false, -1, 4, 5, 15, 20, 12, 5, 4, 4, "negative size"},
		{"lda small", false, false, 3, 4, 5, 15, 20, 12, 4, 4, 4, "leading dimension of A is 4, want >= 5"},
		{"ldb small transposed", false, true, 3, 4, 5, 15, 20, 12, 5, 4, 4, "leading dimension of B is 4, want >= 5"},
		{"ldc zero", false, false, 0, 0, 0, 0, 0, 0, 1, 1, 0, "leading dimension of C"},
		{"A short", false, false, 3, 4, 5, 14, 20, 12, 5, 4, 4, "A has 14 elements, want >= 15"},
		{"C short", false, false, 3, 4, 5, 15, 20, 11, 5, 4, 4, "C has 11 elements"},
		{"overflow", false, false, 0, 1, math.MaxInt >> 10, 0, 0, 0, math.MaxInt >> 10, math.MaxInt >> 10, 1, "size overflows"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckSgemm(tt.transA, tt.transB, tt.m, tt.n, tt.k, buf[:tt.la], tt.lda, buf[:tt.lb], tt.ldb, buf[:tt.lc], tt.ldc)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSgemmPanicsOnBadArguments(t *testing.T) {
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(fmt.Sprint(r), "A has 2 elements") {
			t.Fatalf("recovered %v, want the CheckSgemm error", r)
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 2), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func TestSgemmNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under the race detector")
	}
	rng := rand.New(rand.NewPCG(13, 14))
	for _, tc := range []gemmCase{{m: 128, n: 400, k: 784, alpha: 1}, {transA: true, m: 400, n: 20, k: 128, alpha: 1}, {m: 1, n: 400, k: 20, alpha: 1}, {transB: true, m: 1, n: 400, k: 784, alpha: 1}, {m: 9, n: 9, k: 9, alpha: 1}} {
		a, lda, b, ldb, c, ldc := tc.operands(rng)
		run := func() { Sgemm(tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, a, lda, b, ldb, 0, c, ldc) }
		run() // warm the pools
		if n := testing.AllocsPerRun(20, run); n > 0.5 {
			t.Errorf("%v: %.1f allocations per call, want 0", tc, n)
		}
	}
}
