// Package runtime loads ONNX files with onnx-go's decoder and executes them
// in float32, so that vaec can check that an exported model computes what
// the training graph computes.
package runtime
