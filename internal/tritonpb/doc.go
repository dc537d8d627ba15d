// Package tritonpb holds the Go types of the part of Triton Inference
// Server's ModelConfig message (config.pbtxt) that vaec writes, generated
// from model_config.proto (a subset of Triton's, with its field names and
// numbers). Package serve writes Triton model repositories and its tests
// parse every config.pbtxt with these types, so that a field Triton would
// not accept fails a test rather than a deployment.
package tritonpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative model_config.proto
