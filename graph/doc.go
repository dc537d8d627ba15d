// Package graph lowers a compiled VAE (the compiler's IR, *compiler.Model) to
// a Gorgonia expression graph and trains it.
//
// The lowering is the single place where the model's arithmetic is written
// down for Go: the trainer, [Encode], [Decode] and [Evaluate] all evaluate
// graphs built by the same functions, so that the ONNX export (a sibling
// lowering of the same IR) can be checked against what was trained.
//
// Shapes and names follow the IR: a dense layer is y = act(x·W + b) with
// W [In, Out] and b [Out]; each Gorgonia node carries its parameter's IR name.
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
package graph
