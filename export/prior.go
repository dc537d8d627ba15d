package export

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/internal/onnxpb"
	"github.com/vaec/vaec/ir"
	"google.golang.org/protobuf/proto"
)

// A VampPrior in the exported files. Its components are the encoder's
// posteriors at the pseudo-inputs under the trained weights, constants of
// the trained model, so they are written as Constant tensors computed by
// the caller (Options.Prior with its components attached, as package vae
// binds them) rather than as the encoder run again inside each file.
//
// prior.onnx maps a one-hot choice of component, component [N, K], to that
// component's mu and logvar [N, L]: sampling the prior from the files
// alone is picking k uniformly, z = mu + exp(logvar/2)·ε, and the decoder.
// score.onnx's KL term becomes log q(mu|x) − log p(mu) at z = mu.

// RolePrior is prior.onnx's role.
const RolePrior = "prior"

// MetaPrior is the prior's kind ("normal", or "vamp K" with the number of
// components), written in every file.
const MetaPrior = "vaec.prior"

// InputComponent is prior.onnx's input.
const InputComponent = "component"

// Prior returns prior.onnx for a model with a learned prior:
// component [N, K] → mu, logvar [N, L].
func Prior(m *ir.Model, w map[string]checkpoint.Tensor, opts Options) ([]byte, error) {
	return build(m, w, opts, RolePrior)
}

// components returns the learned prior's components from opts.
func (b *builder) components() (mu, logvar []float32, err error) {
	if b.m.Prior.Kind != ir.PriorVamp {
		return nil, nil, fmt.Errorf("prior %s has no components to export", b.m.Prior.Kind)
	}
	mu, logvar, l := b.prior.ComponentParams()
	if mu == nil || l != b.m.Latent || len(mu) != b.m.Prior.Components*l {
		return nil, nil, fmt.Errorf("prior %s: Options.Prior carries no components for %d pseudo-inputs of latent size %d (bind them with vae.FromWeights)", b.m.Prior.Kind, b.m.Prior.Components, b.m.Latent)
	}
	return mu, logvar, nil
}

func floatMatrix(v []float32, rows, cols int) *onnxpb.TensorProto {
	raw := make([]byte, 0, 4*len(v))
	for _, x := range v {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(x))
	}
	dims := []int64{int64(rows), int64(cols)}
	if cols == 0 {
		dims = dims[:1]
	}
	return &onnxpb.TensorProto{DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Dims: dims, RawData: raw}
}

// priorGraph: component [N, K] → mu = component·M, logvar = component·LV.
func (b *builder) priorGraph() error {
	mu, lv, err := b.components()
	if err != nil {
		return err
	}
	k, l := b.m.Prior.Components, b.m.Latent
	if err := b.input(InputComponent, []int{k}); err != nil {
		return err
	}
	cm, err := b.constant("prior.components_mu", floatMatrix(mu, k, l))
	if err != nil {
		return err
	}
	cl, err := b.constant("prior.components_logvar", floatMatrix(lv, k, l))
	if err != nil {
		return err
	}
	if err := b.node("MatMul", "prior/MatMulMu", []string{InputComponent, cm}, ir.OutputMu); err != nil {
		return err
	}
	if err := b.node("MatMul", "prior/MatMulLogvar", []string{InputComponent, cl}, ir.OutputLogvar); err != nil {
		return err
	}
	b.output(ir.OutputMu, []int{l})
	b.output(ir.OutputLogvar, []int{l})
	return nil
}

