package compiler

import (
	"errors"
	"fmt"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// The checker reads the YAML tree section by section into an ir.Model with
// defaults filled, recording every problem and carrying on with a default in
// place of a bad value, so one run reports all of a spec's errors.

// layerSpec is a hidden layer as the spec states it, defaults filled.
type layerSpec struct {
	op     ir.Op
	units  int
	act    ir.Activation
	actSet bool // the spec wrote the activation (at actPos)
	actPos Pos
	alpha  float64

	filters                                 int
	kernel, stride, padding, outPad, factor []int
	momentum, epsilon                       float64
	reshape                                 ir.Shape // dense: the output's shape, nil to keep [units]
	reshapePos                              Pos
	pos                                     Pos
}

// attrs are the IR attributes of the layer's op.
func (l *layerSpec) attrs() ir.Attrs {
	switch l.op {
	case ir.Conv2D, ir.ConvTranspose2D:
		a := ir.Attrs{Filters: l.filters, Kernel: l.kernel, Stride: l.stride, Padding: l.padding, Activation: l.act, Alpha: l.alpha}
		if l.op == ir.ConvTranspose2D {
			a.OutputPadding = l.outPad
		}
		return a
	case ir.Upsample:
		return ir.Attrs{Factor: l.factor}
	case ir.BatchNorm:
		return ir.Attrs{Momentum: l.momentum, Epsilon: l.epsilon, Activation: l.act, Alpha: l.alpha}
	}
	return ir.Attrs{Units: l.units, Activation: l.act, Alpha: l.alpha}
}

// checker holds the state of one compilation.
type checker struct {
	decoder
	dir string // spec directory, against which data paths resolve
	m   ir.Model

	enc, dec []layerSpec
	layersOK bool          // both layer lists read without errors: their shapes can be checked
	meanAct  ir.Activation // gaussian mean activation
	// likelihoodOK is false when the likelihood key had errors, so checks
	// that depend on it stay quiet.
	likelihoodOK bool
	inputOK      bool // likewise for the input section
	// Nodes kept for checks across sections, nil when the key is absent.
	latentNode, likelihoodNode, decoderNode *yaml.Node
	splitKey, patienceKey, warmupKey        *yaml.Node
	normalizeNode, anomalyNode              *yaml.Node
	inputNode, trainPathNode                *yaml.Node
	// bernoulliReported: the header check already refused the source's
	// range for a Bernoulli likelihood (8-bit data without 1/255).
	bernoulliReported bool
	// warnings are problems that do not stop the build.
	warnings                ErrorList
	batchKey, validationKey *yaml.Node
	splitSet                bool
	// Data paths as written, for the hash (stable when the repo moves).
	written map[string]string

	// selNode is the columns or exclude list of the source being checked,
	// where a problem with the selection is reported.
	selNode *yaml.Node
}

var nameRE = regexp.MustCompile(namePattern)

// checkSpec checks the document root and fills c.m.
func (c *checker) checkSpec(root *yaml.Node) {
	c.setDefaults()
	root = resolve(root)
	// The version decides what every other key means: when it is one this
	// compiler does not know, say only that.
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			if k, v := resolve(root.Content[i]), resolve(root.Content[i+1]); k.Value == "vaec" && v.ShortTag() == "!!int" {
				var ver int64
				if v.Decode(&ver) == nil && !slices.Contains(ir.SpecVersions, int(ver)) {
					c.errorf(v, "vaec", "supported: "+joinInts(ir.SpecVersions), "unsupported spec version %d", ver)
					return
				}
			}
		}
	}
	top, ok := c.mapping(root, "", topSection)
	if !ok {
		return
	}
	c.require(top, topSection.required...)
	if v := top.get("vaec"); v != nil {
		if ver, ok := c.integer(v, "vaec", 1, 1); ok {
			c.m.Version = int(ver)
		}
	}
	if v := top.get("name"); v != nil {
		if s, ok := c.str(v, "name"); ok {
			switch {
			case len(s) > 64:
				c.errorf(v, "name", "", "name is longer than 64 characters")
			case !nameRE.MatchString(s):
				c.errorf(v, "name", "use letters, digits, '.', '_' and '-'", "%q is not a valid name", clip(s))
			default:
				c.m.Name = s
			}
		}
	}
	if v := top.get("input"); v != nil {
		c.inputNode = top.keyNode("input")
		c.checkInput(v)
	}
	if v := top.get("latent"); v != nil {
		c.latentNode = v
		if n, ok := c.integer(v, "latent", 1, ir.MaxUnits); ok {
			c.m.Latent = int(n)
		}
	}
	before := len(c.errs)
	if v := top.get("encoder"); v != nil {
		c.enc = c.checkLayers(v, "encoder")
	}
	if v := top.get("decoder"); v != nil {
		c.decoderNode = top.keyNode("decoder")
		c.dec = c.checkLayers(v, "decoder")
	}
	c.layersOK = len(c.errs) == before
	if v := top.get("likelihood"); v != nil {
		c.likelihoodNode = top.keyNode("likelihood")
		c.checkLikelihood(v)
	}
	if v := top.get("objective"); v != nil {
		c.checkObjective(v)
	}
	if v := top.get("prior"); v != nil {
		c.checkPrior(v)
	}
	if v := top.get("train"); v != nil {
		c.checkTrain(v)
	}
	if v := top.get("data"); v != nil {
		c.checkData(v)
	}
	if v := top.get("condition"); v != nil {
		c.checkCondition(v)
	}
	if v := top.get("anomaly"); v != nil {
		if m, ok := c.mapping(v, "anomaly", anomalySection); ok {
			c.require(m, anomalySection.required...)
			if v := m.get("false_positive_rate"); v != nil {
				if f, ok := c.number(v, "anomaly.false_positive_rate", interval{0, 0.5, false, false}); ok {
					c.m.Anomaly.FalsePositiveRate = f
					c.anomalyNode = v
				}
			}
		}
	}
	if v := top.get("export"); v != nil {
		if m, ok := c.mapping(v, "export", exportSection); ok {
			if v := m.get("opset"); v != nil {
				if n, ok := c.integer(v, "export.opset", ir.MinOpset, ir.MaxOpset); ok {
					c.m.Export.Opset = int(n)
				}
			}
		}
	}
	c.crossCheck()
	c.checkShapes()
}

