package main

import (
	"bytes"
	"context"
	"errors"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
)

// trainBuildDir writes a build directory for a cut-down mnist-small model
// (300 training, 100 validation images) so that training takes a moment.
func trainBuildDir(t *testing.T, mutate func(*ir.Model)) string {
	t.Helper()
	m, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", "mnist-small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m.Data.Train.Limit = 300
	if m.Data.Validation != nil {
		m.Data.Validation.Limit = 100
	}
	if mutate != nil {
		mutate(m)
	}
	dir := t.TempDir()
	if err := compiler.WriteModel(filepath.Join(dir, modelFile), m); err != nil {
		t.Fatal(err)
	}
	return dir
}

func lines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

func TestTrainCommandResumesExactly(t *testing.T) {
	straight := trainBuildDir(t, nil)
	if code, out, errOut := runVaec(t, "train", "--dir", straight, "--epochs", "2"); code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	} else if !strings.Contains(out, "epoch 2/2") || !strings.Contains(out, "val elbo") {
		t.Errorf("stdout lacks the epoch lines:\n%s", out)
	}
	for _, f := range []string{lastCheckpoint, bestCheckpoint} {
		if _, err := os.Stat(filepath.Join(straight, f)); err != nil {
			t.Error(err)
		}
	}
	if got := lines(t, filepath.Join(straight, metricsFile)); len(got) != 2 || !strings.Contains(got[1], `"val_elbo"`) {
		t.Errorf("metrics.jsonl:\n%s", strings.Join(got, "\n"))
	}

	split := trainBuildDir(t, nil)
	if code, out, errOut := runVaec(t, "train", split, "--epochs", "1"); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runVaec(t, "train", split, "--resume", "--epochs", "2"); code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	a, err := os.ReadFile(filepath.Join(straight, lastCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(split, lastCheckpoint))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		t.Error("1 epoch + resume 1 epoch wrote another checkpoint than 2 epochs straight")
	}
	if got := lines(t, filepath.Join(split, metricsFile)); len(got) != 2 {
		t.Errorf("resumed metrics.jsonl has %d lines, want 2", len(got))
	}
	if code, out, _ := runVaec(t, "train", split, "--resume", "--epochs", "2"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("resume at the last epoch: exit %d, stdout %q", code, out)
	}

	// A checkpoint of another spec is refused.
	m, err := compiler.ReadModel(filepath.Join(split, modelFile))
	if err != nil {
		t.Fatal(err)
	}
	m.SpecHash = strings.Repeat("0", 64)
	if err := compiler.WriteModel(filepath.Join(split, modelFile), m); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runVaec(t, "train", split, "--resume", "--epochs", "3")
	if code != exitError || !strings.Contains(errOut, "different spec") {
		t.Errorf("resume under another spec: exit %d, stderr %q", code, errOut)
	}
	c, err := checkpoint.Load(filepath.Join(split, lastCheckpoint))
	if err != nil || c.State.Epoch != 2 {
		t.Errorf("refused resume touched the checkpoint: %v, epoch %d", err, c.State.Epoch)
	}
}

func TestTrainCommandErrors(t *testing.T) {
	dir := trainBuildDir(t, nil)
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"negative epochs", []string{"train", dir, "--epochs", "-1"}, exitUsage, "--epochs"},
		{"two dirs", []string{"train", dir, dir}, exitUsage, "at most one"},
		{"no build", []string{"train", "--dir", filepath.Join(dir, "nowhere")}, exitError, "vaec build"},
		{"resume without checkpoint", []string{"train", dir, "--resume"}, exitError, "no checkpoint"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := runVaec(t, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, errOut, tc.code, tc.msg)
			}
		})
	}
}

func TestTrainCommandValidationSplit(t *testing.T) {
	dir := trainBuildDir(t, func(m *ir.Model) {
		m.Data.Validation = nil
		m.Train.ValidationSplit = 0.2
	})
	code, out, errOut := runVaec(t, "train", dir, "--epochs", "1")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "240 training examples, 60 validation examples") {
		t.Errorf("stdout:\n%s", out)
	}
}

// TestTrainInterrupted: a cancelled context (what Ctrl-C does) stops
// training with exit code 130 and leaves a checkpoint from which --resume
// reproduces an uninterrupted run.
func TestTrainInterrupted(t *testing.T) {
	dir := trainBuildDir(t, nil)
	m, err := loadModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out, errOut bytes.Buffer
	d, err := builddir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	err = trainBuild(ctx, m, d, trainFlags{epochs: 1, out: &out, errOut: &errOut})
	d.Close()
	var ec cli.ExitCoder
	if !errors.As(err, &ec) || ec.ExitCode() != exitInterrupted || !strings.Contains(err.Error(), "nothing was saved") {
		t.Fatalf("err = %v, want exit code %d saying nothing was saved", err, exitInterrupted)
	}
	// Interrupted in epoch 1: no epoch was committed, so no file appears.
	if _, err := os.Stat(filepath.Join(dir, lastCheckpoint)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("checkpoint after an interrupt in epoch 1: %v, want none", err)
	}
	if code, o, e := runVaec(t, "train", dir, "--epochs", "1"); code != 0 {
		t.Fatalf("train again: exit %d\n%s\n%s", code, o, e)
	}
	straight := trainBuildDir(t, nil)
	if code, o, e := runVaec(t, "train", straight, "--epochs", "1"); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, o, e)
	}
	a, _ := os.ReadFile(filepath.Join(dir, lastCheckpoint))
	b, _ := os.ReadFile(filepath.Join(straight, lastCheckpoint))
	if !bytes.Equal(a, b) {
		t.Error("interrupted and resumed run differs from the straight one")
	}
}