// vampKL appends kl [N] = log q(mu|x) − log p(mu) for the mixture prior,
// the KL integrand at z = mu, to a graph holding mu and logvar [N, L]:
//
//	log q(mu|x) = −½ Σ_j (log 2π + lv_j)
//	log p(mu)   = LSE_k a_k,  a_k = c_k − ½ Σ_j (mu_j − m_kj)²·p_kj
//	            = c'_k + (mu²)·A_k + mu·B_k  with A = −½Pᵀ, B = (M∘P)ᵀ
//
// (p = exp(−lv_k), c'_k holds the constants and −log K), two matrix
// products. The runtime has no ReduceMax, so the log-sum-exp is written
// as Σ_k s_k·(a_k − log(s_k + 1e-30)) with s = softmax(a): every term
// a_k − log s_k equals the LSE, the softmax is stable, and the 1e-30 only
// touches components whose weight is below it (0·finite, not 0·∞).
func (b *builder) vampKL(mu, logvar, out string) error {
	cmu, clv, err := b.components()
	if err != nil {
		return err
	}
	k, l := b.m.Prior.Components, b.m.Latent
	a := make([]float32, l*k)
	bm := make([]float32, l*k)
	c := make([]float32, k)
	for kk := 0; kk < k; kk++ {
		var lvSum, quad float64
		for j := 0; j < l; j++ {
			m, v := float64(cmu[kk*l+j]), float64(clv[kk*l+j])
			p := math.Exp(-v)
			a[j*k+kk] = float32(-0.5 * p)
			bm[j*k+kk] = float32(m * p)
			lvSum += v
			quad += m * m * p
		}
		c[kk] = float32(-0.5*(lvSum+float64(l)*math.Log(2*math.Pi)+quad) - math.Log(float64(k)))
	}
	consts := []struct {
		name string
		t    *onnxpb.TensorProto
	}{
		{"prior.quad", floatMatrix(a, l, k)}, {"prior.lin", floatMatrix(bm, l, k)}, {"prior.const", floatMatrix(c, k, 0)},
		{"prior.tiny", scalarFloat(1e-30)}, {"prior.half", scalarFloat(0.5)}, {"prior.log2pi", scalarFloat(float32(math.Log(2 * math.Pi)))},
		{"prior.axes", int64Tensor([]int64{1})},
	}
	for _, cn := range consts {
		if _, err := b.constant(cn.name, cn.t); err != nil {
			return err
		}
	}
	steps := []struct {
		op, out string
		in      []string
	}{
		{"Mul", "prior.mu2", []string{mu, mu}},
		{"MatMul", "prior.a_quad", []string{"prior.mu2", "prior.quad"}},
		{"MatMul", "prior.a_lin", []string{mu, "prior.lin"}},
		{"Add", "prior.a_ql", []string{"prior.a_quad", "prior.a_lin"}},
		{"Add", "prior.logits", []string{"prior.a_ql", "prior.const"}},
		{"Softmax", "prior.resp", []string{"prior.logits"}},
		{"Add", "prior.resp_tiny", []string{"prior.resp", "prior.tiny"}},
		{"Log", "prior.log_resp", []string{"prior.resp_tiny"}},
		{"Sub", "prior.lse_terms", []string{"prior.logits", "prior.log_resp"}},
		{"Mul", "prior.lse_weighted", []string{"prior.resp", "prior.lse_terms"}},
	}
	for _, s := range steps {
		var attrs []*onnxpb.AttributeProto
		if s.op == "Softmax" {
			attrs = append(attrs, attrInt("axis", 1))
		}
		if err := b.node(s.op, s.out+"/"+s.op, s.in, s.out, attrs...); err != nil {
			return err
		}
	}
	sum := func(in, o string) error {
		return b.node("ReduceSum", o+"/ReduceSum", []string{in, "prior.axes"}, o, attrInt("keepdims", 0))
	}
	if err := sum("prior.lse_weighted", "prior.log_p"); err != nil {
		return err
	}
	// log q(mu|x) = −½ Σ (lv + log 2π)
	for _, s := range []struct {
		op, out string
		in      []string
	}{
		{"Add", "prior.lv2pi", []string{logvar, "prior.log2pi"}},
	} {
		if err := b.node(s.op, s.out+"/"+s.op, s.in, s.out); err != nil {
			return err
		}
	}
	if err := sum("prior.lv2pi", "prior.lvsum"); err != nil {
		return err
	}
	for _, s := range []struct {
		op, out string
		in      []string
	}{
		{"Mul", "prior.neg_log_q", []string{"prior.lvsum", "prior.half"}}, // −log q
		{"Add", "prior.neg_kl", []string{"prior.neg_log_q", "prior.log_p"}},
		{"Neg", out, []string{"prior.neg_kl"}},
	} {
		if err := b.node(s.op, s.out+"/"+s.op, s.in, s.out); err != nil {
			return err
		}
	}
	return nil
}
