//go:build !linux

package main

// pinThread does nothing where thread affinity is not available: the
// arithmetic figures are then unpinned.
func pinThread(cpu int) error { return nil }
