package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestAddTo: the vector path gives the Go loop's bits for every length
// around its 64- and 16-element steps, leaves dst's tail beyond len(dst)
// alone, and reads only len(dst) elements of src.
func TestAddTo(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 7, 15, 16, 17, 63, 64, 65, 100, 128, 1000, 1 << 14} {
		src := make([]float32, n+3)
		dst := make([]float32, n+3)
		for i := range src {
			src[i] = float32(rng.NormFloat64() * math.Pow(10, float64(rng.IntN(8)-4)))
			dst[i] = float32(rng.NormFloat64())
		}
		want := append([]float32(nil), dst...)
		for j := 0; j < n; j++ {
			want[j] += src[j]
		}
		for _, vec := range []bool{false, true} {
			if vec && !hasAVX512 {
				continue
			}
			func() {
				saved := useAVX512Add
				defer func() { useAVX512Add = saved }()
				useAVX512Add = vec
				got := append([]float32(nil), dst...)
				AddTo(got[:n], src[:n])
				for j := range got {
					if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
						t.Fatalf("n=%d vector=%v: element %d is %v, want %v", n, vec, j, got[j], want[j])
					}
				}
			}()
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("AddTo with a short src did not panic")
		}
	}()
	AddTo(make([]float32, 4), make([]float32, 3))
}

func BenchmarkAddTo16K(b *testing.B) {
	dst, src := make([]float32, 1<<14), make([]float32, 1<<14)
	b.SetBytes(3 * 4 << 14) // two reads and a write per element
	for i := 0; i < b.N; i++ {
		AddTo(dst, src)
	}
}
