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
// # Execution
//
// After the shape check, Load fuses each Gemm with the activation that is
// its only consumer, then gives every dense layer (a Gemm with alpha 1,
// untransposed A, an initializer weight, and no bias or a constant row
// bias with beta 1) a dense form: the weight is packed once into a
// kernels.PackedB, the runtime owning its weights, so a call packs
// nothing; the bias and activation are applied to each block of the
// product while it is in cache; and sibling layers that read the same
// input with the same activation (a VAE encoder's mu and log-variance
// heads) become one product over their concatenated weights, whose
// columns are copied out to each output. Column j's arithmetic does not
// depend on its place in the weight, so merging changes no result. Other
// Gemms, and any call whose input does not fit the dense form, use the
// general kernels, which report errors.
//
// A single row (batch 1) is a matrix-vector product bound by reading the
// weight (1.25 MB for 784×400, more than one core's L2): it streams a
// strip layout of the weight, split across the cores at fixed column
// boundaries so that each core reads its own half, which then stays in
// that core's L2 from call to call. Larger batches run the blocked SIMD
// matrix multiply over pre-packed panels on all cores. The parallel parts
// go to a pool of workers that spin briefly between tasks, since a batch-1
// layer takes about 10 µs, less than waking a parked thread.
//
// A call's working memory (slot table, input list, the buffers of
// intermediate values that only dense layers read) is recycled through a
// sync.Pool of per-call states, so concurrent calls never share it and a
// steady stream of calls allocates little besides its outputs, which are
// always fresh and the caller's to keep.
//
// Determinism: for fixed inputs and batch size every output is bit-identical
// from call to call and independent of GOMAXPROCS (package kernels splits
// work along rows and columns only). A row of a batch-1 call may round
// differently from the same row in a larger batch.
//
// # Speed
//
// bench infer (go build -o /tmp/bench ./bench && /tmp/bench infer) times
// the MNIST VAE (784-400-20) encoder and decoder at batch 1 and 256 in this
// runtime and in ONNX Runtime through its Go binding, interleaved, ONNX
// Runtime with bound input and output tensors and the better of 1 and 2
// intra-op threads. On the shared 2-core development machine (Xeon 2.5
// GHz, AVX-512; figures vary by ±30% with the other tenants' load),
// medians of 5 rounds of 1 s (load average 1.1–1.5):
//
//	file     batch  vaec samples/s  ORT samples/s  ratio
//	encoder      1          46663          24309   1.92x  latency 21.4 µs vs 41.1 µs
//	decoder      1          36083          30795   1.17x  latency 27.7 µs vs 32.5 µs
//	encoder    256         185504         182586   1.02x
//	decoder    256         163764         179878   0.91x
//
// (before the dense form, at load 2: 0.47x, 0.84x, 0.52x and 0.62x).
// At batch 256 each decoder call allocates its 800 KB output (Run returns
// fresh tensors), which costs 10–15% against ONNX Runtime writing into a
// bound buffer. BenchmarkMNIST* and BenchmarkInterleaved* in
// runtime/opsuite measure the same things as Go benchmarks, with gorgonnx
// (onnx-go's Gorgonia backend) for comparison: 2–3× slower than both at
// batch 1 and about 20× slower at batch 256.
//
// # Comparing
//
// Compare gives the largest absolute and relative differences between two
// outputs; Within applies the verdict vaec verify uses, |got−want| ≤
// tol·max(1, |want|) for every value.
package runtime