// checkShapes infers every layer's shape by lowering the spec to the IR and
// reports what does not fit at the layer, when the input, the latent size
// and the layers have been read without errors (otherwise the shapes would
// follow from placeholders).
func (c *checker) checkShapes() {
	if !c.inputOK || !c.layersOK || c.m.Latent < 1 || len(c.m.Input.Shape) == 0 || !c.likelihoodOK {
		return
	}
	c.lowerWith(func(e *Error) { c.errs = append(c.errs, e) })
}

// setDefaults fills every value a spec may leave out.
func (c *checker) setDefaults() {
	c.likelihoodOK = true
	c.m.Input.Scale = 1
	c.m.Likelihood = ir.Likelihood{Kind: ir.Bernoulli}
	c.m.Objective = ir.Objective{Beta: 1, Samples: 1}
	c.m.Train = ir.Train{
		Optimizer: optimizerDefaults("adam"),
		BatchSize: DefaultBatchSize,
		Epochs:    DefaultEpochs,
		Seed:      DefaultSeed,
	}
	c.m.Export.Opset = DefaultOpset
}

// optimizerDefaults returns kind with its usual hyper-parameters (those of
// PyTorch's implementations, so that results compare).
func optimizerDefaults(name string) ir.Optimizer {
	kind, _ := ir.ParseOptimizer(name) // callers pass a name from optimizerKinds
	switch kind {
	case ir.Adam:
		return ir.Optimizer{Kind: ir.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8}
	case ir.Adagrad:
		return ir.Optimizer{Kind: ir.Adagrad, LearningRate: 0.01, Epsilon: 1e-10}
	case ir.SGD:
		return ir.Optimizer{Kind: ir.SGD, LearningRate: 0.01}
	case ir.RMSProp:
		return ir.Optimizer{Kind: ir.RMSProp, LearningRate: 0.01, Rho: 0.99, Epsilon: 1e-8}
	}
	return ir.Optimizer{}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

func (c *checker) checkInput(n *yaml.Node) {
	before := len(c.errs)
	defer func() { c.inputOK = len(c.errs) == before }()
	m, ok := c.mapping(n, "input", inputSection)
	if !ok {
		return
	}
	c.require(m, inputSection.required...)
	if v := m.get("shape"); v != nil {
		c.checkShape(v, "input.shape")
	}
	if v := m.get("scale"); v != nil {
		c.m.Input.Scale = c.checkScale(v, "input.scale")
	}
	if v := m.get("offset"); v != nil {
		if f, ok := c.number(v, "input.offset", scaleRange); ok {
			c.m.Input.Offset = f
		}
	}
	if v := m.get("normalize"); v != nil {
		if k, ok := c.enum(v, "input.normalize", "normalization", normalizeKinds); ok {
			c.m.Input.Normalize, _ = ir.ParseNormalize(k)
			c.normalizeNode = v
		}
	}
}

func (c *checker) checkShape(n *yaml.Node, path string) {
	items, ok := c.sequence(n, path)
	if !ok {
		return
	}
	if len(items) != 1 && len(items) != 3 {
		c.errorf(n, path, "use [D] for vectors or [C, H, W] for images", "shape has %d dimensions", len(items))
		return
	}
	shape := make([]int, 0, len(items))
	size := 1
	for i, it := range items {
		d, ok := c.integer(it, indexPath(path, i), 1, ir.MaxInputSize)
		if !ok {
			return
		}
		shape = append(shape, int(d))
		size *= int(d) // both factors ≤ 2^24 and size ≤ 2^24 so far: no overflow
		if size > ir.MaxInputSize {
			c.errorf(n, path, "", "input has more than %d features", ir.MaxInputSize)
			return
		}
	}
	c.m.Input.Shape, c.m.Input.Size = shape, size
}

// fraction matches "1/255" and the like.
var fraction = regexp.MustCompile(fractionPattern)

// checkScale reads a number or a fraction string; the result is finite and
// not zero (a zero scale would erase the data).
func (c *checker) checkScale(n *yaml.Node, path string) float64 {
	n = resolve(n)
	var v float64
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str":
		if !fraction.MatchString(n.Value) {
			c.errorf(n, path, `write a number or a fraction such as "1/255"`, "cannot read %q as a scale", clip(n.Value))
			return 1
		}
		num, den, _ := strings.Cut(n.Value, "/")
		a, err1 := strconv.ParseFloat(strings.TrimSpace(num), 64)
		b, err2 := strconv.ParseFloat(strings.TrimSpace(den), 64)
		if err1 != nil || err2 != nil || b == 0 {
			c.errorf(n, path, `write a number or a fraction such as "1/255"`, "cannot read %q as a scale", clip(n.Value))
			return 1
		}
		v = a / b
	default:
		var ok bool
		if v, ok = c.number(n, path, scaleRange); !ok {
			return 1
		}
	}
	if _, ok := c.checkNumber(n, path, v, scaleRange); !ok {
		return 1
	}
	if v == 0 {
		c.errorf(n, path, "", "scale must not be 0")
		return 1
	}
	return v
}

