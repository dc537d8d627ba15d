package export

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vaec/vaec/internal/onnxpb"
	"github.com/vaec/vaec/ir"
	"google.golang.org/protobuf/proto"
)

// Raw data in: the exported encoder and score model start with the input's
// scaling and fitted normalisation, x = raw·a + b per feature
// (ir.Input.Affine), so a caller feeds what the data file holds; the
// decoder gives E[x|z] back in those raw units as mean_raw beside its
// model-space outputs. Options.NoPreprocess keeps round 1's form
// (scaled input, no mean_raw).

// affineConstant adds a Constant holding v, shaped like one example of
// the input when its values differ per feature and a scalar otherwise.
func (b *builder) affineConstant(name string, v []float64) (string, error) {
	same := true
	for _, x := range v {
		same = same && x == v[0]
	}
	shape := []int64(nil)
	vals := v
	if !same {
		shape = int64s(b.m.Input.Shape)
	} else {
		vals = v[:1]
	}
	raw := make([]byte, 4*len(vals))
	for i, x := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(x)))
	}
	t := &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: shape, RawData: raw}
	return b.constant(name, t)
}

func allEqual(v []float64, x float64) bool {
	for _, y := range v {
		if y != x {
			return false
		}
	}
	return true
}

// fillMissing lowers the missing-value rule missing: mean: a NaN in the
// raw input becomes the feature's training mean (ir.Input.Fill, raw units,
// the loader's fill), so a caller may send NaN for a value it lacks and
// get what the loader would have computed. It returns the filled value.
func (b *builder) fillMissing(x string) (string, error) {
	in := b.m.Input
	if len(in.Fill) != in.Size {
		return "", fmt.Errorf("missing: mean needs %d fill values (the training means), the model has %d", in.Size, len(in.Fill))
	}
	raw := make([]byte, 4*len(in.Fill))
	for i, v := range in.Fill {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(v)))
	}
	// Shaped like one example, so that Where broadcasts it over the batch.
	t := &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: int64s(in.Shape), RawData: raw}
	fill, err := b.constant("input.fill", t)
	if err != nil {
		return "", err
	}
	if err := b.node("IsNaN", "input/IsNaN", []string{x}, "x.missing"); err != nil {
		return "", err
	}
	if err := b.node("Where", "input/Fill", []string{"x.missing", fill, x}, "x.filled"); err != nil {
		return "", err
	}
	return "x.filled", nil
}

// preprocess lowers x = raw·a + b and returns the model-space value (x
// itself when the map is the identity or preprocessing is off).
func (b *builder) preprocess(x string) (string, error) {
	if !b.pre {
		return x, nil
	}
	if b.m.Input.Missing == ir.MissingMean {
		filled, err := b.fillMissing(x)
		if err != nil {
			return "", err
		}
		x = filled
	}
	a, off := b.m.Input.Affine()
	cur := x
	if !allEqual(a, 1) {
		c, err := b.affineConstant("input.scale", a)
		if err != nil {
			return "", err
		}
		if err := b.node("Mul", "input/Scale", []string{cur, c}, "x.scaled"); err != nil {
			return "", err
		}
		cur = "x.scaled"
	}
	if !allEqual(off, 0) {
		c, err := b.affineConstant("input.offset", off)
		if err != nil {
			return "", err
		}
		if err := b.node("Add", "input/Offset", []string{cur, c}, "x.model"); err != nil {
			return "", err
		}
		cur = "x.model"
	}
	return cur, nil
}

