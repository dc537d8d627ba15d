package conformance

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/ir"
)

// nImages is the number of MNIST test images every comparison runs.
const nImages = 1000

// tol is the largest absolute difference allowed between ONNX Runtime and
// the training graph on any output value.
const tol = 1e-5

func testOptions() export.Options {
	elbo := -98.5
	return export.Options{Metadata: export.Metadata{ProducerVersion: "conformance", EpochsTrained: 1, ValELBO: &elbo}}
}

// TestCheckerAcceptsEveryExport: every spec, every model kind, every opset.
func TestCheckerAcceptsEveryExport(t *testing.T) {
	models := testModels(t)
	files := map[string][]byte{}
	for _, name := range sortedNames(models) {
		m := models[name]
		w := randomWeights(m, 1)
		for _, opset := range export.SupportedOpsets {
			opts := testOptions()
			opts.Opset = opset
			for _, e := range []struct {
				role string
				fn   func() ([]byte, error)
			}{
				{export.RoleEncoder, func() ([]byte, error) { return export.Encoder(m, w, opts) }},
				{export.RoleDecoder, func() ([]byte, error) { return export.Decoder(m, w, opts) }},
				{export.RoleRoundTrip, func() ([]byte, error) { return export.RoundTrip(m, w, opts) }},
				{export.RoleScore, func() ([]byte, error) { return export.Score(m, w, opts) }},
			} {
				data, err := e.fn()
				if err != nil {
					t.Fatalf("%s %s opset %d: %v", name, e.role, opset, err)
				}
				files[fmt.Sprintf("%s %s opset %d", name, e.role, opset)] = data
			}
		}
	}
	CheckAll(t, files)
}

// source is where the test images for m come from: the MNIST test set,
// or the model's own training file when its input is not MNIST's.
func source(m *ir.Model) ir.Source {
	if m.Input.Size != 784 {
		s := m.Data.Train // with its format and column selection; small files are read whole
		s.Start, s.Limit = 0, 0
		return s
	}
	return ir.Source{Path: mnistImages, Limit: nImages}
}

// examples is how many examples mnist gives for m: nImages, or all of a
// smaller training file.
func examples(t *testing.T, m *ir.Model) int { return len(mnist(t, m)) / m.Input.Size }

// mnist loads the first nImages test images scaled for m (images of m's
// own training file when m does not take MNIST's).
func mnist(t *testing.T, m *ir.Model) []float32 {
	t.Helper()
	set, err := dataset.Load(source(m), m.Input)
	if err != nil {
		t.Fatal(err)
	}
	if set.N != nImages && m.Input.Size == 784 {
		t.Fatalf("loaded %d images, want %d", set.N, nImages)
	}
	return set.X[:min(set.N, nImages)*set.D]
}

// mnistRaw is mnist as the file holds it (0..255): what the exported
// encoder, with the input's scaling inside, takes.
func mnistRaw(t *testing.T, m *ir.Model) []float32 {
	t.Helper()
	set, err := dataset.Load(source(m), dataset.RawInput(m.Input))
	if err != nil {
		t.Fatal(err)
	}
	return set.X[:min(set.N, nImages)*set.D]
}

// normals draws n·k standard normal values (the round trip's ε).
func normals(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(rng.NormFloat64())
	}
	return out
}

// diff is the largest absolute difference between got and want.
func diff[T float32 | float64](got []float32, want []T) (float64, int) {
	worst, at := 0.0, -1
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if d > worst || math.IsNaN(d) {
			worst, at = d, i
			if math.IsNaN(d) {
				return math.Inf(1), i
			}
		}
	}
	return worst, at
}

// compare checks one output against its expected values and shape.
func compare[T float32 | float64](t *testing.T, what string, got []float32, shape []int64, want []T, wantShape []int64, tol float64) {
	t.Helper()
	if !slices.Equal(shape, wantShape) {
		t.Errorf("%s: ONNX Runtime shape %v, want %v", what, shape, wantShape)
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", what, len(got), len(want))
		return
	}
	d, at := diff(got, want)
	if d > tol {
		t.Errorf("%s: max |ORT - want| = %.3g at %d (ORT %v, want %v), tolerance %g", what, d, at, got[at], want[at], tol)
		return
	}
	t.Logf("%s: max abs error %.3g over %d values", what, d, len(got))
}

