// Package sysmem tells how much memory this process may use: the cgroup's
// memory.max where one is set (containers, systemd units), else the
// machine's physical memory. Commands compare their estimates with it, so
// that a model or a data file that cannot fit is refused up front with a
// figure instead of ending in an out-of-memory crash.
package sysmem

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// Limit is the memory available to the process and where the figure comes
// from ("cgroup memory.max" or "physical memory"); 0 when unknown.
func Limit() (bytes int64, source string) {
	if n, ok := cgroupMax(); ok {
		return n, "the cgroup's memory.max"
	}
	if n, ok := memTotal(); ok {
		return n, "the machine's memory"
	}
	return 0, ""
}

// cgroupMax reads memory.max of this process's cgroup (v2), "max" meaning
// no limit.
func cgroupMax() (int64, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		path, ok := strings.CutPrefix(line, "0::")
		if !ok {
			continue
		}
		// The nearest limit up the hierarchy applies.
		for p := strings.TrimSuffix(path, "/"); ; p = p[:strings.LastIndex(p, "/")] {
			if n, ok := readMax("/sys/fs/cgroup" + p + "/memory.max"); ok {
				return n, true
			}
			if !strings.Contains(p, "/") || p == "" {
				break
			}
		}
	}
	return readMax("/sys/fs/cgroup/memory.max")
}

func readMax(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(b)), 10, 64)
	return n, err == nil && n > 0
}

func memTotal() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err == nil
		}
	}
	return 0, false
}
