package conformance

import (
	"context"
	"math"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
)

// TestORTMatchesGraph is the acceptance check of the exporter: encoder.onnx
// and decoder.onnx (and the round-trip model), run by ONNX Runtime on 1,000
// MNIST test images, give the training graph's forward pass (graph.Encode,
// graph.Decode) within 1e-5 on every output, with freshly initialised
// weights and after a short training run.
func TestORTMatchesGraph(t *testing.T) {
	requireORT(t)
	models := testModels(t)
	for _, name := range sortedNames(models) {
		m := models[name]
		t.Run(name+"/init", func(t *testing.T) {
			compareWithGraph(t, m, graph.InitWeights(m, 1))
		})
	}
	// Training moves the weights away from the initial distribution (the
	// learned log-variance away from zero, batch norm's running statistics
	// away from 0 and 1): an MLP, a Gaussian, and the conv VAE of issue 11
	// with and without batch norm.
	for _, name := range []string{"mnist.yaml", "gaussian.yaml", "mnist-conv.yaml", "mnist-conv-bn.yaml"} {
		m, ok := models[name]
		if !ok {
			t.Errorf("testdata/specs/%s is missing", name)
			continue
		}
		t.Run(name+"/trained", func(t *testing.T) {
			if testing.Short() {
				t.Skip("training is skipped in -short mode")
			}
			compareWithGraph(t, m, trainBriefly(t, m))
		})
	}
}

// trainBriefly trains m for one epoch on 1,000 MNIST images.
func trainBriefly(t *testing.T, m *ir.Model) map[string]checkpoint.Tensor {
	t.Helper()
	set, err := dataset.Load(ir.Source{Path: mnistImages, Start: 5000, Limit: nImages}, m.Input)
	if err != nil {
		t.Fatal(err)
	}
	res, err := graph.Train(context.Background(), m, graph.TrainOptions{Train: set, Epochs: 1})
	if err != nil {
		t.Fatal(err)
	}
	if res.Epoch != 1 {
		t.Fatalf("trained %d epochs, want 1", res.Epoch)
	}
	return res.Weights
}

// compareWithGraph exports m with w and compares ONNX Runtime with graph on
// nImages MNIST images: the encoder on the images, the decoder on the
// graph's mu for them.
func compareWithGraph(t *testing.T, m *ir.Model, w map[string]checkpoint.Tensor) {
	t.Helper()
	x, xr := mnist(t, m), mnistRaw(t, m)
	n := len(x) / m.Input.Size
	enc, err := export.Encoder(m, w, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	dec, err := export.Decoder(m, w, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, shapes, err := runORT(enc, []feed{{ir.InputX, inputShape(m, n), xr}}, []string{ir.OutputMu, ir.OutputLogvar})
	if err != nil {
		t.Fatal(err)
	}
	mu, logvar, err := graph.Encode(m, w, x, n)
	if err != nil {
		t.Fatal(err)
	}
	latent := []int64{int64(n), int64(m.Latent)}
	compare(t, "encoder mu", got[ir.OutputMu], shapes[ir.OutputMu], mu, latent, tol)
	compare(t, "encoder logvar", got[ir.OutputLogvar], shapes[ir.OutputLogvar], logvar, latent, tol)

	outs := m.DecoderOutputs()
	dgot, dshapes, err := runORT(dec, []feed{{ir.InputZ, latent, mu}}, append(outs, ir.OutputMeanRaw))
	if err != nil {
		t.Fatal(err)
	}
	want, err := graph.Decode(m, w, mu, n)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		compare(t, "decoder "+o, dgot[o], dshapes[o], want[o], outputShape(m, o, n), tol)
	}
	// mean_raw is E[x|z] in pixel units: the expectation with the scaling undone.
	expect := want[m.DecoderOutputs()[0]]
	a, b := m.Input.Affine()
	raw := make([]float32, len(expect))
	for i, v := range expect {
		d := i % m.Input.Size
		raw[i] = float32((float64(v) - b[d]) / a[d])
	}
	// Raw units reach 255: the tolerance is relative, tol·max(1, |v|).
	big := 1.0
	for _, v := range raw {
		big = math.Max(big, math.Abs(float64(v)))
	}
	compare(t, "decoder mean_raw", dgot[ir.OutputMeanRaw], dshapes[ir.OutputMeanRaw], raw, outputShape(m, ir.OutputMean, n), tol*big)

	// The round-trip file against the graph's encoder, the same
	// reparameterisation in float32, and the graph's decoder.
	rt, err := export.RoundTrip(m, w, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	eps := normals(n*m.Latent, 9)
	rgot, rshapes, err := runORT(rt, []feed{{ir.InputX, inputShape(m, n), xr}, {ir.InputEps, latent, eps}}, outs)
	if err != nil {
		t.Fatal(err)
	}
	z := make([]float32, len(mu))
	for i := range z {
		z[i] = mu[i] + float32(math.Exp(float64(logvar[i]*0.5)))*eps[i]
	}
	if want, err = graph.Decode(m, w, z, n); err != nil {
		t.Fatal(err)
	}
	for _, o := range outs {
		compare(t, "roundtrip "+o, rgot[o], rshapes[o], want[o], outputShape(m, o, n), tol)
	}
}
