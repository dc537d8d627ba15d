//go:build !amd64

package kernels

func bestKernel() *microKernel { return &genericKernel }

// kernelsForTest lists every kernel this CPU can run.
func kernelsForTest() []*microKernel { return []*microKernel{&genericKernel} }

// hasAVX512 is false off amd64 (the tests skip the vector paths by it).
const hasAVX512 = false
