//go:build !amd64

package kernels

func scalarVec(dst, x []float32, op ScalarOp, c float32) bool { return false }
