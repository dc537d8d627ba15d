package vae

// Loading ONNX files: vaec's own (their metadata says everything) and files
// other tools wrote (PyTorch, Keras through tf2onnx, ...), which say only
// what their graph declares. For those the inputs and outputs are matched to
// roles by name, the sizes come from the declared shapes (or from one probe
// call at batch 1 where a shape is symbolic), and what no file records (the
// input scaling, whether an output holds probabilities, logits or a mean)
// comes from ONNXOptions, with defaults stated in Model.Notes.

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/runtime"
)

// OutputKind says what a decoder output holds.
type OutputKind int

const (
	Unstated OutputKind = iota // the metadata decides; probabilities for files without it
	Probs                      // Bernoulli probabilities in [0, 1]
	Logits                     // Bernoulli logits; pictures show their sigmoid
	Mean                       // a Gaussian mean; evaluated with unit variance unless the metadata says otherwise
)

var outputKindNames = [...]string{Unstated: "", Probs: "probs", Logits: "logits", Mean: "mean"}

func (k OutputKind) String() string {
	if k < 0 || int(k) >= len(outputKindNames) {
		return fmt.Sprintf("OutputKind(%d)", int(k))
	}
	return outputKindNames[k]
}

// ParseOutputKind reads "probs", "logits" or "mean" ("" is Unstated).
func ParseOutputKind(s string) (OutputKind, error) {
	for k, name := range outputKindNames {
		if s == name {
			return OutputKind(k), nil
		}
	}
	return Unstated, fmt.Errorf("decoder output kind %q: want probs, logits or mean", s)
}

// ONNXOptions says how to run ONNX files that carry no vaec metadata, and
// what to feed the inputs a model has besides its data or latent input.
//
// For vaec's own files the metadata decides: a role name, Kind or Scale
// that contradicts it is an error (naming both), one that agrees is
// accepted, so that scripts may state them for every file alike.
type ONNXOptions struct {
	// Names of the inputs and outputs by role; "" picks by name: the
	// conventional name (x; mu and logvar; z; probs, logits or mean) if
	// the file has it, else the only candidate.
	Input  string // the encoder's data input
	Mu     string // the encoder's posterior mean output
	Logvar string // the encoder's posterior log-variance output
	Latent string // the decoder's latent input
	Output string // the decoder output that holds x's distribution

	// Kind is what the decoder output holds (Unstated: probabilities,
	// unless the output is named logits or mean).
	Kind OutputKind
	// Scale maps raw data to what the encoder takes: x = raw*Scale
	// (0: 1, which the Notes state).
	Scale float64

	// Labels feed a conditional model's label input: the one input of
	// shape [N, C] besides the data or latent input, as one-hot rows. Row
	// i of every call sequence gets Labels[i % len(Labels)]: one label for
	// all rows, one per row, or a cycle.
	Labels []int
	// Feeds give other inputs their values by name, row-major. For an
	// input with a batch dimension the values are rows of the input's
	// declared row shape that cycle over the rows like Labels; otherwise
	// they are the whole tensor. Int64 inputs take integral values.
	Feeds map[string][]float32
}

// Role names what an input or output is for; a NameError carries it so that
// a command line can name the option that sets it.
type Role string

const (
	RoleInput  Role = "input"  // ONNXOptions.Input
	RoleMu     Role = "mu"     // ONNXOptions.Mu
	RoleLogvar Role = "logvar" // ONNXOptions.Logvar
	RoleLatent Role = "latent" // ONNXOptions.Latent
	RoleOutput Role = "output" // ONNXOptions.Output
	RoleLabel  Role = "label"  // ONNXOptions.Labels
	RoleFeed   Role = "feed"   // ONNXOptions.Feeds
)

// A NameError says that an input or output for a role is missing,
// ambiguous or has no value; it lists what the file actually has.
type NameError struct {
	File   string
	Role   Role
	Msg    string
	Inputs bool             // the candidates are the file's inputs (else its outputs)
	Have   []runtime.IOInfo // the file's inputs or outputs
}

