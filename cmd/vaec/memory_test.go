package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// memoryModels are the three models of TestMemoryEstimate: small, medium
// and wide, so that runtime, activations and parameters each dominate one.
var memoryModels = []struct {
	name          string
	hidden        []int
	latent, batch int
	limit         int // training images; validation is 1,000 more
}{
	{"small", []int{128}, 8, 128, 2000},
	{"medium", []int{1024, 512}, 32, 256, 9000},
	{"wide", []int{2048, 2048}, 32, 512, 1024},
}

// TestMemoryEstimate compares `vaec build`'s estimate with the peak RSS of
// `vaec train` (one epoch) on three models: within ±30% each. It builds
// the binary and trains for a minute, so it runs only with
// VAEC_MEMORY_TEST=1:
//
//	VAEC_MEMORY_TEST=1 go test ./cmd/vaec -run TestMemoryEstimate -v
func TestMemoryEstimate(t *testing.T) {
	if os.Getenv("VAEC_MEMORY_TEST") == "" {
		t.Skip("set VAEC_MEMORY_TEST=1 to measure (builds vaec, trains three models)")
	}
	data, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(data); err != nil {
		t.Skipf("MNIST not found: %v", err)
	}
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "vaec")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, mm := range memoryModels {
		var layers []string
		for _, h := range mm.hidden {
			layers = append(layers, fmt.Sprintf("  - units: %d", h))
		}
		spec := fmt.Sprintf("vaec: 1\nname: %s\ninput: {shape: [784], scale: 1/255}\nlatent: %d\nencoder:\n%s\ndecoder:\n%s\nlikelihood: bernoulli\n"+
			"train: {batch_size: %d, epochs: 1}\ndata:\n  train: {path: %s, limit: %d}\n  validation: {path: %s, start: 9000}\n",
			mm.name, mm.latent, strings.Join(layers, "\n"), strings.Join(layers, "\n"), mm.batch, data, mm.limit, data)
		specPath := filepath.Join(tmp, mm.name+".yaml")
		os.WriteFile(specPath, []byte(spec), 0o644)
		dir := filepath.Join(tmp, mm.name)
		out, err := exec.Command(bin, "build", specPath, "--dir", dir, "--json").Output()
		if err != nil {
			t.Fatalf("%s: build: %v", mm.name, err)
		}
		var sum buildSummary
		if err := json.Unmarshal(out, &sum); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "train", dir, "-q")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: train: %v\n%s", mm.name, err, out)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10
		ratio := float64(sum.TrainingMemory) / float64(rss)
		t.Logf("%-6s %11d params  estimate %5d MiB  peak RSS %5d MiB  estimate/measured %.2f",
			mm.name, sum.TotalParams, sum.TrainingMemory>>20, rss>>20, ratio)
		if ratio < 0.7 || ratio > 1.3 {
			t.Errorf("%s: estimate %d MiB is not within 30%% of the measured %d MiB", mm.name, sum.TrainingMemory>>20, rss>>20)
		}
	}
}
