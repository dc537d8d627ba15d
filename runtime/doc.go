// Package runtime loads ONNX files with onnx-go's decoder and executes them
// in float32, so that vaec can show that an exported model computes what
// the training graph computes. It never imports the exporter (package
// export) or the training graph (package graph): a fault in either cannot
// hide itself here.
//
// # Loading
//
// Load (or LoadFile) passes the file through three stages:
//
//  1. A bounds-checking pre-pass over the protobuf wire format: every
//     declared dimension, initializer size, name length and rank is checked
//     against fixed limits and against the bytes actually present, before
//     anything is allocated from those numbers. It also keeps what onnx-go
//     drops: opset imports, node names and symbolic dimension names ("N").
//  2. onnx-go's decoder (onnx.NewModel(backend).UnmarshalBinary), under a
//     recover, builds the graph into a backend of this package: a
//     collector implementing onnx-go's Backend interface (gonum's directed
//     weighted graph builder plus ApplyOperation). It supplies the decoded
//     initializer tensors, the node attributes and the edges.
//  3. Planning: every operator and attribute is checked against what the
//     runtime implements (an unknown operator or attribute is refused,
//     naming the node and operator), names must be defined once, nodes are
//     sorted topologically (a cycle is reported with the nodes on it), and
//     the shapes are propagated once with every symbolic dimension at 1, so
//     that shape mismatches are load errors. The propagation does no float
//     arithmetic, so a hostile file cannot make Load compute.
//
// Hostile or broken files get an error, never a panic (FuzzLoad).
//
// # Why a backend of our own
//
// onnx-go ships gorgonnx, a backend that lowers the graph onto Gorgonia. It
// runs vaec's files and matches other tools' outputs, but it fixes the
// symbolic batch dimension at the first SetInput: a second call with
// another batch size fails ("Node's expected shape is (2, 20). Got (5,
// 20)"), so one loaded model cannot serve batch 1 and batch 256. Its
// evaluation also goes through Gorgonia's generic tape machine. The backend
// here only collects the decoded graph; execution is a plain list of
// kernels over float32 slices, with matrix products in package kernels
// (packed panels, AVX2/AVX-512 micro-kernels, all cores), so any batch
// size works and a batch-1 call costs little more than its arithmetic.
//
// # Operators
//
// Default domain, opsets 11 to 21 (vaec emits 13 to 17): Gemm (alpha, beta,
// transA, transB, optional and broadcast C), MatMul (numpy semantics), Add,
// Sub, Mul, Div (multidirectional broadcasting), Relu, Tanh, Sigmoid,
// Softplus, Exp, Log, Neg, Elu (alpha), LeakyRelu (alpha), Identity,
// Flatten (axis), Reshape (0 and -1, allowzero), Expand, Shape (start,
// end), Constant (value, value_float(s), value_int(s)). Graph inputs and
// outputs are float32; int64 tensors flow only as shape arguments.
//
// Numerics: float32 throughout. Sigmoid uses a float32 exp accurate to a
// few ulp (it covers a whole decoder output); the other transcendental
// functions compute in float64 and round once.
//
// # Speed
//
// BenchmarkMNIST* in runtime/opsuite time the MNIST VAE (784-400-20)
// encoder and decoder at batch 1 and 256 in this runtime, in ONNX Runtime
// and in gorgonnx, side by side in one run; BenchmarkInterleaved* alternate
// the runtime and ONNX Runtime call by call and report the ratio. On the
// 2-core development machine (shared, so ±30% between runs) the runtime
// was 1.2–1.5× as fast as ONNX Runtime 1.24 at batch 1 and 0.75–1.3× at
// batch 256; gorgonnx was 2–3× slower than both at batch 1 and about 20×
// slower at batch 256.
//
// # Comparing
//
// Compare gives the largest absolute and relative differences between two
// outputs; Within applies the verdict vaec verify uses, |got−want| ≤
// tol·max(1, |want|) for every value.
package runtime