func (e *NameError) Error() string {
	what := "outputs"
	if e.Inputs {
		what = "inputs"
	}
	return fmt.Sprintf("%s: %s (the file's %s: %s)", e.File, e.Msg, what, listIO(e.Have))
}

// listIO formats inputs or outputs as the messages show them.
func listIO(ios []runtime.IOInfo) string {
	if len(ios) == 0 {
		return "none"
	}
	s := make([]string, len(ios))
	for i, io := range ios {
		s[i] = io.String()
	}
	return strings.Join(s, ", ")
}

// encoderIO is how an encoder file's inputs and outputs map to roles.
type encoderIO struct {
	x          string
	xShape     []int // per example
	mu, logvar string
	extra      []*condition
}

// decoderIO is how a decoder file's inputs and outputs map to roles.
type decoderIO struct {
	z      string
	out    string
	kind   OutputKind
	logvar string // a learned Gaussian variance's output; "" when there is none
	extra  []*condition
}

// condition is an input besides the data or latent one, with its values.
type condition struct {
	info  runtime.IOInfo
	batch bool  // the first dimension is symbolic: values are rows that cycle
	shape []int // the declared shape after the batch dimension, or all of it
	size  int   // values per row (batch) or in all
	data  []float32
	rows  int
}

// tensor returns the condition's values for n rows starting at row first.
func (c *condition) tensor(n, first int) runtime.Tensor {
	var shape []int
	var vals []float32
	if c.batch {
		shape = append([]int{n}, c.shape...)
		vals = make([]float32, n*c.size)
		for i := 0; i < n; i++ {
			r := (first + i) % c.rows
			copy(vals[i*c.size:(i+1)*c.size], c.data[r*c.size:(r+1)*c.size])
		}
	} else {
		shape, vals = c.shape, c.data
	}
	if c.info.Type == runtime.Int64 {
		ints := make([]int64, len(vals))
		for i, v := range vals {
			ints[i] = int64(v)
		}
		return runtime.Tensor{Shape: shape, Int64: ints}
	}
	return runtime.Tensor{Shape: shape, Data: vals}
}

// FromONNX loads the given ONNX files ("" = not needed; at least one is
// required) in vaec's runtime and works out what inference needs: latent
// size, likelihood, input shape and scaling. Files written by vaec say it
// in their metadata, and two of them must come from one spec; for other
// files it follows from their declared inputs and outputs and from opts
// (see ONNXOptions), and Notes say what was assumed. An encoder and a
// decoder must agree on the latent size and the size of an example.
func FromONNX(encPath, decPath string, opts ONNXOptions) (*Model, error) {
	if encPath == "" && decPath == "" {
		return nil, errors.New("vae: no ONNX file given")
	}
	if opts.Scale < 0 || opts.Scale != opts.Scale {
		return nil, fmt.Errorf("input scale %v must be positive", opts.Scale)
	}
	v := &Model{}
	var names []string
	var encMeta, decMeta *export.FileMeta
	var err error
	if encPath != "" {
		if v.enc, encMeta, err = loadFile(encPath); err != nil {
			return nil, err
		}
		names = append(names, encPath)
	}
	if decPath != "" {
		if v.dec, decMeta, err = loadFile(decPath); err != nil {
			return nil, err
		}
		names = append(names, decPath)
	}
	v.Origin = strings.Join(names, " + ")
	if encMeta != nil && decMeta != nil && encMeta.SpecHash != decMeta.SpecHash {
		return nil, fmt.Errorf("%s and %s come from different specs (%s %q and %q)", encPath, decPath, export.MetaSpecHash, encMeta.SpecHash, decMeta.SpecHash)
	}
	meta := encMeta
	if meta == nil {
		meta = decMeta
	}
	if meta != nil {
		v.Latent, v.Input, v.SpecHash, v.Epochs = meta.Latent, meta.Input, meta.SpecHash, meta.Epochs
		v.raw = encMeta != nil && encMeta.Preprocess
		v.Threshold, v.FalsePositiveRate = meta.Threshold, meta.FalsePositiveRate
		v.Likelihood = evaluate.Likelihood{Kind: meta.Likelihood.Kind, Sigma: meta.Likelihood.Sigma}
		// A VampPrior without its components: sampling and evaluation
		// refuse it rather than draw from N(0, I).
		v.Prior = meta.Prior
		if err := v.bindPriorFile(decPath, encPath); err != nil {
			return nil, err
		}
		if opts.Scale != 0 && opts.Scale != meta.Input.Scale {
			return nil, fmt.Errorf("input scale %.6g contradicts the metadata of the vaec file (%s = %.6g): vaec's metadata decides, leave the scale out", opts.Scale, export.MetaInputScale, meta.Input.Scale)
		}
	}

	used := map[string]bool{} // feed names some file consumed
	if v.enc != nil {
		if v.encIO, err = planEncoder(encPath, v.enc, encMeta, &opts, used); err != nil {
			return nil, err
		}
	}
	if v.dec != nil {
		if v.decIO, err = planDecoder(decPath, v.dec, decMeta, &opts, used); err != nil {
			return nil, err
		}
	}
	if err := checkConditions(v, encPath, decPath, &opts, used); err != nil {
		return nil, err
	}
	if err := v.settleForeign(encPath, decPath, encMeta, decMeta, &opts); err != nil {
		return nil, err
	}
	return v, nil
}

