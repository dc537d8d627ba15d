package export

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vaec/vaec/ir"
)

// A conditional model's files (ir.Condition) take y [N, classes], the
// one-hot label as float32, besides x or z: encoder.onnx x and y,
// decoder.onnx z and y, score.onnx x and y, roundtrip.onnx x, eps and y.
// The concat node is an ONNX Concat on the feature axis after flattening
// its first operand, as in the training graph.

// MetaConditionClasses records a conditional model's classes (absent
// otherwise, so that earlier files keep their bytes).
const MetaConditionClasses = "vaec.condition_classes"

// concat lowers ir.Concat: y = Concat([flatten(a), b], axis 1).
func (b *builder) concat(n *ir.Node, in []string, out string) (string, error) {
	a, err := b.flatten(n, in[0])
	if err != nil {
		return "", err
	}
	if err := b.node("Concat", n.Name+"/Concat", []string{a, in[1]}, out, attrInt("axis", 1)); err != nil {
		return "", fmt.Errorf("node %s: %w", n.Name, err)
	}
	return out, nil
}

// bindExtraInputs declares g's inputs after the first (y) as graph inputs
// the first time a graph of the file reads them, and binds them in vals.
func (b *builder) bindExtraInputs(g *ir.Graph, vals map[string]string) error {
	for _, v := range g.Inputs[1:] {
		if !b.values[v.Name] {
			if err := b.input(v.Name, v.Shape); err != nil {
				return err
			}
		}
		vals[v.Name] = v.Name
	}
	return nil
}

// conditionDoc is the doc_string's sentence about y.
func conditionDoc(m *ir.Model) string {
	if !m.Conditional() {
		return ""
	}
	return fmt.Sprintf("Conditional model: every role also takes y [N, %d] float32, the class label one-hot (row i: 1 at its class, 0 elsewhere). ", m.Condition.Classes)
}

// readCondition parses MetaConditionClasses.
func readCondition(md map[string]string) (ir.Condition, error) {
	s, ok := md[MetaConditionClasses]
	if !ok {
		return ir.Condition{}, nil
	}
	c, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || c < 1 || c > ir.MaxClasses {
		return ir.Condition{}, fmt.Errorf("metadata %s = %q: want a class count 1 to %d", MetaConditionClasses, s, ir.MaxClasses)
	}
	return ir.Condition{Classes: c}, nil
}
