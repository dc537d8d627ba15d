package graph

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/ir"
)

// smallMNIST is a model and data small enough for unit tests: 784-32-4 on
// 600 training and 200 validation images, batch 64 (so the last batch of an
// epoch has 24 examples).
func smallMNIST(t testing.TB) (*ir.Model, TrainOptions) {
	m := mlp(784, []int{32}, 4, ir.ReLU, ir.Bernoulli)
	m.Train.BatchSize = 64
	m.Train.Epochs = 2
	m.Train.Seed = 42
	return m, TrainOptions{Train: loadMNIST(t, 0, 600), Val: loadMNIST(t, 9800, 200)}
}

func runFiles(dir string, o TrainOptions) TrainOptions {
	o.Checkpoint = filepath.Join(dir, "checkpoint.safetensors")
	o.Best = filepath.Join(dir, "best.safetensors")
	o.Metrics = filepath.Join(dir, "metrics.jsonl")
	return o
}

func sameWeights(t *testing.T, a, b map[string]checkpoint.Tensor) {
	t.Helper()
	if len(a) != len(b) {
		t.Fatalf("%d tensors vs %d", len(a), len(b))
	}
	for k, ta := range a {
		tb, ok := b[k]
		if !ok {
			t.Fatalf("%s missing", k)
		}
		for i := range ta.Data {
			if math.Float32bits(ta.Data[i]) != math.Float32bits(tb.Data[i]) {
				t.Fatalf("%s[%d]: %v vs %v (not bit-identical)", k, i, ta.Data[i], tb.Data[i])
			}
		}
	}
}

func readMetrics(t *testing.T, path string) []EpochMetrics {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []EpochMetrics
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var em EpochMetrics
		if err := json.Unmarshal(sc.Bytes(), &em); err != nil {
			t.Fatalf("metrics line %q: %v", sc.Text(), err)
		}
		out = append(out, em)
	}
	return out
}

func TestTrainDeterministicAndResumeExact(t *testing.T) {
	m, base := smallMNIST(t)
	ctx := context.Background()

	straight := runFiles(t.TempDir(), base)
	r1, err := Train(ctx, m, straight)
	if err != nil {
		t.Fatal(err)
	}
	if r1.Epoch != 2 || len(r1.History) != 2 {
		t.Fatalf("trained %d epochs (%d history lines), want 2", r1.Epoch, len(r1.History))
	}
	h := r1.History
	if !(h[1].TrainELBO > h[0].TrainELBO) || h[1].ValELBO == nil || !(*h[1].ValELBO > -550) {
		t.Errorf("training did not progress: %+v", h)
	}
	if got := readMetrics(t, straight.Metrics); len(got) != 2 || got[1].Epoch != 2 || got[1].ValELBO == nil {
		t.Errorf("metrics.jsonl: %+v", got)
	}

	again, err := Train(ctx, m, runFiles(t.TempDir(), base))
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, r1.Weights, again.Weights)

	split := runFiles(t.TempDir(), base)
	split.Epochs = 1
	if _, err := Train(ctx, m, split); err != nil {
		t.Fatal(err)
	}
	split.Epochs, split.Resume = 2, true
	r2, err := Train(ctx, m, split)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, r1.Weights, r2.Weights)
	c, err := checkpoint.Load(split.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, r1.Weights, c.Weights)
	if c.State.Epoch != 2 || c.State.Step != r1.Steps || c.State.SpecHash != m.SpecHash {
		t.Errorf("checkpoint state %+v, want epoch 2, step %d", c.State, r1.Steps)
	}
	if got := readMetrics(t, split.Metrics); len(got) != 2 || got[0].Epoch != 1 || got[1].Epoch != 2 {
		t.Errorf("resumed metrics.jsonl: %+v", got)
	}
	if _, err := os.Stat(split.Best); err != nil {
		t.Errorf("best checkpoint: %v", err)
	}

	other := *m
	other.SpecHash = "another-spec"
	if _, err := Train(ctx, &other, split); err == nil || !strings.Contains(err.Error(), "different spec") {
		t.Errorf("resume under another spec hash: err = %v, want a refusal naming the spec", err)
	}
}

