package viz_test

import (
	"fmt"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"

	"github.com/vaec/vaec/viz"
)

func ExampleGrid() {
	// Four 28×28 grey images (all mid-grey here), two per row.
	ims := make([][]float32, 4)
	for i := range ims {
		ims[i] = make([]float32, 28*28)
		for j := range ims[i] {
			ims[i][j] = 0.5
		}
	}
	img, err := viz.Grid(ims, 1, 28, 28, 2)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(img.Bounds())
	// A caller would now write it: viz.WritePNG("samples.png", img).
	// Output: (0,0)-(62,62)
}

func ExampleTraversalZ() {
	// Sweep each unit of a 2-dimensional latent space over [-1, 1] in 3 steps,
	// the other unit held at 0: one row of 3 points per unit.
	z, _ := viz.TraversalZ([]float32{0, 0}, 3, 1)
	fmt.Println(z)
	// Output: [-1 0 0 0 1 0 0 -1 0 0 0 1]
}

func ExampleManifoldZ() {
	// A 2×2 grid over the latent plane at the 5% and 95% quantiles of N(0, 1),
	// top row first.
	z, _ := viz.ManifoldZ(ir.Prior{}, 2)
	fmt.Printf("%.3f\n", z)
	// Output: [-1.645 1.645 1.645 1.645 -1.645 -1.645 1.645 -1.645]
}

func ExamplePlotCurves() {
	dir, err := os.MkdirTemp("", "curves")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	// metrics.jsonl as the trainer writes it: one JSON object per epoch.
	metrics := filepath.Join(dir, "metrics.jsonl")
	lines := `{"epoch":1,"train_elbo":-249.2,"val_elbo":-204.4}
{"epoch":2,"train_elbo":-179.0,"val_elbo":-169.6}
`
	if err := os.WriteFile(metrics, []byte(lines), 0o644); err != nil {
		fmt.Println(err)
		return
	}
	err = viz.PlotCurves(metrics, filepath.Join(dir, "curves.png"))
	fmt.Println("plotted:", err == nil)
	// Output: plotted: true
}
