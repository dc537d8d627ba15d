//go:build !unix

package builddir

import "os"

// lock without flock: the directory is not protected against a second
// writer on this platform.
func lock(path string) (*os.File, error) { return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644) }

func unlock(f *os.File) error { return f.Close() }