// outputShape is the ONNX shape of a decoder output for n samples.
func outputShape(m *ir.Model, name string, n int) []int64 {
	if name == ir.OutputLogvar {
		return []int64{int64(n), int64(m.Input.Size)}
	}
	s := []int64{int64(n)}
	for _, d := range m.Input.Shape {
		s = append(s, int64(d))
	}
	return s
}

func inputShape(m *ir.Model, n int) []int64 { return outputShape(m, ir.OutputMean, n) }

// refImages is how many images the float64 reference checks: it is slow, and
// the 1,000-image comparison is the one against the training graph.
const refImages = 200

// TestORTMatchesReference runs the three exports in ONNX Runtime on MNIST
// and compares them with the float64 reference forward pass.
func TestORTMatchesReference(t *testing.T) {
	requireORT(t)
	models := testModels(t)
	for _, name := range sortedNames(models) {
		m := models[name]
		t.Run(name, func(t *testing.T) {
			if !denseOnly(m) {
				// The float64 reference implements dense layers;
				// TestORTMatchesGraph compares conv models with the
				// training graph, whose fused ops are tested against
				// references of their own.
				t.Skip("the float64 reference covers dense layers only")
			}
			n := min(refImages, examples(t, m))
			if testing.Short() {
				n = 20
			}
			w := randomWeights(m, 2)
			x := mnist(t, m)[:n*m.Input.Size]
			xr := mnistRaw(t, m)[:n*m.Input.Size]
			enc, err := export.Encoder(m, w, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, shapes, err := runORT(enc, []feed{{ir.InputX, inputShape(m, n), xr}}, []string{ir.OutputMu, ir.OutputLogvar})
			if err != nil {
				t.Fatal(err)
			}
			mu, logvar := refEncode(m, w, x, n)
			latent := []int64{int64(n), int64(m.Latent)}
			compare(t, "encoder mu", got[ir.OutputMu], shapes[ir.OutputMu], mu, latent, tol)
			compare(t, "encoder logvar", got[ir.OutputLogvar], shapes[ir.OutputLogvar], logvar, latent, tol)

			// Decode the encoder's means, so that z is in the region the
			// data maps to.
			z := got[ir.OutputMu]
			dec, err := export.Decoder(m, w, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			outs := m.DecoderOutputs()
			dgot, dshapes, err := runORT(dec, []feed{{ir.InputZ, latent, z}}, outs)
			if err != nil {
				t.Fatal(err)
			}
			z64 := make([]float64, len(z))
			for i, v := range z {
				z64[i] = float64(v)
			}
			want := refDecode(m, w, z64, n)
			for _, o := range outs {
				compare(t, "decoder "+o, dgot[o], dshapes[o], want[o], outputShape(m, o, n), tol)
			}

			// Round trip: z = mu + exp(logvar/2)·eps, then decode.
			eps := normals(n*m.Latent, 5)
			rt, err := export.RoundTrip(m, w, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			rgot, rshapes, err := runORT(rt, []feed{{ir.InputX, inputShape(m, n), xr}, {ir.InputEps, latent, eps}}, outs)
			if err != nil {
				t.Fatal(err)
			}
			zs := make([]float64, len(mu))
			for i := range zs {
				zs[i] = mu[i] + math.Exp(logvar[i]/2)*float64(eps[i])
			}
			want = refDecode(m, w, zs, n)
			for _, o := range outs {
				compare(t, "roundtrip "+o, rgot[o], rshapes[o], want[o], outputShape(m, o, n), tol)
			}
		})
	}
}

// denseOnly tells whether every node of m is dense.
func denseOnly(m *ir.Model) bool {
	for _, g := range []*ir.Graph{&m.Encoder, &m.Decoder} {
		for _, n := range g.Nodes {
			if n.Op != ir.Dense {
				return false
			}
		}
	}
	return true
}