func (c *checker) checkLayers(n *yaml.Node, path string) []layerSpec {
	items, ok := c.sequence(n, path)
	if !ok {
		return nil
	}
	if len(items) > ir.MaxLayers {
		c.errorf(n, path, "", "%d layers is more than the %d supported", len(items), ir.MaxLayers)
		return nil
	}
	var out []layerSpec
	for i, it := range items {
		if l, ok := c.checkLayer(it, indexPath(path, i)); ok {
			out = append(out, l)
		}
	}
	return out
}

func (c *checker) checkLayer(n *yaml.Node, path string) (layerSpec, bool) {
	l := layerSpec{op: ir.Dense, act: DefaultActivation, pos: c.pos(n)}
	if r := resolve(n); r.Kind == yaml.ScalarNode && r.ShortTag() == "!!int" {
		// A common slip: a list of widths instead of a list of layers.
		c.errorf(r, path, fmt.Sprintf("write \"- units: %s\"", clip(r.Value)), "expected a layer mapping, found %s", describe(r))
		return l, false
	}
	m, ok := c.mapping(n, path, layerSection)
	if !ok {
		return l, false
	}
	good := true
	if v := m.get("type"); v != nil {
		if t, ok := c.enum(v, joinPath(path, "type"), "layer type", layerTypes); ok {
			l.op, _ = ir.ParseOp(t)
		} else {
			return l, false
		}
	}
	keys := layerKeys[l.op]
	c.require(m, keys.required...)
	for _, k := range keys.required {
		good = good && m.has(k)
	}
	for _, f := range layerSection.fields {
		if m.has(f.name) && !slices.Contains(keys.keys, f.name) {
			c.errorf(m.keyNode(f.name), joinPath(path, f.name), l.op.String()+" takes "+strings.Join(keys.keys[1:], ", "),
				"%s does not apply to a %s layer", f.name, l.op)
			good = false
		}
	}
	switch l.op {
	case ir.BatchNorm:
		l.act = ir.Linear
		l.momentum, l.epsilon = DefaultBatchNormMomentum, DefaultBatchNormEpsilon
	case ir.Upsample:
		l.act = ir.Linear
	case ir.Conv2D, ir.ConvTranspose2D:
		l.stride, l.padding, l.outPad = []int{1, 1}, []int{0, 0}, []int{0, 0}
	}
	if v := m.get("units"); v != nil && l.op == ir.Dense {
		if u, ok := c.integer(v, joinPath(path, "units"), 1, ir.MaxUnits); ok {
			l.units = int(u)
		} else {
			good = false
		}
	}
	if v := m.get("filters"); v != nil && slices.Contains(keys.keys, "filters") {
		if f, ok := c.integer(v, joinPath(path, "filters"), 1, ir.MaxUnits); ok {
			l.filters = int(f)
		} else {
			good = false
		}
	}
	for _, p := range []struct {
		key string
		dst *[]int
		lo  int64
	}{{"kernel", &l.kernel, 1}, {"stride", &l.stride, 1}, {"padding", &l.padding, 0}, {"output_padding", &l.outPad, 0}, {"factor", &l.factor, 1}} {
		if v := m.get(p.key); v != nil && slices.Contains(keys.keys, p.key) {
			if pr, ok := c.pair(v, joinPath(path, p.key), p.lo); ok {
				*p.dst = pr
			} else {
				good = false
			}
		}
	}
	if v := m.get("mode"); v != nil && l.op == ir.Upsample {
		if _, ok := c.enum(v, joinPath(path, "mode"), "upsampling mode", []string{"nearest"}); !ok {
			good = false
		}
	}
	if l.op == ir.BatchNorm {
		if v := m.get("momentum"); v != nil {
			if f, ok := c.number(v, joinPath(path, "momentum"), interval{0, 1, false, false}); ok {
				l.momentum = f
			} else {
				good = false
			}
		}
		if v := m.get("epsilon"); v != nil {
			if f, ok := c.number(v, joinPath(path, "epsilon"), epsRange); ok {
				l.epsilon = f
			} else {
				good = false
			}
		}
	}
	if v := m.get("reshape"); v != nil && l.op == ir.Dense {
		l.reshapePos = c.pos(m.keyNode("reshape"))
		if s, ok := c.layerShape(v, joinPath(path, "reshape")); ok {
			l.reshape = s
		} else {
			good = false
		}
	}
	actOK := true
	if v := m.get("activation"); v != nil && slices.Contains(keys.keys, "activation") {
		a, ok := c.enum(v, joinPath(path, "activation"), "activation", activationNames())
		if ok {
			l.act, _ = ir.ParseActivation(a)
			l.actSet, l.actPos = true, c.pos(m.keyNode("activation"))
		}
		actOK = ok
		good = good && ok
	}
	switch l.act {
	case ir.LeakyReLU:
		l.alpha = DefaultLeakySlope
	case ir.ELU:
		l.alpha = DefaultELUAlpha
	}
	// slope belongs to leaky_relu and alpha to elu; either elsewhere is
	// most likely a mistake the user wants to hear about.
	for _, p := range []struct {
		key, otherKey     string
		owner, otherOwner ir.Activation
	}{{"slope", "alpha", ir.LeakyReLU, ir.ELU}, {"alpha", "slope", ir.ELU, ir.LeakyReLU}} {
		v := m.get(p.key)
		if v == nil || !slices.Contains(keys.keys, p.key) {
			continue
		}
		kp := joinPath(path, p.key)
		f, ok := c.number(v, kp, positive)
		switch {
		case !ok:
			good = false
		case !actOK:
			// The activation is already reported.
		case l.act == p.owner:
			l.alpha = f
		default:
			hint := ""
			if l.act == p.otherOwner {
				hint = fmt.Sprintf("use %q for %s", p.otherKey, l.act)
			}
			c.errorf(m.keyNode(p.key), kp, hint, "%s applies only to activation %s, not %s", p.key, p.owner, l.act)
			good = false
		}
	}
	return l, good
}

