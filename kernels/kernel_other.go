//go:build !amd64

package kernels

func bestKernel() *microKernel { return &genericKernel }

// kernelsForTest lists every kernel this CPU can run.
func kernelsForTest() []*microKernel { return []*microKernel{&genericKernel} }
