package conformance

import (
	"math"
	"testing"

	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
)

// TestORTScoreMatchesGraph runs score.onnx in ONNX Runtime on every test
// model (convolutional ones with image-shaped outputs included) and
// compares its score, −log p(x | z = mu) + KL(q(z|x) ‖ p(z)), with the
// same quantity computed in float64 from the training graph's encoder and
// decoder outputs, within 1e-4·max(1, |score|): the graph's decoder gives
// probabilities rather than logits, so the Bernoulli term carries float32
// rounding of p near 0 and 1.
func TestORTScoreMatchesGraph(t *testing.T) {
	requireORT(t)
	models := testModels(t)
	for _, name := range sortedNames(models) {
		m := models[name]
		t.Run(name, func(t *testing.T) {
			if m.Likelihood.Kind == ir.Bernoulli && m.Input.Normalize != ir.NormalizeNone {
				t.Skip("normalised inputs leave [0, 1]")
			}
			w := graph.InitWeights(m, 3)
			n := min(200, examples(t, m))
			x, xr := mnist(t, m)[:n*m.Input.Size], mnistRaw(t, m)[:n*m.Input.Size]
			file, err := export.Score(m, w, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			got, shapes, err := runORT(file, []feed{{ir.InputX, inputShape(m, n), xr}}, []string{ir.OutputScore})
			if err != nil {
				t.Fatal(err)
			}
			mu, logvar, err := graph.Encode(m, w, x, n)
			if err != nil {
				t.Fatal(err)
			}
			dec, err := graph.Decode(m, w, mu, n)
			if err != nil {
				t.Fatal(err)
			}
			expect := dec[m.DecoderOutputs()[0]]
			d, l := m.Input.Size, m.Latent
			want := make([]float64, n)
			for i := range want {
				var recon float64
				for j := 0; j < d; j++ {
					xv, e := float64(x[i*d+j]), float64(expect[i*d+j])
					switch m.Likelihood.Kind {
					case ir.Bernoulli:
						p := math.Min(math.Max(e, 1e-38), 1-1e-7)
						recon -= xv*math.Log(p) + (1-xv)*math.Log1p(-p)
					case ir.GaussianFixed:
						s := m.Likelihood.Sigma
						recon += (xv-e)*(xv-e)/(2*s*s) + 0.5*(math.Log(2*math.Pi)+2*math.Log(s))
					case ir.GaussianLearned:
						lv := float64(w[m.Likelihood.Logvar].Data[j])
						recon += 0.5 * ((xv-e)*(xv-e)*math.Exp(-lv) + lv + math.Log(2*math.Pi))
					}
				}
				var kl float64
				for k := 0; k < l; k++ {
					mv, lv := float64(mu[i*l+k]), float64(logvar[i*l+k])
					kl += 0.5 * (math.Exp(lv) + mv*mv - 1 - lv)
				}
				want[i] = recon + kl
			}
			if len(shapes[ir.OutputScore]) != 1 || shapes[ir.OutputScore][0] != int64(n) {
				t.Fatalf("score shape %v, want [%d]", shapes[ir.OutputScore], n)
			}
			worst := 0.0
			for i, v := range got[ir.OutputScore] {
				r := math.Abs(float64(v)-want[i]) / math.Max(1, math.Abs(want[i]))
				if r > 1e-4 || math.IsNaN(r) {
					t.Fatalf("score[%d] = %v in ONNX Runtime, %v from the graph (relative difference %.2g)", i, v, want[i], r)
				}
				worst = math.Max(worst, r)
			}
			t.Logf("score: largest relative difference %.2g over %d examples", worst, n)
		})
	}
}