// rawMean adds the output mean_raw = (E[x|z] − b)/a from the model-space
// expectation expect (Bernoulli probabilities or the Gaussian mean, shaped
// like the input).
func (b *builder) rawMean(expect string) error {
	if !b.pre {
		return nil
	}
	a, off := b.m.Input.Affine()
	inv, shift := make([]float64, len(a)), make([]float64, len(a))
	for d := range a {
		inv[d], shift[d] = 1/a[d], -off[d]/a[d]
	}
	cur := expect
	if !allEqual(inv, 1) {
		c, err := b.affineConstant("output.unscale", inv)
		if err != nil {
			return err
		}
		next := ir.OutputMeanRaw
		if !allEqual(shift, 0) {
			next = "mean_raw.unscaled"
		}
		if err := b.node("Mul", "mean_raw/Unscale", []string{cur, c}, next); err != nil {
			return err
		}
		cur = next
	}
	if !allEqual(shift, 0) {
		c, err := b.affineConstant("output.unshift", shift)
		if err != nil {
			return err
		}
		if err := b.node("Add", "mean_raw/Unshift", []string{cur, c}, ir.OutputMeanRaw); err != nil {
			return err
		}
		cur = ir.OutputMeanRaw
	}
	if cur != ir.OutputMeanRaw {
		if err := b.node("Identity", "mean_raw/Identity", []string{cur}, ir.OutputMeanRaw); err != nil {
			return err
		}
	}
	b.output(ir.OutputMeanRaw, b.m.Input.Shape)
	return nil
}

// expectName is the decoder output holding E[x|z] in model space.
func (b *builder) expectName() string {
	if b.m.Likelihood.Kind == ir.Bernoulli {
		return ir.OutputProbs
	}
	return ir.OutputMean
}

