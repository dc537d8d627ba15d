// Package opsuite holds tests only: the operator suite that runs every
// operator of a dense VAE through both vaec's ONNX runtime and the Gorgonia
// lowering (package graph) against the same float64 expectations, and the
// benchmarks that time the runtime against ONNX Runtime on the MNIST
// encoder and decoder. It lives apart from package runtime because it
// imports graph and export, which runtime itself must never import.
package opsuite
