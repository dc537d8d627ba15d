package vae

import (
	"errors"
	"fmt"

	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
)

// A conditional model from a checkpoint (ir.Condition) takes the label of
// each row, one-hot. SetLabels gives them the way ONNXOptions.Labels does
// for ONNX files: row i of a call sequence (Encode, EncodeAll, Expected,
// which number their rows from 0) gets labels[i mod len(labels)], so one
// label serves every row, a list cycles, and a data set's own labels
// follow its rows. Evaluation, which repeats and regroups the rows, takes
// per-example labels through evaluate.Options.Labels instead (EncodeY,
// DecodeY).

// Classes is the number of classes of a conditional model from a
// checkpoint, 0 otherwise.
func (v *Model) Classes() int {
	if v.IR == nil || v.weights == nil {
		return 0
	}
	return v.IR.Condition.Classes
}

// SetLabels sets the labels of a conditional model from a checkpoint.
func (v *Model) SetLabels(labels []int) error {
	c := v.Classes()
	if c == 0 {
		return fmt.Errorf("%s: the model is not conditional: it takes no labels", v.Origin)
	}
	if len(labels) == 0 {
		return errors.New("no labels")
	}
	for i, l := range labels {
		if l < 0 || l >= c {
			return fmt.Errorf("label %d (at %d) is out of range: the model takes classes 0 to %d", l, i, c-1)
		}
	}
	v.labels = append([]int(nil), labels...)
	return nil
}

// condition returns the one-hot rows first to first+n−1 of the labels.
func (v *Model) condition(n, first int) ([]float32, error) {
	c := v.Classes()
	if c == 0 {
		return nil, nil
	}
	if len(v.labels) == 0 {
		return nil, fmt.Errorf("%s: the model is conditional (%d classes): give the labels (--label K, or data with labels)", v.Origin, c)
	}
	y := make([]float32, n*c)
	for i := range n {
		y[i*c+v.labels[(first+i)%len(v.labels)]] = 1
	}
	return y, nil
}

// EncodeY runs the encoder of a conditional model from a checkpoint with
// condition y [n, classes] (evaluate.ConditionalModel).
func (v *Model) EncodeY(x, y []float32, n int) (mu, logvar []float32, err error) {
	if v.Classes() == 0 {
		return nil, nil, fmt.Errorf("%s: per-example conditions need a conditional model from a checkpoint", v.Origin)
	}
	return graph.EncodeY(v.IR, v.weights, x, y, n)
}

// DecodeY runs the decoder of a conditional model from a checkpoint with
// condition y [n, classes] (evaluate.ConditionalModel).
func (v *Model) DecodeY(z, y []float32, n int) (evaluate.Decoded, error) {
	if v.Classes() == 0 {
		return evaluate.Decoded{}, fmt.Errorf("%s: per-example conditions need a conditional model from a checkpoint", v.Origin)
	}
	if v.Likelihood.Kind == ir.Bernoulli {
		l, err := graph.DecodeLogitsY(v.IR, v.weights, z, y, n)
		return evaluate.Decoded{Logits: l}, err
	}
	out, err := graph.DecodeY(v.IR, v.weights, z, y, n)
	if err != nil {
		return evaluate.Decoded{}, err
	}
	return evaluate.Decoded{Mean: out[ir.OutputMean], Logvar: out[ir.OutputLogvar]}, nil
}

// ExampleLabels returns the label of each of n examples for evaluation:
// the one label given for all, or one per example.
func (v *Model) ExampleLabels(n int) ([]int, error) {
	switch len(v.labels) {
	case 1:
		out := make([]int, n)
		for i := range out {
			out[i] = v.labels[0]
		}
		return out, nil
	case n:
		return append([]int(nil), v.labels...), nil
	case 0:
		return nil, fmt.Errorf("%s: the model is conditional (%d classes): give the labels (--label K, or data with labels)", v.Origin, v.Classes())
	}
	return nil, fmt.Errorf("%d labels for %d examples: give one label for all, or one per example", len(v.labels), n)
}
