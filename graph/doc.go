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
//   - The first layer's products skip the pixels that are zero (kernels'
//     sparse.go): x·W over the packed weights, and the weight gradient
//     xᵀ·dz (kernels.SgemmZeroA, while dz is finite). Skipping ±0·w is
//     exact, so the weights are the bits of the dense products'; on
//     MNIST 55% of the forward's and 60% of the gradient's steps go.
//   - Every core busy with work of its own: the training step is data
//     parallel (parallel.go, described below), except an MLP's first
//     layer and its decoder's output layer, which are model parallel
//     (bands.go); inside a shard every
//     product and element-wise kernel runs on one goroutine when there are
//     as many shards as cores. Outside training (evaluation, validation)
//     kernels.Sgemm splits large products across GOMAXPROCS goroutines and
//     the Bernoulli NLL splits its rows. Every split is at fixed boundaries
//     or element-wise, and sums are added in a fixed order, so results do
//     not depend on GOMAXPROCS (TestTrainIndependentOfGOMAXPROCS,
//     TestShardedTrainIndependentOfGOMAXPROCS).
//
// Layers the fused Dense does not cover (ELU or leaky ReLU with alpha ≤ 0,
// whose derivative is not a function of the output) fall back to Gorgonia's
// built-in ops in the same graph. The primitive lowering (built-in ops
// throughout, on the TapeMachine) is kept as the reference that
// TestFusedMatchesPrimitive compares the fused one against, and as
// BenchmarkTrainStep128Primitive.
//
// # The data-parallel step
//
// A batch of B rows is cut into S = B/64 shards of consecutive rows (the
// remainder spread over the first shards; one shard below 128 rows, and
// one for a model with batch norm, whose statistics couple the rows). S
// depends on the batch size alone, never on the machine. Each shard has
// its own net and tape for its row count, reading the shared parameter
// arrays, which nothing writes during the phase. A step is:
//
//	draw ε      the trainer's generator, the whole batch in one sequence (ε of
//	            a row is the same as without shards); serial, ~1% of a step
//	first layer an MLP's first dense layer (on the model's input), cut into
//	            bands of its inputs (bands.go): for each band, one worker
//	            gathers the band's columns of the batch from the data set
//	            and computes the partial product x[:, band]·W1[band, :] for
//	            the whole batch, from its own packed copy of those rows
//	            of W1 (the same worker updates them, below: W1 never moves
//	            between cores); min(S, In/128) bands, 2 for MNIST at
//	            batch 128
//	            — barrier —
//	shards      each shard copies its rows of x and ε, adds the bands'
//	            partial products of its rows (in band order), the bias and
//	            the activation, and runs forward and backward; with the
//	            decoder's output layer (the loss's input) in bands too, in
//	            three segments, each its own phase and barrier:
//	              head  up to the output layer's input h
//	              (band phase: each band's partial logits h[:, band]·W[band, :])
//	              loss  the logits (partial sums, bias), the loss, its gradient dl
//	              (band phase: each band's columns of dh = dl·W[band, :]ᵀ)
//	              back  the rest of the backward pass;
//	            up to min(GOMAXPROCS, S) goroutines claim shards
//	            (the caller and a standing crew, crew.go, whose members
//	            poll for the next phase, so none waits for a thread to wake);
//	            kernels.Share tells the kernels to use GOMAXPROCS/workers
//	            goroutines each (one on two cores: no hand-offs at all).
//	            The packed weights the shards read: one copy for all,
//	            or a copy per worker, which a worker brings up to date
//	            before its first shard (the rows other workers updated),
//	            with or without evictions; the stepper measures which is
//	            fastest (see below)
//	            — barrier —
//	loss        the shards' terms added in shard order (scalars, the caller)
//	update      the parameters in fixed chunks of 16,384 elements; per chunk
//	            the shards' gradients are added in shard order
//	            (kernels.AddTo; with Adam the last shard's is added inside
//	            the optimizer's pass, kernels.AdamStepSum, same bits, the sum
//	            never written) and the optimizer updates the chunk while it
//	            is in L2, then refreshes the packed copy of its rows that
//	            the worker writes (a weight's chunks are whole rows, 8 at a
//	            time; a banded layer's rows go to their band's worker, which
//	            computes their gradient (the first layer's from the inputs
//	            it gathered) and refreshes the band's packed copies); each
//	            worker first takes
//	            its share of the chunks (in
//	            parameter order, or with copies per worker its band: the
//	            same part of every parameter), then whatever is left
//	            — barrier —  (global-norm clipping: sum, barrier, update)
//
// The packed copies exist because the shards share the weights: left to
// Sgemm, each shard read W in place (x·W) or transposed it into a buffer
// of its own (dz·Wᵀ), and on two cores those reads of lines the other
// core had just written by the update made the shard's large products 20–
// 45% slower than on one core. Reading one contiguous copy, refreshed by
// the update while the rows are in cache, cut that to about 10%, and the
// transposition is done once per step instead of once per shard. The
// arithmetic is Sgemm's (the same kernels over the same k-blocks), so the
// weights are bit-identical with or without the copies.
//
// How the workers should share the copies depends on where the host puts
// the vCPUs, and the host moves them while a process runs. A core writing
// a line another core has read waits for that copy to be invalidated: on
// the 2-core EPYC VM with the vCPUs far apart (a 460–500 ns ping-pong),
// 176–207 µs to write 1.3 MB the other core had read, 13 µs for lines no
// other core held, 45 µs to read 1.3 MB the other core had just written.
// With one copy for all, every update rewrites lines both shards read;
// with a copy per worker (prepack.go) each worker writes only its own and
// reads the other workers' updated rows (the cheap direction), at the
// price of packing every row twice. Evicting what another core writes next
// (kernels.Evict: the parameter rows a worker caught up, a shard's buffers
// the other worker's update read) saves the writer the invalidation and
// costs the flush. A fourth mode keeps per-worker copies of the
// transposed weights only and lets x·W read W in place (half the catching
// up). With the vCPUs close (a 110–150 ns ping-pong) the one copy is
// fastest, the rest being pure cost. So the stepper's copyMode runs a few
// steps of another mode every 64 and keeps whichever of the four gave the
// shortest steps (a step's work is the same from step to step); measured
// in one run each way: with the vCPUs close, one copy 1.66–1.80 ms a step
// against 1.87–2.12 for copies per worker and 1.91–2.11 with evictions;
// far apart, a copy each about 9% faster than one; at a 305 ns
// ping-pong, one copy 1.86–1.97 ms, the fourth mode 1.92–2.10, a copy
// each 2.08–2.28, with evictions 2.22–2.61. The mode never changes a
// result.
//
// Each shard's loss is its own mean (recon + w·KL)/b; with equal shards
// the batch's gradient is their sum times 1/S, which the optimizer takes as
// its gradient scale (exact for S a power of two), and unequal shards are
// weighted by b/B while summing. The weights are therefore not
// bit-identical to the unsharded step's (before issue 17, one net per
// batch and products split across the cores): a weight's gradient is now a
// sum over shards of sums over rows. They are bit-identical for every
// GOMAXPROCS and after a resume, which is what the tests pin.
//
// # Scaling beyond two cores
//
// Per step, whatever the core count P: two barriers (three with clipping,
// one more for an MLP's first layer in bands, two more again for its
// output layer: five for the MNIST model),
// no goroutine start (the crew's P−1 members are started
// once), no lock, and no barrier inside a shard while S ≥ P. Work per
// core, with N parameters, of which N_d in the dense weights whose
// gradients the update computes (wgrad.go; 627,200 of N = 652,824 for the
// MNIST model), and F the multiply-adds of one example's forward and
// backward pass in the shards, without those weight gradients and the
// banded layers' products (for the MNIST model 24,000 forward, 24,000
// for the input gradients, 24,000 for the other weight gradients; its
// banded layers take 313,600 per example for each of the first layer's
// forward pass, the output layer's and its input gradient):
//
//	shards   ⌈S/P⌉ shards of B/S rows: ⌈S/P⌉·(B/S)·F multiply-adds
//	update   N/P elements: B·N_d/P multiply-adds of weight gradient (every
//	         shard's rows, per chunk of rows, in cache), N/P optimizer
//	         updates, (S−1)·(N−N_d)/P adds for the other gradients, and
//	         about 7·4·N/P bytes of memory traffic (parameters and two
//	         moments read and written, the packed copies written)
//	banded   ⌈bands/P⌉ bands of B·(In/bands)·Out multiply-adds each (a
//	layers   banded layer's forward pass; the output layer's input gradient
//	         the same again), with bands = min(S, In/128); the shards read
//	         the other bands' partial products of their rows (B/S·Out
//	         floats per band), and a band's worker reads every shard's
//	         input of the layer and dl, instead of W1 and W4 moving
//	catch-up each of the W = min(P, S) shard workers packs the (W−1)/W of
//	         the packed weights N_p the others updated, reading them from
//	         the others' caches: (W−1)·N_p/W copies per core, the same on
//	         every core because each worker updates its band, the same
//	         share of every parameter; W copies of N_p floats in memory
//
// For the MNIST model:
//
//	cores   batch 128 (S = 2)                         batch 1024 (S = 16)
//	  2     1 shard (64 rows) per core                8 shards (512 rows) per core
//	  4     1 shard on each of 2 goroutines, its      4 shards (256 rows) per core
//	        products split 2 ways: 2 barriers per
//	        product again (18 per shard)
//	  8     as 4, products split 4 ways               2 shards (128 rows) per core
//	 16     as 4, products split 8 ways               1 shard (64 rows) per core
//	update  N/P elements per core; 128·N_d/P          N/P elements; 1024·N_d/P
//	        multiply-adds (38% of the step's)         multiply-adds, x and dz of
//	                                                  16 shards read per chunk
//
// A batch of 128 has two shards, so cores beyond two only help inside a
// shard's products (32 rows per shard would give four, at the price of
// less efficient products on two cores); the update, cut into chunks of
// whole rows, uses every core at any P. With S ≥ P the design scales
// linearly in compute; its limits are ⌈S/P⌉ rounding (S = 16 on 12 cores
// runs two rounds on 4 of them) and the data the cores share: every shard
// worker needs every weight the others updated (the catch-up above, a
// read of (W−1)/W of the packed weights from other cores' caches, which
// grows towards all of them as W grows, while each core's share of the
// arithmetic shrinks as 1/W), and every chunk of the update reads all
// shards' x and dz (16 shards: 16·B/S rows, a few MB, read once per chunk
// of rows from the other cores' caches). For the MNIST model the banded
// layers hold 627,200 of the 652,824 parameters, which stay put; N_p is
// now copies of the middle layers' weights (24,000 values, under 0.2 MB
// with the transposed ones), so the catching up no longer limits
// the scaling; what moves is activations, per band phase B/S·Out floats
// per shard and band (64 × 784 or 64 × 400 each way on two cores), which
// grows with the batch, not with the core count. The limits left are the
// barriers (five a step, each waiting for the slowest core) and the band
// count: batch 128 gives two bands a layer, so on 4 or more cores the
// band phases run on two of them; at batch 1024 (S = 16) the first layer
// has 6 bands and the output layer 3, and the shard phases 16 shards.

