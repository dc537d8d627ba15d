// Package onnxpb holds the Go types of the ONNX protobuf messages that the
// exporter writes, generated from onnx.proto (a subset of the ONNX IR with
// upstream field numbers). Only package export uses them; protobuf types
// never leave it.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
