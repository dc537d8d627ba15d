//go:build unix

package builddir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// lock takes an exclusive flock on path without waiting. The kernel drops
// it when the process dies, so a killed writer never leaves a stale lock;
// the PID written into the file only serves the message of the next one.
func lock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			holder := "another process"
			if b, rerr := os.ReadFile(path); rerr == nil {
				if fields := strings.Fields(string(b)); len(fields) > 0 {
					if pid, perr := strconv.Atoi(fields[0]); perr == nil {
						holder = "process " + strconv.Itoa(pid)
						if len(fields) > 1 {
							holder += " (" + Escape(strings.Join(fields[1:], " ")) + ")"
						}
					}
				}
			}
			dir := filepath.Dir(filepath.Dir(path))
			return nil, fmt.Errorf("%w: %s is locked by %s; wait for it to finish or stop it", ErrLocked, dir, holder)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	who := strconv.Itoa(os.Getpid())
	if len(os.Args) > 1 {
		who += " " + filepath.Base(os.Args[0]) + " " + os.Args[1]
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(who+"\n"), 0)
	}
	return f, nil
}

func unlock(f *os.File) error {
	// Closing the descriptor releases the flock.
	return f.Close()
}
