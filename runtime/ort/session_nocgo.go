//go:build !cgo

package ort

import (
	"fmt"

	"github.com/vaec/vaec/runtime"
)

func Init(path string) error {
	return fmt.Errorf("%w: this vaec was built without cgo", ErrUnavailable)
}

func Version() string { return "" }

type Session struct{}

// Options tune a session (see the cgo build).
type Options struct {
	Threads int
	NoSpin  bool
}

func NewSession(model []byte, inputs, outputs []string, o Options) (*Session, error) {
	return nil, fmt.Errorf("%w: this vaec was built without cgo", ErrUnavailable)
}

func (s *Session) Run(in map[string]runtime.Tensor) (map[string]runtime.Tensor, error) {
	return nil, ErrUnavailable
}

func (s *Session) Close() error { return nil }
