package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/vae"
)

// A conditional model from a checkpoint (condition: {classes: C} in the
// spec) takes the label of each row: --label K (or a list, cycling over
// the rows, as for ONNX files' label input) or, for the verbs that read
// data, the data's own labels.

// checkpointLabels applies --label to a checkpoint model, which must then
// be conditional.
func checkpointLabels(c *cli.Context, v *vae.Model) error {
	s := c.String("label")
	if s == "" {
		return nil
	}
	if v.Classes() == 0 {
		return usagef("--label applies to a conditional model (condition: in the spec) or to ONNX files with a label input; %s is not conditional", v.Origin)
	}
	var labels []int
	for _, p := range strings.Split(s, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || k < 0 {
			return usagef("--label %q: want a class number K or a list K1,K2,... (numbers from 0)", s)
		}
		labels = append(labels, k)
	}
	if err := v.SetLabels(labels); err != nil {
		return usagef("--label: %v", err)
	}
	return nil
}

// dataLabels gives a conditional checkpoint model the data's labels when
// --label does not set them.
func dataLabels(c *cli.Context, v *vae.Model, set *dataset.Set) error {
	if v.Classes() == 0 || c.String("label") != "" {
		return nil
	}
	if len(set.Labels) != set.N {
		return fmt.Errorf("%s is conditional (%d classes): the data has no labels; give --label K (or --labels FILE with --data)", v.Origin, v.Classes())
	}
	return v.SetLabels(set.Labels)
}

// variantSummary is build's line about issue 15's variants, "" for none.
func variantSummary(m *ir.Model) string {
	var parts []string
	if m.Objective.Kind == ir.IWAE {
		parts = append(parts, fmt.Sprintf("objective iwae (the importance-weighted bound of %d draws)", m.Objective.Samples))
	}
	if m.Prior.Kind == ir.PriorVamp {
		parts = append(parts, fmt.Sprintf("prior vamp with %d pseudo-inputs", m.Prior.Components))
	}
	if m.Conditional() {
		parts = append(parts, fmt.Sprintf("conditional on %d classes (y one-hot, encoder [x, y], decoder [z, y])", m.Condition.Classes))
	}
	if parts == nil {
		return ""
	}
	return "variant: " + strings.Join(parts, "; ")
}