// # Figures
//
// Measured on shared 2-core development machines, the PyTorch example's
// model (784-400-20, ReLU, Bernoulli, Adam, batch 128). Until the fourth
// session a Xeon at 2.5 GHz with AVX-512; from the fifth an AMD EPYC
// (Zen 5) VM, 48 KB L1D and 1 MB L2 per vCPU. Other work loads the hosts,
// so figures are given side by side, as ratios within one run.
//
// Seventh session of 2026-12-02, on the same kind of EPYC VM: the first
// layer, then the decoder's output layer, in bands (bands.go). Where the
// host puts the two vCPUs now shows in a ping-pong between them (two
// pinned threads bouncing a cache line): about 85–170 ns round trip when
// they share a CCD, 410–470 ns when they do not; it changed every few
// minutes. Pinned arithmetic scales 1.90–2.14× either way; training does
// not. The protocol (5 alternating rounds, 400 steps) with the vCPUs
// close, for the final code: GOMAXPROCS=1 54,135 54,743 53,640 54,969
// 55,034 and GOMAXPROCS=2 96,394 101,679 104,725 96,795 104,408
// samples/s, 1.86×; with the first layer alone in bands, three runs:
// 1.85×, 1.93×, 1.86× (P=1 49,085 56,472 54,069 54,104 56,127, P=2
// 94,649 73,547 100,634 105,725 106,545, one round far apart); the code
// before the bands gave 1.47× and 1.57× at the session's start
// (placement not recorded) and 1.81× with the vCPUs close in four rounds
// of five. With the vCPUs far apart, 1,000-step runs at GOMAXPROCS=2,
// pairs alternating between builds, every run at 389–455 ns: the first
// layer in bands against none (6 pairs), medians 73.8k and 67.7k
// samples/s; both layers against the first alone (10 pairs), 81.1k
// [69.5–90.2k] against 71.4k [59.0–88.1k], out of one core's 52–56k:
// about 1.5× where it was 1.3×; the protocol with the final code, four
// rounds of five far apart: GOMAXPROCS=1 53,235 54,651 51,505 57,492
// 50,733, GOMAXPROCS=2 87,638 91,264 89,977 91,223 89,554, 1.69×. What crosses the cores there is now
// activations only (the partial products, each band's inputs and output
// gradients), and five barriers a step each wait for the slower core.
// Per phase (1,500 steps, vCPUs close, two runs each way):
//
//	                     GOMAXPROCS=1           GOMAXPROCS=2
//	phase               µs/step               µs/step   busy µs    idle
//	draw ε               11.5–12.1             11.6–11.9            50%
//	first layer         223.1–225.4           115.6–118.3  221      4–7%
//	shards (fwd+bwd)    389.9–401.5           223.7–234.5  413–429  8–9%
//	output layer        712.0–725.0           377.0–393.3  733–748  3–5%
//	sum + optimizer     941.0–964.6           489.7–494.3  942–965  2–4%
//	total              2277.4–2328.6         1233.3–1236.6
//
// The cores' busy time at GOMAXPROCS=2 equals one core's total: what is
// left between 1.85× and 2× is the waiting at the five barriers and the
// serial draw of ε. go run ./bench scaling -rounds 5 (4-epoch trainings in
// fresh processes): GOMAXPROCS=1 54,239, GOMAXPROCS=2 92,303 samples/s,
// 1.70× (one round of five at 68k), against an arithmetic ceiling of
// 1.99× in the same rounds; a later run, which also printed each round's
// placement (round trips 102, 117, 96, 139, 909 ns): 49,132 and 95,662,
// 1.95×, ceiling 1.95×. go run ./bench train -rounds 3 -epochs 10
// -torch-threads 1,2: vaec 85,392 [64,700 85,392 89,695] samples/s,
// PyTorch on one thread 30,358 (two threads 6,622), 2.81×, validation
// ELBO −123.07 against −123.19 (the first layer alone in bands: 3.47×).
// The conv VAE has no dense layer on its input or output, so no bands:
// its step (40 steps, 5 rounds) GOMAXPROCS=1 4,729 4,675 4,730 4,502
// 4,709, GOMAXPROCS=2 6,635 8,833 7,984 8,481 7,446, 1.70× (a later
// run, 6 rounds: 4,968 and 8,831 medians, 1.78×); its training 3.05×
// PyTorch's best (2 epochs, 3 rounds).
//
// Sixth session of 2026-12-02, on the same kind of EPYC VM: the first
// layer's products skip the zero pixels (see above). One core's step, per
// phase (600 steps, four runs each way, in µs): the shards' Dense ops
// 433–484 against 485–499 before, the whole step (two of the runs)
// 3,252 and 3,624 against 3,338 and 3,418 (the host's noise is as large
// as the gain); the weight-
// gradient chunk alone is 1.6× faster (kernels' BenchmarkSgemmZeroA). The
// protocol gave GOMAXPROCS=1 37,933 (37,387 39,863 37,933 39,061 30,746)
// and GOMAXPROCS=2 62,441 (62,725 62,441 65,357 59,319 53,445), 1.65×;
// the conv step 1.71× in one run and 1.39× in another. A CPU profile
// of 2,000 steps (GOMAXPROCS=1 6.54 s of CPU, 2 cores 7.95 s) spreads the
// second core's extra 1.4 s over Adam (+0.17 s), the transposing packers
// (+0.16), the loss gradient's copy into lines the other core's update had
// read (+0.12), evictions (+0.11), the micro-kernels (+0.17) and the
// panel copies (+0.09): the cost of the lines that cross between the
// vCPUs every step, with no single part to remove. Two single-threaded
// processes doing nothing but arithmetic reached 98 + 98 GFLOP/s at one
// moment (each alone 184–188) and 186 + 181 a minute later. How much
// keeping every weight on one core could give at most, measured by letting
// the workers skip catching up (stale copies, wrong results, timing
// only; a copy per worker, 800 steps at GOMAXPROCS=2, three pairs): steps of
// 1,785–1,872 µs against 1,973–2,419, so about 1.75× over one core: a
// model-parallel redesign of the large layers would not reach 1.8× on
// this VM by itself either. `go run ./bench scaling` puts every training
// figure beside the cores' arithmetic ceiling in the same round (1.94×
// when training scaled 1.49×).
//
// Fifth session of 2026-12-02, on the EPYC. One core is faster here (the
// micro-kernel reaches 194 GFLOP/s from L1, a 256×784×400 product 197 on
// one thread, against about 150 and 124 on the Xeon), and two scale worse:
// the vCPUs are mostly far apart (a ping-pong round trip of 460–500 ns;
// 110–150 ns at times, when the host puts them close), and they are not
// equal. The 256×784×400 product on one thread,
// pinned: vCPU 0 191.5 and 191.7 GFLOP/s, vCPU 1 164.6 and 167.7; two
// processes at once, one per vCPU: 188.3 + 179.1, 192.7 + 182.7, and
// 190.4 + 140.7. Pure arithmetic split over the two vCPUs thus gains
// 1.73–1.96 times one core. At the session's start the step ran at
// GOMAXPROCS=1 40,140 (38,529 40,579 39,860 43,722 40,140) and at
// GOMAXPROCS=2 64,341 (64,934 64,341 61,588 64,036 66,256) samples/s,
// 1.60×; per phase (800 steps) the two cores spent 1,885 µs of CPU on the
// shards (1,757 on one core) and 1,901 on the update (1,397), and the CPU
// profile put most of the difference in the repacking (PackRows 0.26 s
// per 2,000 steps on one core, 1.30 s on two). The cause, measured in C
// with two pinned threads over 1.3 MB: writing lines the other core had
// read took 176–207 µs, 13 µs otherwise; reading lines the other core had
// just written took 45 µs; evicting them after reading (CLFLUSHOPT,
// 40 µs) brought the writer's pass to 32–39 µs. Hence a packed copy per
// worker, caught up before each shard, the update's chunks in one band per
// worker, and kernels.Evict (see the data-parallel step above). An
// in-process A/B (steppers alternating in one process, 150-step runs, 9
// rounds) showed +2.6%, +2.2% and +3.0% at GOMAXPROCS=2 for the copies,
// evicting parameters and evicting shard buffers; separate processes did
// not confirm it run for run: the host's placement of the vCPUs, which
// changes within minutes, moved every build by more (rounds at 56–85k
// samples/s for the same binary), and ranked the builds differently from
// one placement to the next: one copy for all at 81–85k where a copy each
// with evictions ran at 71–72k, and the other way round, 58–64k against
// 61–69k, when the vCPUs were far apart. Hence copyMode, which measures.
// Per phase with a copy per worker (no evictions, 1,500 steps):
//
//	                     GOMAXPROCS=1           GOMAXPROCS=2
//	phase               µs/step  busy µs      µs/step  busy µs   idle
//	draw ε                 15.6     15.6         31.5     31.5   50.0%
//	shards (fwd+bwd)     1700.5   1698.8       1094.0   2129.5    2.7%
//	sum + optimizer      1359.5   1357.2        815.7   1608.6    1.4%
//	total                3075.6                1941.2
//
// There each core spends about 130 µs a step catching up the other
// core's rows. Also measured this session: BenchmarkTrainStepConv128 (30
// steps, 3 rounds) GOMAXPROCS=1 3,132 · 3,191 · 3,796, GOMAXPROCS=2
// 5,518 · 5,676 · 5,700 samples/s, 1.78×.
//
// Fourth session of 2026-12-02 (README has the full table). The 8×48
// micro-kernel now prefetches, over each tile of a product with a packed
// B, its share of the panel the product reads next (kernels' packed.go):
// the shards' products had waited on the first tile of every panel, whose
// lines the other core had just rewritten and whose 4 KB pages stop the
// hardware prefetchers. In-process, alternating, 6 rounds each:
// GOMAXPROCS=2 42.0k samples/s with, 39.2k without (+7%); GOMAXPROCS=1
// 23.5k against 23.1k. A shard's ops now take about 10% longer on two
// cores than on one (shard 1's per-op total: 1,387–1,519 µs a run on one
// core, 1,576–1,675 on two, in the runs below). The optimizers flush moments that would become subnormal (a
// dead unit's decay under a zero gradient, from about step 800 on), which
// had made Adam up to 5× slower on the first layer in long runs.
// Per phase (VAEC_OPPROFILE=1 -v, 800 steps, load 0.8–1.4):
//
//	                     GOMAXPROCS=1           GOMAXPROCS=2
//	phase               µs/step  share        µs/step  share   idle
//	draw ε                 28.8   0.5%           35.1   1.0%   50.0%
//	shards (fwd+bwd)     2843.6  51.6%         1725.1  51.4%    4.7%
//	sum + optimizer      2643.7  47.9%         1595.1  47.5%    4.1%
//	total                5516.1                3355.4
//
//	BenchmarkTrainStep128, 5 alternating rounds, four runs of the protocol:
//	GOMAXPROCS=1  22,622 24,906 20,854 21,586 19,006  median 21,586
//	GOMAXPROCS=2  41,358 39,105 38,607 36,425 36,996  median 38,607  1.79×
//	GOMAXPROCS=1  20,994 25,807 22,239 20,129 24,636  median 22,239
//	GOMAXPROCS=2  44,523 42,318 38,026 45,936 41,744  median 42,318  1.90×
//	GOMAXPROCS=1  22,804 28,380 22,618 21,350 26,153  median 22,804
//	GOMAXPROCS=2  44,228 43,734 41,682 41,088 40,327  median 41,682  1.83×
//	GOMAXPROCS=1  25,811 28,225 23,006 21,764 21,672  median 23,006
//	GOMAXPROCS=2  32,692 44,190 40,179 41,353 40,489  median 40,489  1.76×
//	(1.74× for the code before this session, in a run at its start)
//
// What is left between 2× and that, on two cores: the phases' ends wait
// for the slower core (idle above: the host takes a core away for
// milliseconds at a time, about 13% of the VM's CPU time while measuring,
// /proc/stat's steal), ε is drawn on one core, and the update's writes are
// dearer: each packed line it rewrites is in the other core's cache from
// the shards phase, and both cores stream parameters and moments at once
// (in the CPU profile, 800 steps: Adam 0.70–0.75 ms a step on two cores
// against 0.53 on one, the repacking 0.37–0.46 against 0.21). Earlier
// figures, for the record:
//
// Third session of 2026-12-02, with the packed weights and the weight
// gradients in the update, per phase (800 steps, load 1.4–1.7):
//
//	                     GOMAXPROCS=1           GOMAXPROCS=2
//	phase               µs/step  share        µs/step  share   idle
//	draw ε                 26.3   0.5%           27.8   0.8%   50.0%
//	shards (fwd+bwd)     2831.5  51.8%         1812.1  53.3%    6.9%
//	sum + optimizer      2610.8  47.7%         1558.5  45.9%    2.9%
//
//	BenchmarkTrainStep128, 5 alternating rounds (load 1.5–1.9):
//	GOMAXPROCS=1   19,277  20,229  17,675  22,354  24,785 samples/s
//	GOMAXPROCS=2   33,653  32,755  34,399  31,827  34,786 samples/s
//	ratio of medians 1.66× (1.79× in another run)
//
// The data-parallel step (issue 17), measured while the machine was shared
// (load 2.5–7: another session training conv VAEs beside it), so none of
// these is a quiet-machine figure. go test -c ./graph, then
// GOMAXPROCS=p graph.test -test.bench='TrainStep128$' -test.benchtime=400x,
// five alternating rounds (load 2.95 → 2.50):
//
//	GOMAXPROCS=1   17,825  17,814  18,681  20,361  19,480 samples/s   median 18,681
//	GOMAXPROCS=2   23,902  27,307  19,696  27,396  27,734 samples/s   median 27,307
//	ratio of medians 1.46× (issue 17 asks ≥ 1.8× on a quiet machine); the
//	same protocol at load 1.83 → 1.59:
//	GOMAXPROCS=1   21,057  19,805  18,504  19,266  19,923 samples/s   median 19,805
//	GOMAXPROCS=2   31,071  31,661  29,313  27,513  18,653 samples/s   median 29,313
//	ratio 1.48× (1.60× best against median). Two
//	earlier runs of the same protocol at load 7.6–4.6 gave 0.93× (18,495 vs
//	17,271) and 0.90× (19,303 vs 17,462): at load 4, user CPU time equals
//	wall time at GOMAXPROCS=2 (7.37 s vs 7.61 s for 1,000 steps), so one
//	core's worth is all the process gets, and the CPU per step is that of
//	one core (7.15 s), so nothing is lost to hand-offs or oversubscription.
//
//	BenchmarkTrainStepConv128 (the conv VAE of mnist-conv.yaml), 20 steps (load 3.3, 3.1)
//	GOMAXPROCS=1   1,438  1,494 samples/s      GOMAXPROCS=2   2,620  2,673 samples/s: 1.82×, 1.79×
//
// Per phase (VAEC_OPPROFILE=1 -v, 600 steps, load 2.46; idle is the share
// of the cores' time in the phase spent waiting, which includes time the
// goroutines were descheduled for other processes):
//
//	                     GOMAXPROCS=1           GOMAXPROCS=2
//	phase               µs/step  share        µs/step  share   idle
//	draw ε                 36.6   0.5%           42.8   0.8%   50.0%
//	shards (fwd+bwd)     6709.8  85.9%         4544.3  83.5%   23.5%
//	sum + optimizer      1067.4  13.7%          857.7  15.8%   34.1%
//	shard's ops: MatMul 50%, Dense 35%, NegELBO 10%, the rest under 2% each
//	(3,311 µs per shard of 64 rows on one core, 3,400 with two)
//
//	go run ./bench train -rounds 3 -epochs 10 -torch-threads 1         (load 7.5 → 5.4)
//	  vaec             11,819  16,852  24,129 samples/s   val ELBO −123.05
//	  PyTorch 1 thread  4,630   9,635   6,804 samples/s   val ELBO −123.22
//	  median ratio 2.48× (issue 17 asks ≥ 2.5×); PyTorch on 2 threads, tried
//	  at load 6–10, did 284–453 samples/s
//
// Before it (one net per batch, products split across the cores; now
// BenchmarkTrainStep128Unsharded):
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
// Validation ELBO after 10 epochs (TestMNISTTenEpochs): −123.05 nats, with
// the data-parallel step as before it (the weights differ in their last
// bits; epochs 8 and 9 moved by 0.01 and 0.02 nats). The conv VAE
// (TestMNISTConvTenEpochs, sharded): −118.12, −115.85, −122.95 for seeds 1,
// 2, 3, median −118.12 against PyTorch's −117.85.
//
// Time per op kind of one unsharded fused step (VAEC_OPPROFILE=1 with the
// benchmark, load 1.5):
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
