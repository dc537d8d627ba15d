package viz

import (
	"fmt"
	"github.com/vaec/vaec/ir"
	"image/color"
	"math"

	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ManifoldZ returns steps×steps points of a 2-dimensional latent plane, row
// by row, ready to decode into a grid with steps columns: the first latent
// unit grows left to right, the second bottom to top. The coordinates are
// quantiles of the prior's marginal at evenly spaced probabilities in
// [0.05, 0.95], so the grid covers the prior's mass evenly instead of
// wasting cells on its tails (the layout of Kingma and Welling's manifold
// figures).
func ManifoldZ(prior ir.Prior, steps int) ([]float32, error) {
	if steps < 2 || steps > 100 {
		return nil, fmt.Errorf("viz: manifold of %d steps: want 2 to 100", steps)
	}
	q := make([]float32, steps)
	for i := range q {
		v, err := prior.Quantile(0.05 + 0.9*float64(i)/float64(steps-1))
		if err != nil {
			return nil, fmt.Errorf("viz: manifold: %w", err)
		}
		q[i] = float32(v)
	}
	z := make([]float32, 0, 2*steps*steps)
	for r := 0; r < steps; r++ {
		for c := 0; c < steps; c++ {
			z = append(z, q[c], q[steps-1-r])
		}
	}
	return z, nil
}

// TraversalZ returns len(base)×steps latent points, one row of steps per
// latent unit: row u is base with unit u swept evenly over [-span, span]
// and every other unit held at its base value. Decoded into a grid with
// steps columns, each row shows what one unit controls (an inactive unit
// gives a row of identical images).
func TraversalZ(base []float32, steps int, span float64) ([]float32, error) {
	if len(base) == 0 {
		return nil, fmt.Errorf("viz: traversal of a 0-dimensional latent space")
	}
	if steps < 2 || steps > 100 {
		return nil, fmt.Errorf("viz: traversal of %d steps: want 2 to 100", steps)
	}
	if !(span > 0) || math.IsInf(span, 0) {
		return nil, fmt.Errorf("viz: traversal span %v: want a positive finite number", span)
	}
	L := len(base)
	z := make([]float32, 0, L*steps*L)
	for u := 0; u < L; u++ {
		for s := 0; s < steps; s++ {
			v := -span + 2*span*float64(s)/float64(steps-1)
			row := append([]float32(nil), base...)
			row[u] = float32(v)
			z = append(z, row...)
		}
	}
	return z, nil
}

// palette holds ten well-separated colours, one per class (digits need ten).
var palette = []color.RGBA{
	{0x1f, 0x77, 0xb4, 0xff}, {0xff, 0x7f, 0x0e, 0xff}, {0x2c, 0xa0, 0x2c, 0xff},
	{0xd6, 0x27, 0x28, 0xff}, {0x94, 0x67, 0xbd, 0xff}, {0x8c, 0x56, 0x4b, 0xff},
	{0xe3, 0x77, 0xc2, 0xff}, {0x7f, 0x7f, 0x7f, 0xff}, {0xbc, 0xbd, 0x22, 0xff},
	{0x17, 0xbe, 0xcf, 0xff},
}

// Scatter plots 2-dimensional points (row-major [n, 2]), coloured by label
// with a legend when labels are given (nil: one colour), and writes the plot
// as a PNG to path. xlabel and ylabel name the axes ("" for z₁ and z₂).
func Scatter(path, title, xlabel, ylabel string, xy []float32, labels []int) error {
	if len(xy)%2 != 0 || len(xy) == 0 {
		return fmt.Errorf("viz: scatter: %d values are not a list of 2-dimensional points", len(xy))
	}
	n := len(xy) / 2
	if labels != nil && len(labels) != n {
		return fmt.Errorf("viz: scatter: %d points but %d labels", n, len(labels))
	}
	groups := map[int]plotter.XYs{}
	for i := 0; i < n; i++ {
		x, y := float64(xy[2*i]), float64(xy[2*i+1])
		if math.IsNaN(x) || math.IsNaN(y) || math.IsInf(x, 0) || math.IsInf(y, 0) {
			return fmt.Errorf("viz: scatter: point %d is (%v, %v), not finite", i, x, y)
		}
		l := 0
		if labels != nil {
			l = labels[i]
		}
		groups[l] = append(groups[l], plotter.XY{X: x, Y: y})
	}
	keys := make([]int, 0, len(groups))
	for k := range groups {
		keys = append(keys, k)
	}
	sort.Ints(keys)

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = "z₁", "z₂"
	if xlabel != "" {
		p.X.Label.Text = xlabel
	}
	if ylabel != "" {
		p.Y.Label.Text = ylabel
	}
	p.Legend.Top = true
	for i, k := range keys {
		s, err := plotter.NewScatter(groups[k])
		if err != nil {
			return fmt.Errorf("viz: scatter: %w", err)
		}
		s.GlyphStyle = draw.GlyphStyle{Color: palette[i%len(palette)], Radius: vg.Points(1.2), Shape: draw.CircleGlyph{}}
		p.Add(s)
		if labels != nil {
			p.Legend.Add(fmt.Sprint(k), s)
		}
	}
	return savePlot(p, path, 6*vg.Inch, 6*vg.Inch)
}
