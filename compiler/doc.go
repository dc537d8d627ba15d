// Package compiler reads a VAE spec (YAML), checks it, and lowers it to the
// IR: the one description of the model that every later phase consumes.
//
// # Pipeline
//
//	spec.yaml ──compiler──▶ *Model (IR) ──┬── graph ──▶ Gorgonia graph ── train ──▶ checkpoint
//	                                       └── export ─▶ encoder.onnx, decoder.onnx ◀── weights
//	                                                          │
//	                                       runtime (onnx-go) ─┘ runs them; verify compares with graph
//
// The phases and the package that does each:
//
//	phase            package   in → out
//	parse            compiler  bytes → yaml.Node tree with line:col on every key and value
//	check            compiler  tree → normalised settings (defaults filled), or an ErrorList
//	lower            compiler  settings → *Model: layers with inferred shapes, parameter table, hash
//	verify           compiler  *Model → nil, or every broken invariant (after Compile and ReadModel)
//	build graph      graph     *Model → Gorgonia expression graph, ELBO, trainer
//	export           export    *Model + weights → ONNX protobuf
//	run / compare    runtime   ONNX file → outputs, compared with the graph's
//
// graph and export never see YAML and never import each other; the IR is
// plain data that round-trips through JSON (WriteModel, ReadModel), which is
// how `vaec build` hands it to `vaec train` and `vaec export`.
//
// # Errors
//
// The checker does not stop at the first problem: it records it, puts a
// default in place of the bad value and carries on, then returns every
// problem as an ErrorList sorted by position, one line each:
//
//	spec.yaml:12:5: encoder[1].activation: unknown activation "rleu" (did you mean "relu"?)
//
// Unknown keys get a did-you-mean, or the section where they belong.
// Data files must exist, and the compiler reads their headers (IDX, gzip
// IDX, NPY, CSV; never the data) to check that records have as many values
// as the input shape, that start/limit lie inside the file, that labels
// match the records, and that a Bernoulli model sees inputs in [0, 1]
// (8-bit data needs scale: 1/255).
// No input makes the compiler panic; FuzzCompile checks that.
//
// # Spec reference (version 1)
//
// Keys marked * are required; everything else has the default shown.
//
//	vaec: 1*                       spec version; another version is refused, naming the supported ones
//	name: mnist-vae*               letters, digits, '.', '_', '-'; stored in the exported models
//	input:
//	  shape: [784]*                [D], or [C, H, W] for images (dense layers flatten)
//	  scale: 1                     x = raw*scale + offset; a number or a fraction string "1/255"
//	  offset: 0
//	latent: 20*                    latent dimension; smaller than the input size
//	encoder:*                      hidden layers, input → heads; the mu and logvar heads are implied
//	  - type: dense                dense (the default), conv2d, conv_transpose2d, upsample, batch_norm
//	    units: 400*                dense only
//	    activation: relu           linear, relu, tanh, sigmoid, elu, leaky_relu, softplus (batch_norm: linear)
//	    slope: 0.01                leaky_relu only
//	    alpha: 1                   elu only
//	    reshape: [64, 7, 7]        dense only: the output as an image [C, H, W] (C·H·W = units)
//	  - type: conv2d               filters*, kernel* (k or [kh, kw]), stride 1, padding 0
//	  - type: conv_transpose2d     the same, and output_padding 0 (less than the stride)
//	  - type: upsample             factor* (f or [fh, fw]; nearest)
//	  - type: batch_norm           momentum 0.1, epsilon 1e-5
//	decoder:*                      hidden layers, z → output; the output layer is implied, unless the
//	  - units: 400                 last layer is a conv2d or conv_transpose2d giving the input's shape
//	likelihood: bernoulli          bernoulli | gaussian (sigma 1), or a mapping:
//	                               {type: gaussian, sigma: 0.1}             fixed sigma
//	                               {type: gaussian, variance: learned}      per-dimension log-variance
//	                               mean_activation: linear | sigmoid        gaussian mean (default linear)
//	objective:
//	  type: elbo                   elbo | iwae (importance-weighted bound of `samples` draws; beta 1, no warm-up)
//	  beta: 1                      KL weight (β-VAE when > 1)
//	  samples: 1                   Monte Carlo samples of z per input
//	  kl_warmup_epochs: 0          KL weight rises linearly from 0 to beta; at most train.epochs
//	prior: normal                  normal | {type: vamp, components: K} (VampPrior, K learned pseudo-inputs)
//	condition:                     a conditional VAE (absent: unconditional)
//	  classes: 10*                 labels 0..classes-1 from every source's labels file; y one-hot
//	train:
//	  optimizer: adam              adam | adagrad | sgd | rmsprop, or a mapping with type and:
//	                               adam: learning_rate 1e-3, beta1 0.9, beta2 0.999, epsilon 1e-8
//	                               adagrad: learning_rate 0.01, epsilon 1e-10
//	                               sgd: learning_rate 0.01, momentum 0
//	                               rmsprop: learning_rate 0.01, rho 0.99, epsilon 1e-8
//	  batch_size: 128
//	  epochs: 10
//	  seed: 1
//	  weight_decay: 0              L2 added to the gradient
//	  clip_norm: 0                 global gradient-norm clip (0: off)
//	  validation_split: 0.1        when data.validation is absent; giving both is an error
//	  patience: 0                  early stopping (0: off); needs validation data
//	data:*
//	  train: path*                 a path, or a mapping:
//	    path: file*                relative to the spec file; must exist
//	    format: idx.gz             idx | idx.gz | npy | csv; inferred from .gz, .idx/-ubyte, .npy, .csv
//	    start: 0                   records [start, start+limit) are used
//	    limit: 0                   0: to the end
//	    labels: file               optional labels (plots only), same range
//	    label_format: idx.gz       inferred like format
//	    header: false              csv only
//	  validation: path             same forms; must not overlap train's records of the same file
//	export:
//	  opset: 17                    13..17
//
// `vaec schema` prints the same as a JSON Schema for editors.
//
// # The IR
//
// Encoder hidden layers are named encoder.0, encoder.1, …, the heads
// encoder.mu and encoder.logvar; decoder layers decoder.0, …, and the
// output layer decoder.out. A layer's parameters are <layer>.weight [In, Out]
// and <layer>.bias [Out], initialised fan_in_uniform like PyTorch's
// nn.Linear. A learned Gaussian variance adds decoder.logvar [D], zeros.
// Model.Params lists them in that order. Data paths are absolute in the IR;
// the spec hash uses them as written, so moving the repository keeps it.
package compiler