// loadFile loads one file and its vaec metadata, nil when it has none.
func loadFile(path string) (*runtime.Model, *export.FileMeta, error) {
	rm, err := runtime.LoadFile(path)
	if err != nil {
		return nil, nil, err
	}
	md := rm.Metadata()
	vaecs := false
	for k := range md {
		vaecs = vaecs || strings.HasPrefix(k, "vaec.")
	}
	if !vaecs {
		return rm, nil, nil
	}
	// A file that claims to be vaec's but whose metadata does not read is
	// an error, not a foreign file: its graph takes scaled input that the
	// metadata was to describe.
	fm, err := export.ReadMetadata(md)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return rm, fm, nil
}

// pick returns the name of the input or output for a role: the one opts
// names (it must exist), for vaec's files the name vaec writes, else the
// first of the conventional names the file has, else the only candidate
// that remains.
func pick(file string, role Role, inputs bool, have []runtime.IOInfo, given, vaecName string, conventional []string, taken map[string]bool) (string, error) {
	kind := "output"
	if inputs {
		kind = "input"
	}
	fail := func(format string, a ...any) (string, error) {
		return "", &NameError{File: file, Role: role, Inputs: inputs, Have: have, Msg: fmt.Sprintf(format, a...)}
	}
	has := func(name string) bool {
		return slices.ContainsFunc(have, func(io runtime.IOInfo) bool { return io.Name == name })
	}
	if given != "" {
		if !has(given) {
			return fail("no %s named %q", kind, given)
		}
		if vaecName != "" && given != vaecName {
			return fail("%s %q was given as the %s, but the file's vaec metadata makes %q the %s", kind, given, role, vaecName, role)
		}
		return given, nil
	}
	if vaecName != "" {
		if !has(vaecName) {
			return fail("vaec's file has no %s %q", kind, vaecName)
		}
		return vaecName, nil
	}
	for _, c := range conventional {
		if has(c) && !taken[c] {
			return c, nil
		}
	}
	var left []string
	for _, io := range have {
		if !taken[io.Name] {
			left = append(left, io.Name)
		}
	}
	if len(left) == 1 {
		return left[0], nil
	}
	return fail("cannot tell which %s is the %s: name it", kind, role)
}

// batchShape checks that a declared shape has a symbolic batch dimension
// followed by fixed ones and returns those.
func batchShape(io runtime.IOInfo) ([]int, bool) {
	if len(io.Shape) < 2 || io.Shape[0].Param == "" && io.Shape[0].Value >= 0 {
		return nil, false
	}
	var s []int
	for _, d := range io.Shape[1:] {
		if d.Param != "" || d.Value <= 0 {
			return nil, false
		}
		s = append(s, int(d.Value))
	}
	return s, true
}

