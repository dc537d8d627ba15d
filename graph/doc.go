// Package graph lowers a compiled VAE (the compiler's IR, *ir.Model) to
// a Gorgonia expression graph and trains it.
//
// The lowering is the single place where the model's arithmetic is written
// down for Go: the trainer, [Encode], [Decode] and [Evaluate] all evaluate
// graphs built by the same functions, so that the ONNX export (a sibling
// lowering of the same IR) can be checked against what was trained.
//
// Shapes and names follow the IR: a dense layer is y = act(x·W + b) with
// W [In, Out] and b [Out]; each Gorgonia node carries its parameter's IR name.
// Every value is a [rows, features] matrix: an image [C, H, W] is a row of
// C·H·W values in NCHW order, so reshape and the flattening before a dense
// layer are free. conv2d, conv_transpose2d, upsample and batch_norm lower to
// the fused image ops of conv.go and conv_bn.go, weights as PyTorch and ONNX
// lay them out (a [a, b, kh, kw] convolution weight bound as the matrix
// [a, b·kh·kw]). Batch norm normalises with the batch's statistics in a
// training graph, updating its running statistics in place (they are IR
// buffers, Param.Buffer: bound like parameters, kept in the checkpoint,
// never differentiated or optimised), and with the running statistics in
// every other graph: validation, [Evaluate], [Encode], [Decode].
// Everything is float32. Gorgonia types never leave this package: weights go
// in and out as map[string]checkpoint.Tensor.
//
// The objective is the negative ELBO per example,
//
//	loss = (recon + w·KL) / B,   recon = Σ −log p(x|z) averaged over the z samples,
//	KL = Σ ½(exp(logvar) + mu² − 1 − logvar)   (closed form against N(0, I)),
//
// with z = mu + exp(½·logvar)·ε and ε ~ N(0, I) drawn by the trainer from its
// seeded generator (math/rand/v2 PCG), so a run is reproducible bit for bit.
// The reported ELBO is always −(recon + KL), whatever the KL weight w (β and
// warm-up) used for the gradient.
//
// # Fast by construction
//
// The graph is lowered from the IR in a loop, layer by layer, as a graph of
// Gorgonia ops, and differentiated by G.Grad. What makes training fast is
// which ops the lowering emits and how the graph is run:
//
//   - Fused ops (ops.go, loss.go), each a Gorgonia Op with its own symbolic
//     derivative (SDOp), backed by package kernels:
//     Dense = act(x·W + b) (kernels.Sgemm, then kernels.AddBiasAct over the
//     rows just written); its derivative is ActGrad (dz = dy·act′ taken from
//     the output y, so no pre-activation is kept), two MatMuls (dx = dz·Wᵀ,
//     dW = xᵀ·dz) and ColSum (db). Reparameterize draws all S samples of z
//     without stacking mu and logvar S times. NegELBO is the whole objective
//     in one op: Bernoulli NLL from logits (softplus and sigmoid through the
//     vector kernels), or the Gaussian NLLs, plus the closed-form KL and the
//     KL weight; it computes its gradient in the same pass (the Bernoulli
//     gradient sigmoid(l) − x reuses the exponential of softplus(l)) and
//     keeps it, with the two terms, for the NegELBOGrad and term nodes, as
//     Gorgonia's own CTC loss keeps its forward tables for its backward pass.
//     Sums are taken in float64 in a fixed order.
//   - A tape (tape.go) instead of Gorgonia's TapeMachine: the nodes the
//     outputs need, in the graph's topological order, each computing into a
//     value allocated once per graph (one graph per batch size) and bound to
//     its node. TapeMachine.Reset reallocates every intermediate (9.2 MB and
//     2,070 allocations per step for the MNIST model) and runs nodes nobody
//     reads (the gradient of the first layer's input); the tape allocates
//     about 30 small objects per step, the goroutine hand-offs of the work
//     split across cores. Ops that are not this package's (the Adds G.Grad
//     inserts to sum the gradients of a node with two consumers) run through
//     Do and are copied into their node's value.
//   - An in-place optimizer (optim.go): Adam through kernels.AdamStep, every
//     rule element-wise and split across the cores.
//   - Both cores: kernels.Sgemm splits large products across GOMAXPROCS
//     goroutines; the Bernoulli NLL splits its rows; the optimizer splits
//     each parameter. Every split is at fixed boundaries or element-wise, and
//     per-row sums are added in row order, so results do not depend on
//     GOMAXPROCS (TestTrainIndependentOfGOMAXPROCS).
//
// Layers the fused Dense does not cover (ELU or leaky ReLU with alpha ≤ 0,
// whose derivative is not a function of the output) fall back to Gorgonia's
// built-in ops in the same graph. The primitive lowering (built-in ops
// throughout, on the TapeMachine) is kept as the reference that
// TestFusedMatchesPrimitive compares the fused one against, and as
// BenchmarkTrainStep128Primitive.
//
// # Figures
//
// Measured on the shared 2-core development machine (Xeon @ 2.5 GHz with
// AVX-512), the PyTorch example's model (784-400-20, ReLU, Bernoulli, Adam,
// batch 128). Other engineers' work loads the machine, so figures are given
// side by side, with the load average:
//
//	go test -run='^$' -bench=TrainStep128 -benchtime=300x ./graph        (load 1.5)
//	  fused ops, tape              24,627 samples/s    9.8 KB/step       32 allocs/step
//	  primitive ops, TapeMachine    2,628 samples/s    9.2 MB/step    2,070 allocs/step
//
//	go run ./bench train -rounds 3 -epochs 10 -torch-threads 1           (load 1.5–4)
//	  vaec             16,301  18,769  21,342 samples/s   val ELBO −123.05
//	  PyTorch 1 thread 11,154  12,164  13,049 samples/s   val ELBO −123.22
//	  median ratio 1.54×; at load 4.4 (with PyTorch on 2 threads too) it was
//	  13,957 vs 7,378 (1 thread) and 1,884 (2 threads): 1.89×.
//
// Validation ELBO after 10 epochs (TestMNISTTenEpochs): −123.05 nats.
//
// Time per op kind of one fused step (VAEC_OPPROFILE=1 with the benchmark,
// load 1.5):
//
//	op                   nodes  µs/step  share
//	MatMul (backward)        9   2158.3  47.6%
//	Dense (forward)          5   1574.6  34.7%
//	NegELBO                  1    425.1   9.4%
//	ReparameterizeGrad       2     81.5   1.8%
//	+ (gradient sums)        3     78.3   1.7%
//	ActGrad                  2     62.6   1.4%
//	Reparameterize           1     59.8   1.3%
//	NegELBOGrad              3     58.6   1.3%
//
// The matrix products are 82% of the graph's time; the optimizer step
// (outside the graph, kernels.AdamStep) is about a tenth of the whole
// training CPU time. For a pprof profile:
//
//	go test -run='^$' -bench=TrainStep128 -cpuprofile cpu.out ./graph
//	go tool pprof -top graph.test cpu.out
package graph
