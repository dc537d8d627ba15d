package kernels

import (
	"math/rand/v2"
	"testing"
)

// FuzzSgemm drives Sgemm with fuzzer-chosen shapes, transposes, scalars,
// padding and kernel, checking every result against the float64 reference
// (checkGemm also checks that padding of C is untouched).
func FuzzSgemm(f *testing.F) {
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), uint8(0), uint64(1))
	f.Add(uint8(9), uint8(49), uint8(17), uint8(3), uint8(1), uint64(2))
	f.Add(uint8(16), uint8(96), uint8(8), uint8(0xff), uint8(2), uint64(3))
	f.Add(uint8(1), uint8(200), uint8(33), uint8(2), uint8(0), uint64(4))
	f.Add(uint8(0), uint8(5), uint8(0), uint8(5), uint8(1), uint64(5))
	kerns := kernelsForTest()
	f.Fuzz(func(t *testing.T, m, n, k, flags, kern uint8, seed uint64) {
		scalars := [][2]float32{{1, 0}, {1, 1}, {-2, 0.5}, {0, 1}, {0.5, 0}}
		s := scalars[int(flags>>4)%len(scalars)]
		tc := gemmCase{
			transA: flags&1 != 0, transB: flags&2 != 0,
			m: int(m), n: int(n), k: int(k),
			alpha: s[0], beta: s[1], pad: int(flags>>2) & 3,
		}
		saved := active
		defer func() { active = saved }()
		active = kerns[int(kern)%len(kerns)]
		checkGemm(t, tc, rand.New(rand.NewPCG(seed, 7)))
	})
}