func findIO(ios []runtime.IOInfo, name string) runtime.IOInfo {
	for _, io := range ios {
		if io.Name == name {
			return io
		}
	}
	return runtime.IOInfo{}
}

// planEncoder maps an encoder file's inputs and outputs to roles.
func planEncoder(path string, m *runtime.Model, meta *export.FileMeta, opts *ONNXOptions, used map[string]bool) (*encoderIO, error) {
	e := &encoderIO{}
	var vx, vmu, vlv string
	if meta != nil {
		vx, vmu, vlv = ir.InputX, ir.OutputMu, ir.OutputLogvar
	}
	fed := feedNames(opts)
	var err error
	if e.x, err = pick(path, RoleInput, true, m.Inputs(), opts.Input, vx, []string{ir.InputX, "input"}, fed); err != nil {
		return nil, err
	}
	if e.mu, err = pick(path, RoleMu, false, m.Outputs(), opts.Mu, vmu, []string{ir.OutputMu, "mean", "z_mean", "loc"}, nil); err != nil {
		return nil, err
	}
	if e.logvar, err = pick(path, RoleLogvar, false, m.Outputs(), opts.Logvar, vlv, []string{ir.OutputLogvar, "log_var", "z_log_var"}, map[string]bool{e.mu: true}); err != nil {
		return nil, err
	}
	if e.mu == e.logvar {
		return nil, &NameError{File: path, Role: RoleLogvar, Have: m.Outputs(), Msg: fmt.Sprintf("output %q cannot be both the mean and the log-variance", e.mu)}
	}
	xi := findIO(m.Inputs(), e.x)
	if xi.Type != runtime.Float32 {
		return nil, fmt.Errorf("%s: data input %v is not float32", path, xi)
	}
	if meta != nil {
		e.xShape = meta.Input.Shape
	} else if s, ok := batchShape(xi); ok {
		e.xShape = s
	} else {
		return nil, fmt.Errorf("%s: data input %v: vaec needs a batch dimension first (symbolic, for example N) and fixed sizes after it", path, xi)
	}
	if e.extra, err = conditions(path, m, e.x, opts, used); err != nil {
		return nil, err
	}
	return e, nil
}

// planDecoder maps a decoder file's inputs and outputs to roles.
func planDecoder(path string, m *runtime.Model, meta *export.FileMeta, opts *ONNXOptions, used map[string]bool) (*decoderIO, error) {
	d := &decoderIO{}
	var vz, vout string
	if meta != nil {
		vz, vout, d.kind = ir.InputZ, ir.OutputMean, Mean
		switch meta.Likelihood.Kind {
		case ir.Bernoulli:
			vout, d.kind = ir.OutputProbs, Probs
		case ir.GaussianLearned:
			d.logvar = ir.OutputLogvar
		}
		if opts.Kind != Unstated && opts.Kind != d.kind {
			return nil, fmt.Errorf("%s: decoder output kind %s contradicts the file's vaec metadata (%s %s: output %q holds %s)", path, opts.Kind, export.MetaLikelihood, meta.Likelihood.Kind, vout, d.kind)
		}
	}
	fed := feedNames(opts)
	var err error
	if d.z, err = pick(path, RoleLatent, true, m.Inputs(), opts.Latent, vz, []string{ir.InputZ, "latent"}, fed); err != nil {
		return nil, err
	}
	if d.out, err = pick(path, RoleOutput, false, m.Outputs(), opts.Output, vout, []string{ir.OutputProbs, "logits", ir.OutputMean, "recon", "x_hat"}, nil); err != nil {
		return nil, err
	}
	if meta == nil {
		d.kind = opts.Kind
		if d.kind == Unstated {
			d.kind = Probs
			switch d.out {
			case "logits":
				d.kind = Logits
			case ir.OutputMean:
				d.kind = Mean
			}
		}
	}
	zi := findIO(m.Inputs(), d.z)
	if s, ok := batchShape(zi); !ok || len(s) != 1 || zi.Type != runtime.Float32 {
		return nil, fmt.Errorf("%s: latent input %v: vaec needs float32 [N, latent] with a symbolic batch N", path, zi)
	}
	if d.extra, err = conditions(path, m, d.z, opts, used); err != nil {
		return nil, err
	}
	return d, nil
}

