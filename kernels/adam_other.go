//go:build !amd64

package kernels

func adamVec(p, g, m, v []float32, h *AdamParams) bool { return false }

func adamSumVec(p, g0, g1, m, v []float32, h *AdamParams) bool { return false }
