//go:build !amd64

package kernels

var useAVX512Add = false

func addVec(dst, src []float32) bool { return false }

// hasConvTile is a variable for the tests' sake (see conv_amd64.go).
var hasConvTile = false

func convTile(x []float32, rows []int, taps []int, c int, w []float32, out []float32, orows []int, ncols int, flags int, bias []float32) {
	panic("kernels: convTile without AVX-512")
}
