package graph

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/vaec/vaec/ir"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// evalNodes builds a graph with the given [rows, cols] inputs, applies fn
// and returns the scalar result and, when grad is set, the gradient with
// respect to each input.
func evalNodes(t *testing.T, rows, cols int, inputs [][]float32, grad bool, fn func(in []*G.Node) (*G.Node, error)) (float64, [][]float32) {
	t.Helper()
	g := G.NewGraph()
	var nodes []*G.Node
	for i, d := range inputs {
		v := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(append([]float32(nil), d...)))
		nodes = append(nodes, G.NewMatrix(g, G.Float32, G.WithShape(rows, cols), G.WithName(string(rune('a'+i))), G.WithValue(v)))
	}
	out, err := fn(nodes)
	if err != nil {
		t.Fatal(err)
	}
	var gs G.Nodes
	if grad {
		if gs, err = G.Grad(out, nodes...); err != nil {
			t.Fatal(err)
		}
	}
	vm := G.NewTapeMachine(g)
	defer vm.Close()
	if err := vm.RunAll(); err != nil {
		t.Fatal(err)
	}
	v, err := scalar(out)
	if err != nil {
		t.Fatal(err)
	}
	var grads [][]float32
	for _, gn := range gs {
		grads = append(grads, append([]float32(nil), gn.Value().Data().([]float32)...))
	}
	return v, grads
}

func sigmoid(l float64) float64 { return 1 / (1 + math.Exp(-l)) }

func TestBernoulliNLL(t *testing.T) {
	tests := []struct {
		logit, x float64
	}{
		{0, 0}, {0, 1}, {0.5, 0.3}, {-2, 1}, {3, 0}, {10, 0.7}, {-25, 0.2},
		{100, 0}, {100, 1}, {100, 0.5}, {-100, 0}, {-100, 1}, {-100, 0.5},
	}
	for _, tc := range tests {
		got, grads := evalNodes(t, 1, 1, [][]float32{{float32(tc.logit)}, {float32(tc.x)}}, true, func(in []*G.Node) (*G.Node, error) {
			return bernoulliNLL(in[0], in[1])
		})
		var want float64
		if math.Abs(tc.logit) <= 30 {
			// The textbook formula, fine where the sigmoid does not round to 0 or 1.
			p := sigmoid(tc.logit)
			want = -(tc.x*math.Log(p) + (1-tc.x)*math.Log(1-p))
		} else if tc.logit > 0 {
			want = (1 - tc.x) * tc.logit // −log p ≈ 0, −log(1−p) ≈ l
		} else {
			want = -tc.x * tc.logit
		}
		if !closeTo(got, want, 1e-5, 1e-5) {
			t.Errorf("NLL(logit %v, x %v) = %v, want %v", tc.logit, tc.x, got, want)
		}
		dl := float64(grads[0][0])
		if wantD := sigmoid(tc.logit) - tc.x; math.IsNaN(dl) || math.IsInf(dl, 0) || !closeTo(dl, wantD, 1e-6, 1e-5) {
			t.Errorf("dNLL/dlogit(logit %v, x %v) = %v, want %v", tc.logit, tc.x, dl, wantD)
		}
	}
}

func TestGaussianNLL(t *testing.T) {
	tests := []struct {
		mean, x, sigma, logvar float64
	}{
		{0, 0, 1, 0}, {0.5, 0.2, 0.1, -3}, {-1, 2, 2, 1.5}, {100, -100, 0.5, 8}, {0.3, 0.3, 1e-2, -9},
	}
	for _, tc := range tests {
		wantFixed := 0.5*math.Log(2*math.Pi) + math.Log(tc.sigma) + (tc.x-tc.mean)*(tc.x-tc.mean)/(2*tc.sigma*tc.sigma)
		got, _ := evalNodes(t, 1, 1, [][]float32{{float32(tc.mean)}, {float32(tc.x)}}, false, func(in []*G.Node) (*G.Node, error) {
			return gaussianFixedNLL(in[0], in[1], tc.sigma)
		})
		if !closeTo(got, wantFixed, 1e-5, 1e-5) {
			t.Errorf("fixed NLL(mean %v, x %v, sigma %v) = %v, want %v", tc.mean, tc.x, tc.sigma, got, wantFixed)
		}
		v := math.Exp(tc.logvar)
		wantLearned := 0.5*math.Log(2*math.Pi*v) + (tc.x-tc.mean)*(tc.x-tc.mean)/(2*v)
		got, _ = evalNodes(t, 1, 1, [][]float32{{float32(tc.mean)}, {float32(tc.x)}, {float32(tc.logvar)}}, false, func(in []*G.Node) (*G.Node, error) {
			return gaussianLearnedNLL(in[0], in[1], in[2])
		})
		if !closeTo(got, wantLearned, 1e-5, 1e-5) {
			t.Errorf("learned NLL(mean %v, x %v, logvar %v) = %v, want %v", tc.mean, tc.x, tc.logvar, got, wantLearned)
		}
	}
}