// pair reads k or [kh, kw], each an integer at least lo.
func (c *checker) pair(n *yaml.Node, path string, lo int64) ([]int, bool) {
	r := resolve(n)
	if r.Kind == yaml.ScalarNode {
		v, ok := c.integer(r, path, lo, ir.MaxInputSize)
		return []int{int(v), int(v)}, ok
	}
	items, ok := c.sequence(n, path)
	if !ok {
		return nil, false
	}
	if len(items) != 2 {
		c.errorf(n, path, "write one number for both, or [h, w]", "has %d values, want 2", len(items))
		return nil, false
	}
	out := make([]int, 2)
	for i, it := range items {
		v, ok := c.integer(it, indexPath(path, i), lo, ir.MaxInputSize)
		if !ok {
			return nil, false
		}
		out[i] = int(v)
	}
	return out, true
}

// layerShape reads a reshape target: [D] or [C, H, W].
func (c *checker) layerShape(n *yaml.Node, path string) (ir.Shape, bool) {
	items, ok := c.sequence(n, path)
	if !ok {
		return nil, false
	}
	if len(items) != 1 && len(items) != 3 {
		c.errorf(n, path, "use [C, H, W] for images or [D] for vectors", "shape has %d dimensions", len(items))
		return nil, false
	}
	var s ir.Shape
	for i, it := range items {
		d, ok := c.integer(it, indexPath(path, i), 1, ir.MaxInputSize)
		if !ok {
			return nil, false
		}
		s = append(s, int(d))
	}
	return s, true
}

func (c *checker) checkLikelihood(n *yaml.Node) {
	before := len(c.errs)
	defer func() { c.likelihoodOK = len(c.errs) == before }()
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		if kind, ok := c.enum(n, "likelihood", "likelihood", likelihoods); ok {
			c.setLikelihood(kind, "fixed", DefaultSigma)
		}
		return
	}
	m, ok := c.mapping(n, "likelihood", likelihoodSection)
	if !ok {
		return
	}
	c.require(m, likelihoodSection.required...)
	kind := ""
	if v := m.get("type"); v != nil {
		kind, _ = c.enum(v, "likelihood.type", "likelihood", likelihoods)
	}
	variance, sigma := "fixed", DefaultSigma
	if v := m.get("variance"); v != nil {
		variance, _ = c.enum(v, "likelihood.variance", "variance", varianceKinds)
	}
	if v := m.get("sigma"); v != nil {
		if f, ok := c.number(v, "likelihood.sigma", positive); ok {
			sigma = f
		}
	}
	meanAct, meanOK := ir.Linear, true
	if v := m.get("mean_activation"); v != nil {
		var a string
		if a, meanOK = c.enum(v, "likelihood.mean_activation", "mean activation", meanActs); meanOK {
			meanAct, _ = ir.ParseActivation(a)
		}
	}
	switch kind {
	case "bernoulli":
		for _, key := range []string{"sigma", "variance", "mean_activation"} {
			if m.has(key) {
				c.errorf(m.keyNode(key), "likelihood."+key, "", "%s applies only to the gaussian likelihood", key)
			}
		}
	case "gaussian":
		if variance == "learned" && m.has("sigma") {
			c.errorf(m.keyNode("sigma"), "likelihood.sigma", "remove sigma, or set variance: fixed",
				"sigma contradicts variance: learned")
		}
	}
	if kind != "" && variance != "" && meanOK {
		c.setLikelihood(kind, variance, sigma)
		if kind == "gaussian" {
			c.meanAct = meanAct
		}
	}
}

