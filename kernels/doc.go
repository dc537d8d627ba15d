// Package kernels holds vaec's dense float32 compute kernels: a general
// matrix multiply (Sgemm), the fused element-wise helpers that a dense
// layer needs around it (AddBiasAct, ActGrad, ColSum), and the Adam update
// (AdamStep).
//
// A dense layer y = act(x·W + b) with x [batch, in], W [in, out] maps onto
// them as:
//
//	forward:
//	  Sgemm(false, false, batch, out, in, 1, x, in, W, out, 0, y, out)  // y = x·W
//	  AddBiasAct(y, batch, out, b, act, alpha)                          // y = act(y + b)
//	backward, from dy:
//	  ActGrad(dz, dy, y, act, alpha)                                    // dz = dy·act'
//	  Sgemm(true, false, in, out, batch, 1, x, in, dz, out, 0, dW, out) // dW = xᵀ·dz
//	  ColSum(db, dz, batch, out)                                        // db = Σ rows of dz
//	  Sgemm(false, true, batch, in, out, 1, dz, out, W, out, 0, dx, in) // dx = dz·Wᵀ
//
// Everything here is pure Go plus Go assembly; no C library is needed. On
// amd64 the matrix multiply uses an AVX-512 micro-kernel when the CPU has
// AVX-512F, an AVX2+FMA one when it has AVX2 and FMA, and a portable Go
// kernel otherwise. All kernels implement the same semantics.
//
// # Sgemm layout
//
// Sgemm follows BLAS conventions for row-major storage: element (i, j) of a
// matrix with leading dimension ld lives at index i*ld+j. It computes
//
//	C = alpha·op(A)·op(B) + beta·C
//
// where op(X) is X or Xᵀ. When beta is zero, C is only written, never read,
// so C may hold garbage (even NaN) on entry. When alpha is zero or k is zero,
// A and B are not read.
//
// The implementation packs panels of op(A) and op(B) into contiguous,
// zero-padded buffers (so the transposed cases cost the same as the plain
// one, apart from packing) and runs a register-tiled micro-kernel over them.
// A row-major B feeding few row tiles (m <= 512) is read in place instead.
// Buffers come from sync.Pools, so steady-state calls do not allocate.
// Large products are split across GOMAXPROCS goroutines of a persistent
// worker pool; single-row products (m == 1, a matrix-vector shape) take a
// separate single-threaded path tuned for latency.
//
// # Inference: PackedB
//
// An inference runtime multiplies by the same weights on every call, so
// NewPackedB packs a layer's weight matrix once, and PackedB.MulBiasAct
// computes C = act(A·W + bias) from it:
//
//   - a single row (batch 1, a matrix-vector product, bound by reading W)
//     streams W from a strip layout ([k][64] blocks, contiguous), split
//     across the cores at fixed strip boundaries so that each core reads
//     its own part of W, which then stays in that core's L2 between calls;
//   - more rows use the blocked path over pre-packed panels (no per-call
//     packing of B); each k-block of A is packed once per goroutine and
//     every B panel is run over all row tiles while it is in L1;
//   - the bias and activation are applied to each finished block of C
//     while it is in cache, with the same code as AddBiasAct;
//   - k steps that are zero in all rows of a row tile (the blank pixels
//     of images: 55% of MNIST's within 8 images) are skipped, each
//     k-block of a tile compacted to its other steps for an indexed
//     micro-kernel (sparse.go). Skipping ±0·b for finite b is exact, so
//     the bits are the dense kernel's; a W with an infinity or NaN never
//     skips, and a W whose products find nothing to skip looks again only
//     every 16th product. A 256×784·784×400 product on one core: 1.70×
//     the rows/s with image-like zeros (BenchmarkSparse), the same on
//     dense rows. A trainer's packed weights (PackRows) skip the same
//     way, and SgemmZeroA does it for a product whose B is new each call
//     (the first layer's weight gradient xᵀ·dz: 1.6× on a 40×64·64×400
//     chunk with 60% of the steps zero, BenchmarkSgemmZeroA).
//
// Its parallel parts go to a second worker pool whose workers spin for
// 200 µs after each task before parking, and the caller spins while the
// parts it handed out run: a batch-1 layer takes about 10 µs, less than
// waking a parked thread. Sgemm keeps the parking pool, so that training,
// which runs goroutines of its own between products, never competes with
// a spinning worker.
//
// # Determinism
//
// For fixed inputs, shapes and CPU kind, every result is bit-identical from
// run to run, and also independent of GOMAXPROCS: work is split only along
// rows and columns of C, at fixed tile boundaries, never along k, so each
// element of C is computed by the same sequence of floating-point operations
// whichever goroutine computes it. The blocking of k is a function of k
// alone. Different instruction sets (AVX-512, AVX2, portable Go) may round
// differently; the tests bound those differences against a float64
// reference.
//
// PackedB.MulBiasAct has the same guarantee for fixed inputs and row count;
// a single row rounds differently from a row of a larger batch (its
// columns sum even and odd k separately).
//
// The element-wise helpers run 16 lanes at a time with AVX-512 where the CPU
// has it (ActGrad except for Softplus, ColSum and AdamStep then round
// exactly as their Go loops do; the transcendental functions are float32
// approximations within a few ulps of float64 math on either path).
//
// Sgemm panics, like BLAS, when its arguments are inconsistent (negative
// sizes, leading dimensions too small, slices too short); those are
// programming errors. Callers whose shapes come from untrusted input (a
// model file) should call CheckSgemm first, which reports the same
// conditions as an error.
package kernels
