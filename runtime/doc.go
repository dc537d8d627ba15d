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
//     drops: opset imports, node names, symbolic dimension names ("N"),
//     the element types of graph inputs and outputs, the model's
//     doc_string and its metadata_props (Model.Metadata; at most 1024
//     entries, values up to 1 MiB, duplicate keys refused).
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
//     that shape mismatches, and a declared output type the graph does not
//     compute, are load errors. The propagation does no float arithmetic,
//     so a hostile file cannot make Load compute. A shape that depends on
//     data the check does not have (a Reshape target or Resize sizes fed
//     as graph inputs) stays unknown, and what depends on it is checked
//     at Run.
//
// Check reports, for vaec inspect, the operators a file uses and what the
// runtime lacks to run it (every unimplemented operator, else Load's
// reason).
//
// What onnx-go v0.5.0's decoder gives and what it does not: it decodes
// initializers, attributes of every kind the runtime uses (ints, floats,
// strings, tensors) and the edges, including graph inputs of type INT64
// and absent optional inputs (named ""), which it maps to one shared
// node; the collector keeps edges as a list, so the order and the
// repeated "" survive, and the plan checks them against the pre-pass's
// reading of the same node. It drops the element types of graph inputs
// and outputs, symbolic dimensions and metadata, which the pre-pass
// reads. It would build a tensor for a declared empty initializer from
// nil backing (a panic), so the pre-pass refuses empty tensors.
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
// Default domain, model opsets up to 21 (vaec emits 13 to 17); each
// operator from the first version whose definition the runtime implements
// (Elu-6, Softplus-1, Upsample-9, Gemm-7, ...), reading the model's opset
// where a later version moved an attribute to an input (Squeeze,
// Unsqueeze and ReduceSum at 13, ReduceMean at 18, Slice at 10, Pad and
// Clip at 11) or changed the meaning (Softmax before 13 normalises the
// flattened trailing axes):
//
//   - Dense: Gemm (alpha, beta, transA, transB, optional and broadcast C),
//     MatMul (numpy semantics).
//   - Elementwise: Add, Sub, Mul, Div (multidirectional broadcasting), Pow
//     (float32 or int64 base and exponent), Relu, Tanh, Sigmoid, Softplus,
//     Exp, Log, Neg, Sqrt, Elu, LeakyRelu, Clip.
//   - Convolution: Conv and ConvTranspose (N-D: pads, auto_pad, strides,
//     dilations, group; ConvTranspose's output_padding and output_shape),
//     MaxPool and AveragePool (ceil_mode, count_include_pad, dilations),
//     BatchNormalization (inference; training mode is refused: a
//     training_mode attribute or the running-statistics outputs).
//   - Layout: Identity, Flatten, Reshape (0, -1, allowzero), Expand,
//     Shape (start, end), Constant, Transpose, Concat, Squeeze, Unsqueeze,
//     Slice (negative steps and bounds), Gather, Pad (constant, reflect,
//     edge; negative pads crop).
//   - Resize (nearest with its four nearest_mode roundings, linear; the
//     coordinate modes half_pixel, pytorch_half_pixel, align_corners,
//     asymmetric, tf_half_pixel_for_nearest) and Upsample. Cubic
//     interpolation, tf_crop_and_resize, antialias and axes are refused.
//   - Softmax, ReduceSum, ReduceMean (keepdims, noop_with_empty_axes).
//   - Masks: IsNaN (float32 in, bool out), Where (bool condition; float32,
//     int64 or bool data), Equal, Less, Greater (float32 or int64; Equal
//     also bool), And, Or, Not; all broadcast multidirectionally. An
//     exported model with missing: mean starts with
//     Where(IsNaN(x), fill, x).
//
// Tensors are float32, int64 for shapes and indices, or bool for masks:
// an int64 graph input or output has IOInfo.Type Int64 and its values in
// Tensor.Int64, a bool one Type Bool and Tensor.Bool. Bool values are
// type-checked at load like the others: only the mask operators take them
// (a bool reaching Relu or Add is a load error naming the node), and bool
// initializers and Constant tensors are refused (no vaec file has one).
// Other element types, sequences and optionals, nodes with a second
// output (MaxPool's Indices) and unknown attributes are refused at load,
// naming the node, operator and attribute.
//
// ONNX's backend node tests (scripts/gen_node_tests.py writes them from
// Debian's python3-onnx 1.12; runtime/nodesuite runs them, CI requires
// them) check these definitions: of the 922 tests, the 246 whose
// operators and types the runtime implements load and pass at 1e-5
// absolute plus 1e-5 relative; the 33 others of its operators are refused
// for the reasons listed in runtime/nodesuite/testdata/refused.tsv (other
// element types, training-mode BatchNormalization, MaxPool's Indices,
// cubic Resize, sequences and optionals); the 643 left use other
// operators. PyTorch 1.13's exports of MLP and conv VAEs
// (testdata/foreign/torch) match PyTorch at batch 1 and 7.
//
// Numerics: float32 throughout. Sigmoid uses a float32 exp accurate to a
// few ulp (it covers a whole decoder output); the other transcendental
// functions, Softmax, the reductions, the direct convolution loops and
// Resize's coordinates compute in float64 and round once.
//
// Convolutions: a 2-D Conv or ConvTranspose with group 1, no dilation and
// the same padding at both ends of each axis (every VAE layer PyTorch
// exports) runs through package kernels with its weights prepared once
// (kernels.PackedConv). A run of such Convs with initializer weights is one
// step (kernels.ConvChain): on AVX-512 a direct tile computes 6 output
// pixels × 64 channels straight from padded channels-last images, each
// convolution writes into the next one's padded input, bias and activation
// are applied in the final store, and a Flatten that follows and feeds
// only Gemms is folded into their weights (rows permuted to the
// channels-last order). ConvTranspose runs col2im over one product per
// chunk of images, on all cores. Other geometries run a direct loop that
// follows the ONNX definition.
//
// # Execution
//
// After the shape check, Load evaluates Constant nodes once (their
// values become constants like initializers), fuses each Gemm with the
// activation that is its only consumer, then gives every dense layer (a Gemm with alpha 1,
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
// Two folds spare a pass over batch-sized tensors (fold.go). A constant
// per-feature scaling or shift of a dense layer's input (Mul, Add or Sub
// by a scalar or a row: vaec's exports take raw pixels and scale them
// first) is folded into the layer, x·(diag(s)·W) + (t·W + b), so the
// caller's input is read directly. Elementwise arithmetic with a constant
// on a dense output (vaec's decoders derive mean_raw from the
// probabilities) runs on each block of the product as soon as the block is
// final, on the core that computed it (kernels.MulBiasActThen). Both
// change results by rounding only; a call whose input does not fit runs
// the file's steps.
//
// A single row (batch 1) is a matrix-vector product bound by reading the
// weight (1.25 MB for 784×400, more than one core's L2): it streams a
// strip layout of the weight, split across the cores at fixed column
// boundaries so that each core reads its own half, which then stays in
// that core's L2 from call to call. Larger batches run the blocked SIMD
// matrix multiply over pre-packed panels on all cores. The parallel parts
// go to a pool of workers that spin briefly between tasks, since a batch-1
// layer takes about 10 µs, less than waking a parked thread. From 32
// rows, consecutive dense layers whose hidden values nothing outside
// reads (an MLP's layers) are joined (joined.go): each core takes its
// block of rows through every layer in one parallel phase, so a call
// synchronises the cores once instead of once per layer, with results
// bit-identical to the layer-by-layer run.
//
// Memory: Load plans the lifetime of every intermediate value. After a
// step, the values no later step reads are dropped (graph inputs,
// constants and outputs never are), so the memory of a call is that of
// the values alive together: a 60,000-node chain of Relus keeps two
// tensors, not 60,000. Load measures the plan's peak at batch size 1 and
// refuses graphs above maxLiveElems (2^28 values, 1 GiB of float32); Run
// refuses a call whose peak, scaled by the sizes of the symbolic
// dimensions, would exceed it. Run's outputs are never buffers that are
// reused; RunInto writes them into buffers the caller owns and passes
// again (as ONNX Runtime's IO binding), which at batch 256 saves
// allocating, zeroing and first touching 1.6 MB a call for the MNIST
// decoder.
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
// runtime and in ONNX Runtime through its Go binding, interleaved, both
// writing into output tensors bound once (RunInto here), ONNX Runtime with
// the better of 1 and 2 intra-op threads, both computing every output of
// the file. On the shared 2-core development machine (Xeon 2.5 GHz,
// AVX-512; figures vary by ±20% with the other tenants' load), medians of
// 9 rounds of 1 s at the end of the 2026-12-02 session (load 1.1–1.8):
//
//	file     batch  vaec samples/s  ORT samples/s  ratio
//	encoder      1          65400          52045   1.26x  latency 15.3 µs vs 19.2 µs
//	decoder      1          68440          50789   1.35x  latency 14.6 µs vs 19.7 µs
//	encoder    256         351657         265901   1.32x
//	decoder    256         315636         296235   1.07x
//
// (a 5-round run just before: 1.35x, 1.20x, 1.07x, 1.29x; before the dense
// form, at load 2: 0.47x, 0.84x, 0.52x and 0.62x). At batch 256 both
// engines spend about three quarters of a call in the same products.
// BenchmarkMNIST* and BenchmarkInterleaved* in runtime/opsuite measure the
// same things as Go benchmarks, with gorgonnx (onnx-go's Gorgonia backend)
// for comparison: 2–3× slower than both at batch 1 and about 20× slower at
// batch 256.
//
// # Comparing
//
// Compare gives the largest absolute and relative differences between two
// outputs; Within applies the verdict vaec verify uses, |got−want| ≤
// tol·max(1, |want|) for every value.
package runtime
