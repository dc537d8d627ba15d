// Package ir is vaec's model description: the one value every phase after
// the spec reads. It imports the standard library only.
//
//	spec.yaml ──compiler──▶ *ir.Model ──┬── graph  ──▶ Gorgonia training graph
//	                                     └── export ──▶ encoder.onnx, decoder.onnx
//
// A Model holds two small graphs of typed nodes, the Encoder over the input
// x and the Decoder over z, each a list of Nodes in topological order. A
// node has an Op, its attributes (Attrs), the names of its inputs, their
// shapes and its output shape (per example: [D] or [C, H, W]), the names of
// its parameters, and the spec position and key path it came from. The
// encoder's mean and log-variance heads and the decoder's output are
// ordinary nodes with a Role. The Likelihood and the Prior are values the
// lowerings dispatch on, each in one place. Kinds (op, activation,
// optimizer, data format, likelihood, prior) are typed enums with String
// and JSON text forms.
//
// The op table (ops.go) describes every op once: its form, arity,
// attributes, parameters as functions of the attributes and input shape,
// shape inference and multiply-adds. Verify is the only place where the
// chain of nodes, the shapes and the parameter declarations are checked;
// graph and export rely on a verified model.
//
// The names of the graph inputs (x, y, z, eps) and outputs (mu, logvar,
// probs, mean) are the public contract of the exported files: keep them.
//
// # Adding an op
//
// An op touches four places, each with its test:
//
//  1. The op table in ir/ops.go: a constant with a one-line form comment,
//     and its OpInfo row — Name (as the spec spells it), Form, Arity,
//     Attrs (the Attrs fields it reads; add a field to Attrs if it needs a
//     new one), Params (each parameter's suffix, shape, initialisation and
//     fan-in), Infer (the output shape, or an error with the numbers that do
//     not fit) and MACs. Verify then checks every node of the op. Test:
//     Verify accepts a model built with the op and refuses broken ones.
//  2. The graph lowering: a function in graph (package graph, build.go's
//     lowerings map) that builds the Gorgonia node from the inputs; a fused
//     op with its own gradient when Gorgonia has none. Every value of the
//     training graph is a [rows, features] matrix, images flattened
//     row-major. Test: forward against a float64 reference, gradients
//     against finite differences.
//  3. The export lowering: a function in export (lower.go's lowerings map)
//     that appends the ONNX nodes and initializers. Test: the golden dump,
//     the onnx checker, and ONNX Runtime against the graph.
//  4. The runtime op, when the export uses an ONNX operator vaec's runtime
//     does not run yet (runtime/ops.go; the ONNX node suite covers it).
//
// The compiler then needs the spec's spelling of the layer (a key table
// entry in compiler/spec.go and a case in the layer check). graph/addop_test.go
// and export/addop_test.go add an identity op through RegisterOp and one
// lowering per backend, touching nothing else, as a check that the four
// places are all there is.
package ir
