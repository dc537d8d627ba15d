package compiler

import (
	"github.com/vaec/vaec/ir"
	"gopkg.in/yaml.v3"
)

// The VAE variants of issue 15: the objective's type (elbo or iwae) and
// the prior (normal or vamp). Their keys are read here; check.go calls in.

var objectiveTypes = []string{ir.ELBO.String(), ir.IWAE.String()}

var priorTypes = []string{ir.PriorNormal.String(), ir.PriorVamp.String()}

var priorSection = &section{
	def: "prior", where: "prior", title: "a prior",
	doc: "The prior p(z): normal (N(0, I)) or vamp (the VampPrior of Tomczak and Welling, a mixture of the encoder's posteriors at K learned pseudo-inputs).",
	fields: []field{
		{"type", "normal or vamp.", sEnum(priorTypes...)},
		{"components", "vamp: the number K of pseudo-inputs.", sInt(1, ir.MaxComponents)},
	},
	required: []string{"type"},
}

// checkObjectiveType reads objective.type and refuses what the
// importance-weighted bound cannot mean: it is log (1/K) Σ_k p(x, z_k)/q(z_k|x)
// with no KL term of its own, so a KL weight or a warm-up of it would be
// silently ignored.
func (c *checker) checkObjectiveType(m *mapping) {
	v := m.get("type")
	if v == nil {
		return
	}
	t, ok := c.enum(v, "objective.type", "objective", objectiveTypes)
	if !ok || t != ir.IWAE.String() {
		return
	}
	c.m.Objective.Kind = ir.IWAE
	if b := m.get("beta"); b != nil && c.m.Objective.Beta != 1 {
		c.errorf(b, "objective.beta", "remove beta, or use type: elbo for a β-VAE",
			"beta %v with type iwae: the importance-weighted bound has no separate KL term to weight", c.m.Objective.Beta)
	}
	if w := m.get("kl_warmup_epochs"); w != nil && c.m.Objective.WarmupEpochs != 0 {
		c.errorf(w, "objective.kl_warmup_epochs", "remove kl_warmup_epochs, or use type: elbo",
			"KL warm-up with type iwae: the importance-weighted bound has no separate KL term to warm up")
	}
}

// checkPrior reads the prior key: a type name, or a mapping with type and
// (vamp) components.
func (c *checker) checkPrior(n *yaml.Node) {
	n = resolve(n)
	if n.Kind == yaml.ScalarNode {
		t, ok := c.enum(n, "prior", "prior", priorTypes)
		if ok && t == ir.PriorVamp.String() {
			c.errorf(n, "prior", "write prior: {type: vamp, components: 500}", "prior vamp needs its number of components")
		}
		return
	}
	m, ok := c.mapping(n, "prior", priorSection)
	if !ok {
		return
	}
	c.require(m, priorSection.required...)
	t := ""
	if v := m.get("type"); v != nil {
		t, _ = c.enum(v, "prior.type", "prior", priorTypes)
	}
	switch t {
	case ir.PriorNormal.String():
		if m.has("components") {
			c.errorf(m.keyNode("components"), "prior.components", "remove it, or use type: vamp", "components applies only to the vamp prior")
		}
	case ir.PriorVamp.String():
		v := m.get("components")
		if v == nil {
			c.errorf(m.keyNode("type"), "prior", "add components: K (Tomczak and Welling use 500 on MNIST)", "prior vamp needs components")
			return
		}
		if k, ok := c.integer(v, "prior.components", 1, ir.MaxComponents); ok {
			c.m.Prior = ir.Prior{Kind: ir.PriorVamp, Components: int(k)}
		}
	}
}