func feedNames(opts *ONNXOptions) map[string]bool {
	fed := map[string]bool{}
	for k := range opts.Feeds {
		fed[k] = true
	}
	return fed
}

// conditions gives every input of m besides main its values: a feed by
// name, else the labels when it is the file's one label-shaped input.
func conditions(path string, m *runtime.Model, main string, opts *ONNXOptions, used map[string]bool) ([]*condition, error) {
	var conds []*condition
	var labelCands []*condition
	for _, in := range m.Inputs() {
		if in.Name == main {
			continue
		}
		c := &condition{info: in}
		if s, ok := batchShape(in); ok {
			c.batch, c.shape = true, s
		} else {
			for _, d := range in.Shape {
				if d.Param != "" || d.Value < 0 {
					return nil, fmt.Errorf("%s: input %v has a symbolic dimension other than the first: vaec cannot tell its size", path, in)
				}
				c.shape = append(c.shape, int(d.Value))
			}
		}
		c.size = ir.Shape(c.shape).Size()
		if vals, ok := opts.Feeds[in.Name]; ok {
			used[in.Name] = true
			if err := c.set(path, vals); err != nil {
				return nil, err
			}
		} else if c.batch && len(c.shape) == 1 && in.Type == runtime.Float32 {
			labelCands = append(labelCands, c)
		}
		conds = append(conds, c)
	}
	if len(opts.Labels) > 0 && len(labelCands) > 0 {
		if len(labelCands) > 1 {
			return nil, &NameError{File: path, Role: RoleLabel, Inputs: true, Have: m.Inputs(), Msg: "more than one input could take the label: feed them by name instead"}
		}
		c := labelCands[0]
		classes := c.shape[0]
		c.rows = len(opts.Labels)
		c.data = make([]float32, c.rows*classes)
		for i, k := range opts.Labels {
			if k < 0 || k >= classes {
				return nil, &NameError{File: path, Role: RoleLabel, Inputs: true, Have: m.Inputs(), Msg: fmt.Sprintf("label %d is out of range: input %v takes one-hot labels 0 to %d", k, c.info, classes-1)}
			}
			c.data[i*classes+k] = 1
		}
		used[labelUse] = true
	}
	for _, c := range conds {
		if c.data == nil {
			msg := fmt.Sprintf("input %v has no value", c.info)
			role := RoleFeed
			if slices.Contains(labelCands, c) {
				msg, role = fmt.Sprintf("input %v has no value: it looks like a one-hot label over %d classes", c.info, c.shape[0]), RoleLabel
			}
			return nil, &NameError{File: path, Role: role, Inputs: true, Have: m.Inputs(), Msg: msg}
		}
	}
	return conds, nil
}

// labelUse marks, among the used feed names, that some file took the labels.
const labelUse = "\x00labels"

// set gives c the values of a feed.
func (c *condition) set(path string, vals []float32) error {
	if c.info.Type == runtime.Int64 {
		for i, v := range vals {
			if v != float32(int64(v)) {
				return fmt.Errorf("%s: feed for int64 input %v: value %d (%g) is not an integer", path, c.info, i, v)
			}
		}
	}
	switch {
	case c.batch && (len(vals) == 0 || len(vals)%c.size != 0):
		return fmt.Errorf("%s: feed for input %v: %d values are not rows of %d", path, c.info, len(vals), c.size)
	case !c.batch && len(vals) != c.size:
		return fmt.Errorf("%s: feed for input %v: %d values, the input takes %d", path, c.info, len(vals), c.size)
	}
	c.data = vals
	c.rows = len(vals) / max(c.size, 1)
	return nil
}

