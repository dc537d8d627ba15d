//go:build !amd64

package kernels

func biasActRow(x, bias []float32, act Act, alpha float32) bool { return false }

var useAVX512Act = false

func actGradVec(dx, dy, y []float32, act Act, alpha float32) bool { return false }

func colSumVec(dst, src []float32, m, n int) bool { return false }