// TestKLMatchesMonteCarlo compares the closed-form KL with the Monte Carlo
// estimate E_q[log q(z) − log p(z)] over many draws.
func TestKLMatchesMonteCarlo(t *testing.T) {
	mu := []float32{0, 1.5, -0.7, 0.2}
	lv := []float32{0, -1, 0.8, -2.5}
	got, _ := evalNodes(t, 1, len(mu), [][]float32{mu, lv}, false, func(in []*G.Node) (*G.Node, error) {
		return klDivergence(in[0], in[1])
	})
	rng := rand.New(rand.NewPCG(9, 9))
	const draws = 200000
	var sum, sumSq float64
	for range draws {
		var s float64
		for i := range mu {
			m, sd := float64(mu[i]), math.Exp(0.5*float64(lv[i]))
			e := rng.NormFloat64()
			z := m + sd*e
			// log q − log p; the log 2π terms cancel.
			s += -math.Log(sd) - 0.5*e*e + 0.5*z*z
		}
		sum += s
		sumSq += s * s
	}
	mean := sum / draws
	se := math.Sqrt((sumSq/draws - mean*mean) / draws)
	if math.Abs(got-mean) > 4*se {
		t.Errorf("closed-form KL %v, Monte Carlo %v ± %v", got, mean, se)
	}
}

// TestGradientsMatchFiniteDifferences checks ∂loss/∂param of the whole
// training graph (encoder, sampling, decoder, likelihood, KL) against
// central differences, for every parameter element of a small model.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	tests := []struct {
		name    string
		hidden  []int
		act     ir.Activation
		lik     ir.LikelihoodKind
		samples int
		klw     float32
	}{
		{"tanh bernoulli", []int{4}, ir.Tanh, ir.Bernoulli, 1, 1},
		{"softplus gaussian fixed, 2 samples", []int{4}, ir.Softplus, ir.GaussianFixed, 2, 0.5},
		{"elu gaussian learned", []int{3, 4}, ir.ELU, ir.GaussianLearned, 1, 2},
		{"sigmoid no hidden", nil, ir.Sigmoid, ir.Bernoulli, 3, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			const in, latent, batch = 5, 2, 3
			m := mlp(in, tc.hidden, latent, tc.act, tc.lik)
			setAlpha(m, 1)
			w := InitWeights(m, 5)
			if lv, ok := w["decoder.logvar"]; ok {
				for i := range lv.Data {
					lv.Data[i] = 0.2 * float32(i-2)
				}
			}
			n, err := buildNet(m, w, batch, tc.samples, true)
			if err != nil {
				t.Fatal(err)
			}
			defer n.close()
			rng := rand.New(rand.NewPCG(3, 4))
			for i := range n.xv.Data().([]float32) {
				n.xv.Data().([]float32)[i] = float32(rng.Float64())
			}
			fillNormal(rng, n.epsv.Data().([]float32))
			if _, _, _, err := n.run(tc.klw); err != nil {
				t.Fatal(err)
			}
			analytic := make([][]float32, len(m.Params))
			for i := range m.Params {
				g, err := n.grad(i)
				if err != nil {
					t.Fatal(err)
				}
				analytic[i] = append([]float32(nil), g...)
			}
			const h = 1e-2
			loss := func() float64 {
				_, _, l, err := n.run(tc.klw)
				if err != nil {
					t.Fatal(err)
				}
				return l
			}
			for i, p := range m.Params {
				d := w[p.Name].Data
				for j := range d {
					orig := d[j]
					d[j] = orig + h
					up := loss()
					d[j] = orig - h
					down := loss()
					d[j] = orig
					fd := (up - down) / (2 * h)
					if !closeTo(float64(analytic[i][j]), fd, 2e-3, 2e-2) {
						t.Errorf("%s[%d]: gradient %v, finite difference %v", p.Name, j, analytic[i][j], fd)
					}
				}
			}
		})
	}
}
