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
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/dataset"
)

// mlp builds the IR of a VAE by hand, as the compiler would: dense layers
// hidden... in the encoder and the mirror image in the decoder.
func mlp(in int, hidden []int, latent int, act compiler.Activation, lik compiler.Likelihood) *compiler.Model {
	m := &compiler.Model{
		Version: 1, Name: "test", SpecHash: "hash-" + string(lik),
		Input:      compiler.Input{Shape: []int{in}, Size: in, Scale: 1},
		Latent:     latent,
		Likelihood: lik,
		Objective:  compiler.Objective{Beta: 1, Samples: 1},
		Train: compiler.Train{
			Optimizer: compiler.Optimizer{Kind: compiler.Adam, LearningRate: 1e-3, Beta1: 0.9, Beta2: 0.999, Epsilon: 1e-8},
			BatchSize: 32, Epochs: 1, Seed: 1,
		},
	}
	layer := func(name string, in, out int, act compiler.Activation) compiler.Layer {
		l := compiler.Layer{Name: name, Op: compiler.Dense, In: in, Out: out, Activation: act, Weight: name + ".weight", Bias: name + ".bias"}
		m.Params = append(m.Params,
			compiler.Param{Name: l.Weight, Shape: []int{in, out}, Init: compiler.InitFanInUniform, FanIn: in},
			compiler.Param{Name: l.Bias, Shape: []int{out}, Init: compiler.InitFanInUniform, FanIn: in})
		return l
	}
	prev := in
	for i, h := range hidden {
		m.Encoder = append(m.Encoder, layer(fmt.Sprintf("encoder.%d", i), prev, h, act))
		prev = h
	}
	m.Mu = layer("encoder.mu", prev, latent, compiler.Linear)
	m.Logvar = layer("encoder.logvar", prev, latent, compiler.Linear)
	prev = latent
	for i := len(hidden) - 1; i >= 0; i-- {
		m.Decoder = append(m.Decoder, layer(fmt.Sprintf("decoder.%d", len(hidden)-1-i), prev, hidden[i], act))
		prev = hidden[i]
	}
	outAct := compiler.Linear
	m.Output = layer("decoder.out", prev, in, outAct)
	switch lik {
	case compiler.GaussianFixed:
		m.Sigma = 0.5
	case compiler.GaussianLearned:
		m.OutputLogvar = "decoder.logvar"
		m.Params = append(m.Params, compiler.Param{Name: m.OutputLogvar, Shape: []int{in}, Init: compiler.InitZeros})
	}
	return m
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
func directDense(x []float64, n int, l compiler.Layer, w map[string]checkpoint.Tensor) []float64 {
	W, b := w[l.Weight].Data, w[l.Bias].Data
	y := make([]float64, n*l.Out)
	for r := 0; r < n; r++ {
		for o := 0; o < l.Out; o++ {
			s := float64(b[o])
			for i := 0; i < l.In; i++ {
				s += x[r*l.In+i] * float64(W[i*l.Out+o])
			}
			y[r*l.Out+o] = directAct(s, l)
		}
	}
	return y
}

func directAct(v float64, l compiler.Layer) float64 {
	switch l.Activation {
	case compiler.ReLU:
		return math.Max(v, 0)
	case compiler.Tanh:
		return math.Tanh(v)
	case compiler.Sigmoid:
		return 1 / (1 + math.Exp(-v))
	case compiler.Softplus:
		return math.Log1p(math.Exp(v))
	case compiler.LeakyReLU:
		if v < 0 {
			return l.Alpha * v
		}
	case compiler.ELU:
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