func (c *checker) setLikelihood(kind, variance string, sigma float64) {
	switch {
	case kind == "bernoulli":
		c.m.Likelihood = ir.Likelihood{Kind: ir.Bernoulli}
	case variance == "learned":
		c.m.Likelihood = ir.Likelihood{Kind: ir.GaussianLearned}
	default:
		c.m.Likelihood = ir.Likelihood{Kind: ir.GaussianFixed, Sigma: sigma}
	}
}

func (c *checker) checkObjective(n *yaml.Node) {
	m, ok := c.mapping(n, "objective", objectiveSection)
	if !ok {
		return
	}
	if v := m.get("beta"); v != nil {
		if f, ok := c.number(v, "objective.beta", nonNegative); ok {
			c.m.Objective.Beta = f
		}
	}
	if v := m.get("samples"); v != nil {
		if k, ok := c.integer(v, "objective.samples", 1, 1000); ok {
			c.m.Objective.Samples = int(k)
		}
	}
	if v := m.get("kl_warmup_epochs"); v != nil {
		c.warmupKey = m.keyNode("kl_warmup_epochs")
		if k, ok := c.integer(v, "objective.kl_warmup_epochs", 0, 1_000_000); ok {
			c.m.Objective.WarmupEpochs = int(k)
		}
	}
	c.checkObjectiveType(m)
}

func (c *checker) checkTrain(n *yaml.Node) {
	m, ok := c.mapping(n, "train", trainSection)
	if !ok {
		return
	}
	t := &c.m.Train
	if v := m.get("optimizer"); v != nil {
		c.checkOptimizer(v)
	}
	if v := m.get("batch_size"); v != nil {
		c.batchKey = m.keyNode("batch_size")
		if k, ok := c.integer(v, "train.batch_size", 1, 1<<20); ok {
			t.BatchSize = int(k)
		}
	}
	if v := m.get("epochs"); v != nil {
		if k, ok := c.integer(v, "train.epochs", 1, 1_000_000); ok {
			t.Epochs = int(k)
		}
	}
	if v := m.get("seed"); v != nil {
		if k, ok := c.integer(v, "train.seed", 0, 1<<63-1); ok {
			t.Seed = uint64(k)
		}
	}
	if v := m.get("weight_decay"); v != nil {
		if f, ok := c.number(v, "train.weight_decay", nonNegative); ok {
			t.WeightDecay = f
		}
	}
	if v := m.get("clip_norm"); v != nil {
		if f, ok := c.number(v, "train.clip_norm", nonNegative); ok {
			t.ClipNorm = f
		}
	}
	if v := m.get("validation_split"); v != nil {
		c.splitKey, c.splitSet = m.keyNode("validation_split"), true
		if f, ok := c.number(v, "train.validation_split", unitOpen); ok {
			t.ValidationSplit = f
		}
	}
	if v := m.get("patience"); v != nil {
		c.patienceKey = m.keyNode("patience")
		if k, ok := c.integer(v, "train.patience", 0, 1_000_000); ok {
			t.Patience = int(k)
		}
	}
}

// optimizerKeys says which optimizers each hyper-parameter applies to.
var optimizerKeys = map[string][]string{
	"beta1":    {"adam"},
	"beta2":    {"adam"},
	"epsilon":  {"adam", "adagrad", "rmsprop"},
	"momentum": {"sgd"},
	"rho":      {"rmsprop"},
}

func (c *checker) checkOptimizer(n *yaml.Node) {
	const path = "train.optimizer"
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		if kind, ok := c.enum(n, path, "optimizer", optimizerKinds); ok {
			c.m.Train.Optimizer = optimizerDefaults(kind)
		}
		return
	}
	m, ok := c.mapping(n, path, optimizerSection)
	if !ok {
		return
	}
	c.require(m, optimizerSection.required...)
	kind := ""
	if v := m.get("type"); v != nil {
		kind, _ = c.enum(v, path+".type", "optimizer", optimizerKinds)
	}
	o := optimizerDefaults(kind)
	if v := m.get("learning_rate"); v != nil {
		if f, ok := c.number(v, path+".learning_rate", rateRange); ok {
			o.LearningRate = f
		}
	}
	for _, key := range []string{"beta1", "beta2", "epsilon", "momentum", "rho"} {
		v := m.get(key)
		if v == nil {
			continue
		}
		r := unitOpen
		if key == "epsilon" {
			r = epsRange
		}
		f, ok := c.number(v, path+"."+key, r)
		if !ok {
			continue
		}
		if kind != "" && !slices.Contains(optimizerKeys[key], kind) {
			c.errorf(m.keyNode(key), path+"."+key, "", "%s applies only to %s, not %s",
				key, strings.Join(optimizerKeys[key], ", "), kind)
			continue
		}
		switch key {
		case "beta1":
			o.Beta1 = f
		case "beta2":
			o.Beta2 = f
		case "epsilon":
			o.Epsilon = f
		case "momentum":
			o.Momentum = f
		case "rho":
			o.Rho = f
		}
	}
	if kind != "" {
		c.m.Train.Optimizer = o
	}
}

