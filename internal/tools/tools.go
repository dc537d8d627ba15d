//go:build tools

// Package tools pins modules that no package imports directly, so that go
// mod tidy keeps them at the versions the project needs.
package tools

import (
	// Gorgonia v0.9.18 panics at start on Go 1.26 with the version of this
	// module it asks for; this later version works.
	_ "go4.org/unsafe/assume-no-moving-gc"
	// The generator behind internal/onnxpb's go:generate line
	// (go install google.golang.org/protobuf/cmd/protoc-gen-go).
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
