//go:build !amd64

package kernels

func bernoulliVec(l, x, g []float32, scale float32, acc *[16]float64) bool { return false }