func (c *checker) checkData(n *yaml.Node) {
	m, ok := c.mapping(n, "data", dataSection)
	if !ok {
		return
	}
	c.require(m, dataSection.required...)
	if v := m.get("train"); v != nil {
		c.trainPathNode = v
		if s, ok := c.checkSource(v, "data.train"); ok {
			c.m.Data.Train = s
		}
	}
	if v := m.get("validation"); v != nil {
		c.validationKey = m.keyNode("validation")
		if s, ok := c.checkSource(v, "data.validation"); ok {
			c.m.Data.Validation = &s
		}
	}
}

// checkSource reads a path or a source mapping. Paths are resolved against
// the spec's directory and must name existing files.
func (c *checker) checkSource(n *yaml.Node, path string) (ir.Source, bool) {
	n = resolve(n)
	var s ir.Source
	if n.Kind == yaml.ScalarNode {
		p, ok := c.str(n, path)
		if !ok {
			return s, false
		}
		s.Path, ok = c.checkFile(n, path, p)
		if !ok {
			return s, false
		}
		if s.Format = dataset.InferFormat(p); s.Format == ir.FormatNone {
			c.errorf(n, path, "write the source as a mapping with a format key", "cannot tell the format of %q from its name", clip(p))
			return s, false
		}
		return s, c.checkContents(s, path, n, n, n, n)
	}
	m, ok := c.mapping(n, path, sourceSection)
	if !ok {
		return s, false
	}
	c.require(m, sourceSection.required...)
	good := m.has("path")
	file := ""
	if v := m.get("path"); v != nil {
		if file, ok = c.str(v, path+".path"); ok {
			s.Path, ok = c.checkFile(v, path+".path", file)
		}
		if !ok {
			file = ""
		}
		good = good && ok
	}
	s.Format, ok = c.format(m, "format", path, "path", file)
	good = good && ok
	if v := m.get("start"); v != nil {
		k, ok := c.integer(v, path+".start", 0, 1<<31-1)
		s.Start, good = int(k), good && ok
	}
	if v := m.get("limit"); v != nil {
		k, ok := c.integer(v, path+".limit", 0, 1<<31-1)
		s.Limit, good = int(k), good && ok
	}
	labels := ""
	if v := m.get("labels"); v != nil {
		if labels, ok = c.str(v, path+".labels"); ok {
			s.Labels, ok = c.checkFile(v, path+".labels", labels)
		}
		if !ok {
			labels = "" // reported; guessing its format would only add noise
		}
		good = good && ok
	}
	if m.has("labels") || m.has("label_format") {
		if !m.has("labels") {
			c.errorf(m.keyNode("label_format"), path+".label_format", "", "label_format without labels")
			good = false
		} else {
			s.LabelFormat, ok = c.format(m, "label_format", path, "labels", labels)
			good = good && ok
		}
	}
	csvOnly := func(key string) bool {
		if s.Format != ir.FormatNone && s.Format.Base() != ir.FormatCSV {
			c.errorf(m.keyNode(key), path+"."+key, "", "%s applies only to csv, not %s", key, s.Format)
			return false
		}
		return true
	}
	if v := m.get("header"); v != nil {
		b, ok := c.boolean(v, path+".header")
		s.CSVHeader, s.CSVNoHeader, good = b, ok && !b, good && ok
		if ok && b {
			good = csvOnly("header") && good
		}
	}
	for _, key := range []string{"columns", "exclude"} {
		v := m.get(key)
		if v == nil {
			continue
		}
		cols, ok := c.columnList(v, path+"."+key)
		good = good && ok && csvOnly(key)
		if key == "columns" {
			s.Columns = cols
		} else {
			s.Exclude = cols
		}
	}
	if m.has("columns") && m.has("exclude") {
		c.errorf(m.keyNode("exclude"), path+".exclude", "keep one of them", "exclude contradicts columns at line %d", m.keyNode("columns").Line)
		good = false
	}
	if v := m.get("missing"); v != nil {
		if k, ok := c.enum(v, path+".missing", "missing-value rule", missingKinds); ok {
			mk, _ := ir.ParseMissing(k)
			switch {
			case path != "data.train":
				c.errorf(m.keyNode("missing"), path+".missing", "move it to data.train",
					"missing belongs on data.train: the training means fill the gaps of every record the model reads, validation included")
				good = false
			default:
				c.m.Input.Missing = mk
			}
		} else {
			good = false
		}
	}
	if good {
		c.selNode = m.get("columns")
		if c.selNode == nil {
			c.selNode = m.get("exclude")
		}
		good = c.checkContents(s, path, m.get("path"), m.keyNode("start"), m.keyNode("limit"), m.get("labels"))
		c.selNode = nil
	}
	return s, good
}