func TestTrainInterruptKeepsLastEpoch(t *testing.T) {
	m, base := smallMNIST(t)
	o := runFiles(t.TempDir(), base)
	o.Epochs = 1
	if _, err := Train(context.Background(), m, o); err != nil {
		t.Fatal(err)
	}
	want, err := checkpoint.Load(o.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.Epochs, o.Resume = 3, true
	o.Progress = func(p Progress) {
		if p.Epoch == 2 && p.Batch == 3 {
			cancel()
		}
	}
	_, err = Train(ctx, m, o)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("err = %v, want ErrInterrupted", err)
	}
	got, err := checkpoint.Load(o.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Epoch != 1 || got.State.Step != want.State.Step {
		t.Errorf("after interrupt: epoch %d step %d, want epoch 1 step %d", got.State.Epoch, got.State.Step, want.State.Step)
	}
	sameWeights(t, want.Weights, got.Weights)
}

func TestTrainStopsOnNaN(t *testing.T) {
	m, base := smallMNIST(t)
	o := runFiles(t.TempDir(), base)
	o.Epochs = 1
	if _, err := Train(context.Background(), m, o); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(o.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	// The same spec hash, but a step size that makes the loss overflow.
	m.Train.Optimizer.LearningRate = 1e6
	o.Epochs, o.Resume = 5, true
	_, err = Train(context.Background(), m, o)
	if err == nil || !strings.Contains(err.Error(), "epoch 2 batch") || !strings.Contains(err.Error(), "keeps epoch 1") {
		t.Fatalf("err = %v, want an error naming epoch 2, the batch and the kept checkpoint", err)
	}
	after, err := os.ReadFile(o.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(good, after) {
		t.Error("the failed epoch changed the last good checkpoint")
	}
}

func TestKLWeight(t *testing.T) {
	tests := []struct {
		beta   float64
		warmup int
		epoch  int
		want   float64
	}{
		{1, 0, 1, 1},
		{2, 0, 5, 2},
		{1, 4, 1, 0},
		{1, 4, 3, 0.5},
		{1, 4, 5, 1},
		{0.5, 2, 2, 0.25},
		{0.5, 2, 9, 0.5},
	}
	for _, tc := range tests {
		got := KLWeight(ir.Objective{Beta: tc.beta, WarmupEpochs: tc.warmup}, tc.epoch)
		if got != tc.want {
			t.Errorf("KLWeight(beta %v, warmup %d, epoch %d) = %v, want %v", tc.beta, tc.warmup, tc.epoch, got, tc.want)
		}
	}
}

func TestTrainEarlyStopping(t *testing.T) {
	m, base := smallMNIST(t)
	// A step too small to change any float32 weight: the validation ELBO
	// cannot improve after the first epoch.
	m.Train.Optimizer = ir.Optimizer{Kind: ir.SGD, LearningRate: 1e-12}
	m.Train.Patience = 1
	o := runFiles(t.TempDir(), base)
	o.Epochs = 5
	res, err := Train(context.Background(), m, o)
	if err != nil {
		t.Fatal(err)
	}
	if !res.StoppedEarly || res.Epoch != 2 || res.BestEpoch != 1 {
		t.Errorf("stopped early %v after epoch %d (best %d), want true after 2 (best 1)", res.StoppedEarly, res.Epoch, res.BestEpoch)
	}
	best, err := checkpoint.Load(o.Best)
	if err != nil {
		t.Fatal(err)
	}
	if best.State.Epoch != 1 {
		t.Errorf("best checkpoint holds epoch %d, want 1", best.State.Epoch)
	}
	o.Resume = true
	res, err = Train(context.Background(), m, o)
	if err != nil || !res.StoppedEarly || len(res.History) != 0 {
		t.Errorf("resuming a run that stopped early: err %v, stopped %v, %d new epochs", err, res.StoppedEarly, len(res.History))
	}
}

func TestTrainRejectsBadInput(t *testing.T) {
	m, base := smallMNIST(t)
	tests := []struct {
		name   string
		mutate func(*ir.Model, *TrainOptions)
	}{
		{"no data", func(_ *ir.Model, o *TrainOptions) { o.Train = nil }},
		{"wrong width", func(_ *ir.Model, o *TrainOptions) { o.Train = loadMNIST(t, 0, 10); o.Train.D = 100 }},
		{"zero batch", func(m *ir.Model, _ *TrainOptions) { m.Train.BatchSize = 0 }},
		{"unknown optimizer", func(m *ir.Model, _ *TrainOptions) { m.Train.Optimizer.Kind = ir.OptimizerKind(99) }},
		{"resume without file", func(_ *ir.Model, o *TrainOptions) {
			o.Resume = true
			o.Checkpoint = filepath.Join(t.TempDir(), "none")
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mm, o := *m, base
			tc.mutate(&mm, &o)
			if _, err := Train(context.Background(), &mm, o); err == nil {
				t.Error("Train accepted it")
			}
		})
	}
}
