package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

// tinyRun is a model and data set small enough to train inside a fuzz loop.
func tinyRun() (*ir.Model, *dataset.Set) {
	m := mlp(6, []int{4}, 2, ir.Tanh, ir.Bernoulli)
	m.Train.BatchSize = 4
	set := &dataset.Set{N: 10, D: 6, X: make([]float32, 60)}
	for i := range set.X {
		set.X[i] = float32(i%7) / 7
	}
	return m, set
}

// FuzzResume feeds arbitrary checkpoint files to a resumed run: whatever
// the bytes, Train must return an error or train to the requested epoch,
// never panic.
func FuzzResume(f *testing.F) {
	m, set := tinyRun()
	dir := f.TempDir()
	o := TrainOptions{Train: set, Checkpoint: filepath.Join(dir, "seed.safetensors"), Epochs: 1}
	if _, err := Train(context.Background(), m, o); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(o.Checkpoint)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add(bytes.Replace(good, []byte(`\"rng\":\"`), []byte(`\"rng\":\"AA`), 1))
	f.Add(bytes.Replace(good, []byte(m.SpecHash), []byte("other-spec-hash"), -1))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "c.safetensors")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := Train(context.Background(), m, TrainOptions{Train: set, Checkpoint: path, Resume: true, Epochs: 2})
		if err == nil && res.Epoch != 2 && !res.StoppedEarly {
			t.Fatalf("resumed run ended at epoch %d, want 2", res.Epoch)
		}
	})
}

// FuzzLinesBefore checks the metrics.jsonl reader of the plain-file store:
// never a panic, and only epochs before the limit kept.
func FuzzLinesBefore(f *testing.F) {
	f.Add([]byte("{\"epoch\":1,\"train_elbo\":-200}\n{\"epoch\":2}\n{\"epoch\":3}\n"))
	f.Add([]byte("{\"epoch\":1}\nnot json\n"))
	f.Add([]byte("\n\n"))
	f.Add([]byte(`{"epoch":"x"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "metrics.jsonl")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		kept, err := linesBefore(path, 3)
		if err != nil {
			return
		}
		sc := bufio.NewScanner(bytes.NewReader(kept))
		for sc.Scan() {
			var e struct{ Epoch int }
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Epoch > 2 {
				t.Fatalf("kept line %q (epoch %d, err %v)", sc.Text(), e.Epoch, err)
			}
		}
	})
}