// checkConditions refuses labels and feeds that no loaded file takes.
func checkConditions(v *Model, encPath, decPath string, opts *ONNXOptions, used map[string]bool) error {
	var ins []runtime.IOInfo
	var files []string
	for _, f := range []struct {
		path string
		m    *runtime.Model
	}{{encPath, v.enc}, {decPath, v.dec}} {
		if f.m != nil {
			ins = append(ins, f.m.Inputs()...)
			files = append(files, f.path)
		}
	}
	file := strings.Join(files, ", ")
	if len(opts.Labels) > 0 && !used[labelUse] {
		return &NameError{File: file, Role: RoleLabel, Inputs: true, Have: ins, Msg: "no input takes a label (a conditional model has one of shape [N, classes] besides its data or latent input)"}
	}
	var unused []string
	for name := range opts.Feeds {
		if !used[name] {
			unused = append(unused, fmt.Sprintf("%q", name))
		}
	}
	if len(unused) > 0 {
		slices.Sort(unused)
		return &NameError{File: file, Role: RoleFeed, Inputs: true, Have: ins, Msg: "no input to feed named " + strings.Join(unused, ", ") + " (the data or latent input cannot be fed)"}
	}
	return nil
}

// settleForeign fills in, for files without metadata, the latent size, the
// input and the likelihood, and checks that the halves agree. A probe call
// at batch 1 measures what the declared shapes leave symbolic, and shows at
// load, not at the first use, that the file runs with the values given.
func (v *Model) settleForeign(encPath, decPath string, encMeta, decMeta *export.FileMeta, opts *ONNXOptions) error {
	foreign := v.enc != nil && encMeta == nil || v.dec != nil && decMeta == nil
	if !foreign {
		return nil
	}
	encLatent, decLatent, decSize := 0, 0, 0
	if v.enc != nil {
		x := make([]float32, ir.Shape(v.encIO.xShape).Size())
		mu, logvar, err := v.encodeAt(x, 1, 0)
		if err != nil {
			return fmt.Errorf("%s: a trial run at batch 1: %w", encPath, err)
		}
		if len(mu) != len(logvar) {
			return fmt.Errorf("%s: the mean %q has %d values per row, the log-variance %q %d", encPath, v.encIO.mu, len(mu), v.encIO.logvar, len(logvar))
		}
		encLatent = len(mu)
	}
	var outShape []int
	if v.dec != nil {
		decLatent = int(findIO(v.dec.Inputs(), v.decIO.z).Shape[1].Value)
		out, err := v.decodeAt(make([]float32, decLatent), 1, 0, decLatent)
		if err != nil {
			return fmt.Errorf("%s: a trial run at batch 1: %w", decPath, err)
		}
		t := out[v.decIO.out]
		decSize, outShape = len(t.Data), t.Shape[1:]
	}
	var notes []string
	if encMeta == nil && v.enc != nil {
		notes = append(notes, fmt.Sprintf("%s has no vaec metadata: data input %q of shape %v, outputs %q (mean) and %q (log-variance), latent size %d",
			filepath.Base(encPath), v.encIO.x, ir.Shape(v.encIO.xShape), v.encIO.mu, v.encIO.logvar, encLatent))
	}
	if decMeta == nil && v.dec != nil {
		notes = append(notes, fmt.Sprintf("%s has no vaec metadata: latent input %q [N, %d], output %q read as %s",
			filepath.Base(decPath), v.decIO.z, decLatent, v.decIO.out, kindPhrase[v.decIO.kind]))
	}
	switch {
	case encMeta != nil:
		v.Latent = encMeta.Latent
	case decMeta != nil:
		v.Latent = decMeta.Latent
	case v.enc != nil:
		v.Latent = encLatent
	default:
		v.Latent = decLatent
	}
	if v.enc != nil && encLatent != v.Latent || v.dec != nil && decLatent != v.Latent {
		return fmt.Errorf("%s and %s disagree on the latent size: the encoder gives %d values, the decoder takes %d", encPath, decPath, encLatent, decLatent)
	}
	meta := encMeta
	if meta == nil {
		meta = decMeta
	}
	if meta == nil {
		shape := outShape
		if v.enc != nil {
			shape = v.encIO.xShape
		}
		scale := opts.Scale
		if scale == 0 {
			scale = 1
		}
		v.Input = ir.Input{Shape: slices.Clone(shape), Size: ir.Shape(shape).Size(), Scale: scale}
		// Only an encoder reads data; a decoder alone makes no use of it.
		if v.enc != nil {
			how := "as given"
			if opts.Scale == 0 {
				how = "the default; no file records it"
			}
			notes = append(notes, fmt.Sprintf("input scaling x = raw*%.6g (%s)", scale, how))
		}
		v.Likelihood = evaluate.Likelihood{Kind: ir.Bernoulli}
		if v.dec != nil && v.decIO.kind == Mean {
			v.Likelihood = evaluate.Likelihood{Kind: ir.GaussianFixed, Sigma: 1}
		}
	} else if v.dec != nil && decMeta == nil {
		// A vaec encoder with another tool's decoder: the likelihood
		// follows the decoder.
		v.Likelihood = evaluate.Likelihood{Kind: ir.Bernoulli}
		if v.decIO.kind == Mean {
			v.Likelihood = evaluate.Likelihood{Kind: ir.GaussianFixed, Sigma: 1}
		}
	}
	if v.dec != nil && decSize != v.Input.Size {
		return fmt.Errorf("%s: decoder output %q has %d values per example, the input %v has %d", decPath, v.decIO.out, decSize, v.Input.Shape, v.Input.Size)
	}
	v.Notes = notes
	return nil
}