// scoreGraph: x → score [N], mu [N, latent]. The score is the
// deterministic anomaly score −log p(x | z = mu) + KL(q(z|x) ‖ p(z)), the
// number `vaec score` prints in its score column.
func (b *builder) scoreGraph() error {
	m := b.m
	if m.Prior.Kind != ir.PriorNormal && m.Prior.Kind != ir.PriorVamp {
		return fmt.Errorf("score: prior %v has no ONNX lowering", m.Prior.Kind)
	}
	if err := b.input(ir.InputX, m.Input.Shape); err != nil {
		return err
	}
	x, err := b.preprocess(ir.InputX)
	if err != nil {
		return err
	}
	const lv = "score.logvar"
	if err := b.encoderBody(x, ir.OutputMu, lv); err != nil {
		return err
	}
	vals, err := b.lowerGraph(&m.Decoder, ir.OutputMu, nil)
	if err != nil {
		return err
	}
	out := vals[m.Output().Name] // logits or the mean, [N, D] or the input's shape
	if len(m.Output().Out) > 1 {
		if err := b.node("Flatten", "score/FlattenOutput", []string{out}, "score.out.flat", attrInt("axis", 1)); err != nil {
			return err
		}
		out = "score.out.flat"
	}
	xf := x
	if len(m.Input.Shape) > 1 {
		if err := b.node("Flatten", "score/FlattenInput", []string{x}, "score.x.flat", attrInt("axis", 1)); err != nil {
			return err
		}
		xf = "score.x.flat"
	}
	axes, err := b.constant("score.axes", int64Tensor([]int64{1}))
	if err != nil {
		return err
	}
	sum := func(in, out string) error {
		return b.node("ReduceSum", out+"/ReduceSum", []string{in, axes}, out, attrInt("keepdims", 0))
	}
	scalar := func(name string, v float64) (string, error) { return b.constant(name, scalarFloat(float32(v))) }
	type step struct {
		op, out string
		in      []string
	}
	run := func(steps []step) error {
		for _, s := range steps {
			if err := b.node(s.op, s.out+"/"+s.op, s.in, s.out); err != nil {
				return err
			}
		}
		return nil
	}
	// The reconstruction term per row: −log p(x | decoder output).
	switch m.Likelihood.Kind {
	case ir.Bernoulli:
		// Σ softplus(l) − x·l, the stable form of the binary cross-entropy.
		if err := run([]step{{"Softplus", "score.sp", []string{out}}, {"Mul", "score.xl", []string{xf, out}}, {"Sub", "score.bce", []string{"score.sp", "score.xl"}}}); err != nil {
			return err
		}
		if err := sum("score.bce", "score.recon"); err != nil {
			return err
		}
	case ir.GaussianFixed:
		// Σ (x − m)²/(2σ²) + D/2·(log 2π + 2 log σ).
		sigma := m.Likelihood.Sigma
		c1, err := scalar("score.inv2var", 1/(2*sigma*sigma))
		if err != nil {
			return err
		}
		c0, err := scalar("score.const", 0.5*float64(m.Input.Size)*(math.Log(2*math.Pi)+2*math.Log(sigma)))
		if err != nil {
			return err
		}
		if err := run([]step{{"Sub", "score.r", []string{xf, out}}, {"Mul", "score.r2", []string{"score.r", "score.r"}}}); err != nil {
			return err
		}
		if err := sum("score.r2", "score.ss"); err != nil {
			return err
		}
		if err := run([]step{{"Mul", "score.wss", []string{"score.ss", c1}}, {"Add", "score.recon", []string{"score.wss", c0}}}); err != nil {
			return err
		}
	case ir.GaussianLearned:
		// ½ Σ [(x − m)²·exp(−lv) + lv + log 2π], lv the learned [D] vector.
		if err := b.param(m.Likelihood.Logvar, "output log-variance"); err != nil {
			return err
		}
		half, err := scalar("score.half", 0.5)
		if err != nil {
			return err
		}
		l2pi, err := scalar("score.log2pi", math.Log(2*math.Pi))
		if err != nil {
			return err
		}
		if err := run([]step{
			{"Sub", "score.r", []string{xf, out}}, {"Mul", "score.r2", []string{"score.r", "score.r"}},
			{"Neg", "score.nlv", []string{m.Likelihood.Logvar}}, {"Exp", "score.prec", []string{"score.nlv"}},
			{"Mul", "score.wr2", []string{"score.r2", "score.prec"}}, {"Add", "score.wr2lv", []string{"score.wr2", m.Likelihood.Logvar}},
			{"Add", "score.terms", []string{"score.wr2lv", l2pi}},
		}); err != nil {
			return err
		}
		if err := sum("score.terms", "score.tsum"); err != nil {
			return err
		}
		if err := run([]step{{"Mul", "score.recon", []string{"score.tsum", half}}}); err != nil {
			return err
		}
	default:
		return fmt.Errorf("score: likelihood %v has no ONNX lowering", m.Likelihood.Kind)
	}
	if m.Prior.Kind == ir.PriorVamp {
		// No closed form: log q(mu|x) − log p(mu) (prior.go).
		if err := b.vampKL(ir.OutputMu, lv, "score.kl"); err != nil {
			return err
		}
		if err := run([]step{{"Add", ir.OutputScore, []string{"score.recon", "score.kl"}}}); err != nil {
			return err
		}
		b.g.Output = append(b.g.Output, valueInfo(ir.OutputScore, nil))
		b.output(ir.OutputMu, []int{m.Latent})
		return nil
	}
	// KL(N(mu, exp(lv)) ‖ N(0, I)) per row: ½ Σ (exp(lv) + mu² − 1 − lv).
	half, err := scalar("score.kl_half", 0.5)
	if err != nil {
		return err
	}
	one, err := scalar("score.one", 1)
	if err != nil {
		return err
	}
	if err := run([]step{
		{"Exp", "score.var", []string{lv}}, {"Mul", "score.mu2", []string{ir.OutputMu, ir.OutputMu}},
		{"Add", "score.vm", []string{"score.var", "score.mu2"}}, {"Sub", "score.vm1", []string{"score.vm", one}},
		{"Sub", "score.klterms", []string{"score.vm1", lv}},
	}); err != nil {
		return err
	}
	if err := sum("score.klterms", "score.klsum"); err != nil {
		return err
	}
	if err := run([]step{{"Mul", "score.kl", []string{"score.klsum", half}}, {"Add", ir.OutputScore, []string{"score.recon", "score.kl"}}}); err != nil {
		return err
	}
	b.g.Output = append(b.g.Output, valueInfo(ir.OutputScore, nil))
	b.output(ir.OutputMu, []int{m.Latent})
	return nil
}
