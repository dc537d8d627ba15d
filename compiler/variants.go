package compiler

import (
	"github.com/vaec/vaec/dataset"
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

var conditionSection = &section{
	def: "condition", where: "condition", title: "the condition",
	doc: "A conditional VAE: the label of each record, one-hot, is an input of the encoder (with x) and of the decoder (with z). The labels come from the data sources' labels files.",
	fields: []field{
		{"classes", "Number of classes; labels are integers 0 to classes-1.", sInt(2, ir.MaxClasses)},
	},
	required: []string{"classes"},
}

// checkCondition reads condition (after data, whose labels it needs):
// every source must name a labels file, and every label must be a class.
// The labels are read here, so a bad one is a build error rather than a
// failure in the middle of training.
func (c *checker) checkCondition(n *yaml.Node) {
	m, ok := c.mapping(n, "condition", conditionSection)
	if !ok {
		return
	}
	c.require(m, conditionSection.required...)
	v := m.get("classes")
	if v == nil {
		return
	}
	k, ok := c.integer(v, "condition.classes", 2, ir.MaxClasses)
	if !ok {
		return
	}
	if c.m.Prior.Kind == ir.PriorVamp {
		c.errorf(v, "condition", "use prior: normal with a condition", "a conditional model with the vamp prior is not supported: its pseudo-inputs have no label")
		return
	}
	c.m.Condition = ir.Condition{Classes: int(k)}
	srcs := []struct {
		key string
		src *ir.Source
	}{{"data.train", &c.m.Data.Train}, {"data.validation", c.m.Data.Validation}}
	for _, s := range srcs {
		if s.src == nil || s.src.Path == "" {
			continue
		}
		if s.src.Labels == "" {
			c.errorf(v, "condition", "add labels: FILE to "+s.key, "a conditional model needs labels, and %s has none", s.key)
			continue
		}
		set, err := dataset.Load(*s.src, c.m.Input)
		if err != nil {
			continue // the data checks report it
		}
		for i, l := range set.Labels {
			if l < 0 || l >= int(k) {
				c.errorf(v, "condition.classes", "", "%s: label %d of record %d (file %s) is not a class 0 to %d", s.key, l, s.src.Start+i, s.src.Labels, k-1)
				break
			}
		}
	}
}
