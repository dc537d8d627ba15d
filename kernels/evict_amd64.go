package kernels

// canEvict: CLFLUSHOPT is CPUID leaf 7's EBX bit 23.
var canEvict = func() bool {
	max, _, _, _ := cpuidEvict(0, 0)
	if max < 7 {
		return false
	}
	_, ebx, _, _ := cpuidEvict(7, 0)
	return ebx&(1<<23) != 0
}()

//go:noescape
func evictLines(x *float32, n int)

func cpuidEvict(eax, ecx uint32) (a, b, c, d uint32)
