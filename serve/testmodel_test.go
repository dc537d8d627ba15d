package serve

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/graph"
	"github.com/vaec/vaec/ir"
)

// mnistModel is the MNIST example (784-400-20, Bernoulli) trained for one
// epoch and exported, with what the tests compare against.
type mnistModel struct {
	dir     string // holds encoder.onnx and decoder.onnx
	enc     []byte
	dec     []byte
	m       *ir.Model
	w       map[string]checkpoint.Tensor
	val     *dataset.Set // validation images, scaled as the training graph takes them
	raw     *dataset.Set // the same images as the file holds them (0..255), as the exported encoder takes them
	encPath string
	decPath string
}

var (
	mnistOnce sync.Once
	mnist     *mnistModel
	mnistErr  error
)

// trainedMNIST trains and exports the model once per test binary (about a
// second on two cores). It is the only place the tests touch the compiler,
// the trainer and the exporter.
func trainedMNIST(t testing.TB) *mnistModel {
	t.Helper()
	mnistOnce.Do(func() {
		mnist, mnistErr = buildMNIST()
	})
	if mnistErr != nil {
		t.Fatal(mnistErr)
	}
	return mnist
}

func buildMNIST() (*mnistModel, error) {
	m, err := compiler.CompileFile(filepath.Join("..", "testdata", "specs", "mnist.yaml"))
	if err != nil {
		return nil, err
	}
	train, err := dataset.Load(m.Data.Train, m.Input)
	if err != nil {
		return nil, err
	}
	val, err := dataset.Load(*m.Data.Validation, m.Input)
	if err != nil {
		return nil, err
	}
	res, err := graph.Train(context.Background(), m, graph.TrainOptions{Train: train, Epochs: 1})
	if err != nil {
		return nil, err
	}
	raw, err := dataset.Load(*m.Data.Validation, dataset.RawInput(m.Input))
	if err != nil {
		return nil, err
	}
	mm := &mnistModel{m: m, w: res.Weights, val: val, raw: raw}
	if mm.enc, err = export.Encoder(m, res.Weights, export.Options{}); err != nil {
		return nil, err
	}
	if mm.dec, err = export.Decoder(m, res.Weights, export.Options{}); err != nil {
		return nil, err
	}
	// A directory of the package's own: t.TempDir would vanish with the
	// first test that made it.
	if mm.dir, err = os.MkdirTemp("", "vaec-serve-test"); err != nil {
		return nil, err
	}
	mm.encPath = filepath.Join(mm.dir, "encoder.onnx")
	mm.decPath = filepath.Join(mm.dir, "decoder.onnx")
	if err := os.WriteFile(mm.encPath, mm.enc, 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(mm.decPath, mm.dec, 0o644); err != nil {
		return nil, err
	}
	return mm, nil
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mnist != nil {
		os.RemoveAll(mnist.dir)
	}
	os.Exit(code)
}