// columnList reads a list of CSV column names and 0-based indices.
func (c *checker) columnList(n *yaml.Node, path string) ([]ir.Column, bool) {
	items, ok := c.sequence(n, path)
	if !ok {
		return nil, false
	}
	if len(items) == 0 {
		c.errorf(n, path, "", "must not be empty")
		return nil, false
	}
	var out []ir.Column
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		if it.Kind == yaml.ScalarNode && it.ShortTag() == "!!int" {
			k, ok := c.integer(it, p, 0, 1<<31-1)
			if !ok {
				return nil, false
			}
			out = append(out, ir.Column{Index: int(k)})
			continue
		}
		if it.Kind != yaml.ScalarNode || it.ShortTag() == "!!map" || it.ShortTag() == "!!seq" {
			c.errorf(it, p, "", "expected a column name or a 0-based index, found %s", describe(it))
			return nil, false
		}
		// A name the YAML reads as another type (true, 1.5, null) is
		// still a name: header cells are text.
		if it.Value == "" {
			c.errorf(it, p, "", "must not be empty")
			return nil, false
		}
		out = append(out, ir.Column{Name: it.Value})
	}
	return out, true
}

// checkContents compares a source with its files' headers: records must
// have as many values as the input, the record range must lie inside the
// file, labels must match the records one to one, and a Bernoulli model
// must see inputs in [0, 1].
func (c *checker) checkContents(s ir.Source, path string, pathNode, startNode, limitNode, labelsNode *yaml.Node) bool {
	// A plain-path source is recorded under its own key, a mapping's under key.path.
	key, file := path, c.written[path]
	if file == "" {
		key, file = path+".path", c.written[path+".path"]
	}
	var want *ir.Input
	if c.inputOK && c.m.Input.Size > 0 {
		want = &c.m.Input
	}
	info, err := dataset.ReadSource(s, want)
	if err != nil {
		var de *dataset.Error
		if errors.As(err, &de) && de.Selection {
			sel := "columns"
			if s.Columns == nil {
				sel = "exclude"
			}
			n := c.selNode
			if n == nil {
				n, sel = pathNode, "path"
			}
			c.errorf(n, path+"."+sel, "", "%s data %q: %s", s.Format, clip(file), de.Msg)
			return false
		}
		hint := ""
		if errors.As(err, &de) {
			hint = de.Hint
		}
		c.errorf(pathNode, key, hint, "%s data %q: %v", s.Format, clip(file), dataErr(err))
		return false
	}
	c.noteHeader(s, path, pathNode, file, info)
	good := true
	switch {
	case s.Start >= info.Records:
		c.errorf(startNode, path+".start", "", "start %d is past the %d records of the file", s.Start, info.Records)
		good = false
	case s.Limit > 0 && s.Start+s.Limit > info.Records:
		c.errorf(limitNode, path+".limit", "", "records [%d, %d) run past the %d records of the file", s.Start, s.Start+s.Limit, info.Records)
		good = false
	}
	if info.Bytes && c.likelihoodOK && c.inputOK && c.m.Likelihood.Kind == ir.Bernoulli {
		in := c.m.Input
		lo, hi := min(in.Offset, 255*in.Scale+in.Offset), max(in.Offset, 255*in.Scale+in.Offset)
		if lo < 0 || hi > 1+1e-9 {
			c.errorf(pathNode, path, "set input.scale: 1/255",
				"the bernoulli likelihood needs inputs in [0, 1], but bytes 0..255 scale to [%s, %s]", fmtNum(lo), fmtNum(hi))
			c.bernoulliReported = true
			good = false
		}
	}
	if s.Labels != "" && s.LabelFormat != ir.FormatNone {
		li, err := dataset.ReadHeader(s.Labels, s.LabelFormat, false, nil)
		switch {
		case err != nil:
			c.errorf(labelsNode, path+".labels", "", "%s labels: %v", s.LabelFormat, dataErr(err))
			good = false
		case li.Features != 1:
			c.errorf(labelsNode, path+".labels", "", "labels have %d values per record, want 1", li.Features)
			good = false
		case li.Records != info.Records:
			c.errorf(labelsNode, path+".labels", "", "%d labels for %d records", li.Records, info.Records)
			good = false
		}
	}
	if !good || !c.inputOK {
		return good
	}
	// The header fits. Files small enough to read quickly are read in full
	// by the same loader training uses, so that build and train accept and
	// refuse the same files for the same reason (a bad value on line 9,000
	// of a CSV, a NaN in an NPY).
	if fi, err := os.Stat(s.Path); err == nil && fi.Size() <= fullCheckBytes {
		if _, err := dataset.Load(s, c.m.Input); err != nil {
			hint := ""
			var de *dataset.Error
			if errors.As(err, &de) {
				hint = de.Hint
			}
			c.errorf(pathNode, key, hint, "%v", dataErr(err))
			return false
		}
	}
	return true
}

// noteHeader records what a CSV source's header says: the training
// source's column names become the input's (when they name its
// features), and a header told from its contents is said, since a first
// record of names would otherwise vanish unnoticed.
func (c *checker) noteHeader(s ir.Source, path string, pathNode *yaml.Node, file string, info dataset.Header) {
	if info.Columns == nil {
		return
	}
	if path == "data.train" && c.inputOK && len(info.Columns) == c.m.Input.Size {
		c.m.Input.Columns = info.Columns
	}
	if info.Guessed {
		c.warnf(pathNode, path, "set header: false if that line is data",
			"the first line of %q is not numeric: read as a header (%s)", clip(file), quoteNames(info.Columns, 4))
	}
}

