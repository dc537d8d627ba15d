//go:build tools

// Package tools pins module versions that go mod tidy would otherwise drop
// while no package imports them yet, and the code generators we run.
package tools

import (
	_ "github.com/owulveryck/onnx-go"
	_ "github.com/schollz/progressbar/v3"
	_ "github.com/yalue/onnxruntime_go"
	_ "go4.org/unsafe/assume-no-moving-gc"
	_ "golang.org/x/term"
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
	_ "gopkg.in/yaml.v3"
	_ "gorgonia.org/gorgonia"
	_ "gorgonia.org/tensor"
)
