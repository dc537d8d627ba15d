package graph

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// mlp builds the IR of a VAE by hand, as the compiler would: dense layers
// hidden... in the encoder and the mirror image in the decoder.
func mlp(in int, hidden []int, latent int, act ir.Activation, lik ir.LikelihoodKind) *ir.Model {
	var enc, dec []ir.DenseLayer
	for _, h := range hidden {
		enc = append(enc, ir.DenseLayer{Units: h, Activation: act})
	}
	for i := len(hidden) - 1; i >= 0; i-- {
		dec = append(dec, ir.DenseLayer{Units: hidden[i], Activation: act})
	}
	l := ir.Likelihood{Kind: lik}
	if lik == ir.GaussianFixed {
		l.Sigma = 0.5
	}
	m, err := ir.NewMLP("test", ir.Shape{in}, latent, enc, dec, l, ir.Linear)
	if err != nil {
		panic(err)
	}
	m.SpecHash = "hash-" + lik.String()
	m.Objective = ir.Objective{Beta: 1, Samples: 1}
	m.Train = ir.Train{
		Optimizer: ir.Optimizer{Kind: ir.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8},
		BatchSize: 32, Epochs: 1, Seed: 1,
	}
	return m
}

// setAlpha sets the alpha of every hidden node of m whose activation takes
// one (heads and output stay linear; the verifier refuses an alpha on
// activations without one).
func setAlpha(m *ir.Model, alpha float64) {
	for _, g := range []*ir.Graph{&m.Encoder, &m.Decoder} {
		for i := range g.Nodes {
			if g.Nodes[i].Role == ir.Hidden && g.Nodes[i].Activation.HasAlpha() {
				g.Nodes[i].Alpha = alpha
			}
		}
	}
}

// mnistPath is the MNIST test set shipped in the repository.
func mnistPath(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("MNIST not available: %v", err)
	}
	return p
}

var (
	mnistOnce sync.Once
	mnistAll  *dataset.Set
	mnistErr  error
)

// loadMNIST reads images [start, start+n) of the MNIST test set scaled to
// [0, 1]. A small reader of its own keeps these tests independent of the
// dataset package, which is written concurrently.
func loadMNIST(t testing.TB, start, n int) *dataset.Set {
	t.Helper()
	path := mnistPath(t)
	mnistOnce.Do(func() { mnistAll, mnistErr = readIDXImages(path) })
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	if start+n > mnistAll.N {
		t.Fatalf("MNIST has %d images, asked for [%d, %d)", mnistAll.N, start, start+n)
	}
	d := mnistAll.D
	return &dataset.Set{X: mnistAll.X[start*d : (start+n)*d], N: n, D: d}
}

func readIDXImages(path string) (*dataset.Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		return nil, err
	}
	var hdr struct{ Magic, N, H, W uint32 }
	if err := binary.Read(bytes.NewReader(raw), binary.BigEndian, &hdr); err != nil || hdr.Magic != 0x803 {
		return nil, fmt.Errorf("%s: not an IDX image file", path)
	}
	d := int(hdr.H * hdr.W)
	px := raw[16:]
	if len(px) != int(hdr.N)*d {
		return nil, fmt.Errorf("%s: truncated", path)
	}
	s := &dataset.Set{X: make([]float32, len(px)), N: int(hdr.N), D: d}
	for i, b := range px {
		s.X[i] = float32(b) / 255
	}
	return s, nil
}

// direct computes the model's forward pass in float64 with plain loops, the
// reference the graph is compared against.
func directDense(x []float64, n int, l *ir.Node, w map[string]checkpoint.Tensor) []float64 {
	W, b := w[l.Params[0]].Data, w[l.Params[1]].Data
	in, out := l.In[0].Size(), l.Units
	y := make([]float64, n*out)
	for r := 0; r < n; r++ {
		for o := 0; o < out; o++ {
			s := float64(b[o])
			for i := 0; i < in; i++ {
				s += x[r*in+i] * float64(W[i*out+o])
			}
			y[r*out+o] = directAct(s, l)
		}
	}
	return y
}

func directAct(v float64, l *ir.Node) float64 {
	switch l.Activation {
	case ir.ReLU:
		return math.Max(v, 0)
	case ir.Tanh:
		return math.Tanh(v)
	case ir.Sigmoid:
		return 1 / (1 + math.Exp(-v))
	case ir.Softplus:
		return math.Log1p(math.Exp(v))
	case ir.LeakyReLU:
		if v < 0 {
			return l.Alpha * v
		}
	case ir.ELU:
		if v < 0 {
			return l.Alpha * math.Expm1(v)
		}
	}
	return v
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func closeTo(got, want, atol, rtol float64) bool {
	return math.Abs(got-want) <= atol+rtol*math.Abs(want)
}