// quoteNames quotes up to max names.
func quoteNames(names []string, max int) string {
	var parts []string
	for i, n := range names {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(names)-max))
			break
		}
		parts = append(parts, strconv.Quote(clip(n)))
	}
	return strings.Join(parts, ", ")
}

// fullCheckBytes is the largest data file vaec build reads in full.
const fullCheckBytes = 256 << 20

// dataErr prints a dataset error without repeating the file name, which
// the spec position already gives.
func dataErr(err error) string {
	var de *dataset.Error
	if errors.As(err, &de) {
		return de.Detail()
	}
	return err.Error()
}

// format reads key (format or label_format) of a source mapping, or infers
// the format from the name of the file given under fileKey.
func (c *checker) format(m *mapping, key, path, fileKey, file string) (ir.Format, bool) {
	if v := m.get(key); v != nil {
		name, ok := c.enum(v, path+"."+key, "format", formats)
		if !ok {
			return ir.FormatNone, false
		}
		f, _ := ir.ParseFormat(name)
		return f, true
	}
	if file == "" {
		return ir.FormatNone, false // the path is already reported
	}
	f := dataset.InferFormat(file)
	if f == ir.FormatNone {
		c.errorf(m.get(fileKey), path+"."+fileKey, fmt.Sprintf("add %s: %s", key, strings.Join(formats, ", ")),
			"cannot tell the format of %q from its name", clip(file))
		return ir.FormatNone, false
	}
	return f, true
}

// checkFile resolves p against the spec's directory and checks that it names
// a readable regular file; it returns the absolute path.
func (c *checker) checkFile(n *yaml.Node, path, p string) (string, bool) {
	c.written[path] = p
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(c.dir, full)
	}
	abs, err := filepath.Abs(full)
	if err != nil {
		c.errorf(n, path, "", "cannot resolve %q: %v", clip(p), err)
		return "", false
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		c.errorf(n, path, "relative paths are relative to the spec file", "file %q does not exist", clip(p))
		return "", false
	case err != nil:
		c.errorf(n, path, "", "cannot read %q: %v", clip(p), errors.Unwrap(err))
		return "", false
	case fi.IsDir():
		c.errorf(n, path, "", "%q is a directory, not a data file", clip(p))
		return "", false
	}
	return abs, true
}

// crossCheck reports settings that are valid alone but contradict each other.
func (c *checker) crossCheck() {
	m := &c.m
	if m.Data.Validation != nil || c.validationKey != nil {
		if c.splitSet && m.Train.ValidationSplit > 0 {
			c.errorf(c.splitKey, "train.validation_split", "remove one of them",
				"validation_split contradicts data.validation at line %d", c.validationKey.Line)
		}
		m.Train.ValidationSplit = 0
	} else if !c.splitSet {
		m.Train.ValidationSplit = DefaultValidationSplit
	}
	if m.Train.Patience > 0 && m.Train.ValidationSplit == 0 && c.validationKey == nil {
		c.errorf(c.patienceKey, "train.patience", "set train.validation_split or data.validation",
			"early stopping needs validation data, but there is none")
	}
	if m.Objective.WarmupEpochs > m.Train.Epochs {
		c.errorf(c.warmupKey, "objective.kl_warmup_epochs", "",
			"KL warm-up of %d epochs is longer than training (%d epochs): beta would never be reached",
			m.Objective.WarmupEpochs, m.Train.Epochs)
	}
	if m.Latent > 0 && m.Input.Size > 0 && m.Latent >= m.Input.Size {
		c.errorf(c.latentNode, "latent", "", "latent size %d is not smaller than the input size %d", m.Latent, m.Input.Size)
	}
	if lim := m.Data.Train.Limit; lim > 0 && c.batchKey != nil && m.Train.BatchSize > lim {
		c.errorf(c.batchKey, "train.batch_size", "", "batch size %d is larger than the %d training records", m.Train.BatchSize, lim)
	}
	if v := m.Data.Validation; v != nil && m.Data.Train.Path != "" && v.Path == m.Data.Train.Path && overlap(m.Data.Train, *v) {
		c.errorf(c.validationKey, "data.validation", "give the two sources disjoint start/limit ranges",
			"validation records %s overlap training records %s of the same file", span(*v), span(m.Data.Train))
	}
}

// overlap reports whether the record ranges of a and b intersect.
func overlap(a, b ir.Source) bool {
	end := func(s ir.Source) int64 {
		if s.Limit == 0 {
			return 1 << 62
		}
		return int64(s.Start) + int64(s.Limit)
	}
	return int64(a.Start) < end(b) && int64(b.Start) < end(a)
}

func span(s ir.Source) string {
	if s.Limit == 0 {
		return fmt.Sprintf("[%d, end)", s.Start)
	}
	return fmt.Sprintf("[%d, %d)", s.Start, s.Start+s.Limit)
}

// shapeString formats a shape as the spec writes it: [1, 28, 28].
func shapeString(shape []int) string { return ir.Shape(shape).String() }