var kindPhrase = map[OutputKind]string{
	Probs:  "Bernoulli probabilities",
	Logits: "Bernoulli logits",
	Mean:   "a Gaussian mean (unit variance)",
}

// PerRow reports whether labels or feeds differ from row to row, so that
// a caller whose rows are not the data's (importance sampling repeats each
// example) knows the values would be misaligned.
func (v *Model) PerRow() bool {
	if len(v.labels) > 1 {
		return true
	}
	for _, io := range []*[]*condition{v.encExtra(), v.decExtra()} {
		for _, c := range *io {
			if c.batch && c.rows > 1 {
				return true
			}
		}
	}
	return false
}

func (v *Model) encExtra() *[]*condition {
	if v.encIO == nil {
		return new([]*condition)
	}
	return &v.encIO.extra
}

func (v *Model) decExtra() *[]*condition {
	if v.decIO == nil {
		return new([]*condition)
	}
	return &v.decIO.extra
}

// encodeAt runs the ONNX encoder on rows first to first+n-1.
func (v *Model) encodeAt(x []float32, n, first int) (mu, logvar []float32, err error) {
	e := v.encIO
	if v.raw {
		x = toRaw(v.Input, x)
	}
	in := map[string]runtime.Tensor{e.x: {Shape: append([]int{n}, e.xShape...), Data: x}}
	for _, c := range e.extra {
		in[c.info.Name] = c.tensor(n, first)
	}
	out, err := v.enc.Run(in)
	if err != nil {
		return nil, nil, fmt.Errorf("encoder: %w", err)
	}
	return out[e.mu].Data, out[e.logvar].Data, nil
}

// decodeAt runs the ONNX decoder on rows first to first+n-1.
func (v *Model) decodeAt(z []float32, n, first, latent int) (map[string]runtime.Tensor, error) {
	d := v.decIO
	in := map[string]runtime.Tensor{d.z: {Shape: []int{n, latent}, Data: z}}
	for _, c := range d.extra {
		in[c.info.Name] = c.tensor(n, first)
	}
	out, err := v.dec.Run(in)
	if err != nil {
		return nil, fmt.Errorf("decoder: %w", err)
	}
	return out, nil
}

// toRaw maps model input back to raw data, x_d = raw_d·a_d + b_d inverted
// in float64: the encoder's own preprocessing then gives x back to within
// float32 rounding.
func toRaw(in ir.Input, x []float32) []float32 {
	a, b := in.Affine()
	raw := make([]float32, len(x))
	for i, v := range x {
		d := i % len(a)
		raw[i] = float32((float64(v) - b[d]) / a[d])
	}
	return raw
}
