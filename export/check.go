package export

import (
	"fmt"

	"github.com/vaec/vaec/compiler"
)

// maxDim bounds every size the exporter writes, so that a corrupt model.json
// cannot make it multiply its way into overflow.
const maxDim = 1 << 30

// checkModel verifies the IR invariants the lowering relies on: sizes are
// positive and chain from layer to layer, the likelihood is known. The
// compiler guarantees all of this for models it built; model.json files can
// be edited by hand, so the exporter checks rather than trusts.
func checkModel(m *compiler.Model) error {
	in := m.Input
	if len(in.Shape) == 0 {
		return fmt.Errorf("input shape is empty")
	}
	size := 1
	for _, d := range in.Shape {
		if d <= 0 || d > maxDim || size > maxDim/d {
			return fmt.Errorf("input shape %v: dimensions must be positive and the product at most %d", in.Shape, maxDim)
		}
		size *= d
	}
	if size != in.Size {
		return fmt.Errorf("input size %d does not match the product %d of shape %v", in.Size, size, in.Shape)
	}
	if m.Latent <= 0 || m.Latent > maxDim {
		return fmt.Errorf("latent size %d must be positive", m.Latent)
	}
	width := in.Size
	for _, l := range m.Encoder {
		if err := checkLayer(l, width); err != nil {
			return err
		}
		width = l.Out
	}
	for _, head := range []compiler.Layer{m.Mu, m.Logvar} {
		if err := checkLayer(head, width); err != nil {
			return err
		}
		if head.Out != m.Latent {
			return fmt.Errorf("encoder head %s%s gives %d features, the latent size is %d", head.Name, at(head.Pos), head.Out, m.Latent)
		}
	}
	width = m.Latent
	for _, l := range m.Decoder {
		if err := checkLayer(l, width); err != nil {
			return err
		}
		width = l.Out
	}
	if err := checkLayer(m.Output, width); err != nil {
		return err
	}
	if m.Output.Out != in.Size {
		return fmt.Errorf("output layer %s%s gives %d features, the input has %d", m.Output.Name, at(m.Output.Pos), m.Output.Out, in.Size)
	}
	switch m.Likelihood {
	case compiler.Bernoulli, compiler.GaussianFixed:
	case compiler.GaussianLearned:
		if m.OutputLogvar == "" {
			return fmt.Errorf("likelihood %s needs the output log-variance parameter, model names none", m.Likelihood)
		}
	default:
		return fmt.Errorf("likelihood %q has no ONNX lowering (known: %s, %s, %s)", m.Likelihood, compiler.Bernoulli, compiler.GaussianFixed, compiler.GaussianLearned)
	}
	return nil
}

func checkLayer(l compiler.Layer, in int) error {
	if l.Op != compiler.Dense {
		return fmt.Errorf("layer %s%s: op %q has no ONNX lowering", l.Name, at(l.Pos), l.Op)
	}
	if l.Name == "" {
		return fmt.Errorf("a %s layer%s has no name", l.Op, at(l.Pos))
	}
	if l.In != in {
		return fmt.Errorf("layer %s%s takes %d features, the previous layer gives %d", l.Name, at(l.Pos), l.In, in)
	}
	if l.Out <= 0 || l.Out > maxDim {
		return fmt.Errorf("layer %s%s: output size %d must be positive", l.Name, at(l.Pos), l.Out)
	}
	return nil
}
