package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/ir"
	"github.com/vaec/vaec/vae"
)

// One model, one truth: every verb that takes weights from a build
// directory takes the same checkpoint by default, and says which.

// modelCheckpoint is that checkpoint: best.safetensors when the model has
// validation data (the best validation ELBO is then the model's figure of
// merit) and the file exists, else checkpoint.safetensors, the last epoch.
func modelCheckpoint(dir string, m *ir.Model) string {
	if m != nil && (m.Data.Validation != nil || m.Train.ValidationSplit > 0) {
		if p := filepath.Join(dir, bestCheckpoint); exists(p) {
			return p
		}
	}
	return filepath.Join(dir, lastCheckpoint)
}

// checkpointEpoch is the epoch the default checkpoint of dir holds, from
// the committed record (no weights read); ok is false when unknown.
func checkpointEpoch(dir string, m *ir.Model) (epoch int, ok bool) {
	rec, ok, err := builddir.Committed(dir)
	if err != nil || !ok {
		return 0, false
	}
	if filepath.Base(modelCheckpoint(dir, m)) == bestCheckpoint && rec.BestEpoch > 0 {
		return rec.BestEpoch, true
	}
	return rec.Epoch, true
}

// warnStaleONNX warns when ONNX files run beside a build directory do not
// match it: another spec, or another epoch than its checkpoint (the files
// were exported before training went on).
func warnStaleONNX(w io.Writer, dir string, v *vae.Model) {
	m, err := loadModel(dir)
	if err != nil || v.SpecHash == "" {
		return
	}
	if v.SpecHash != m.SpecHash {
		fmt.Fprintf(w, "warning: %s come from another spec (hash %.12s) than the build in %s (%.12s)\n", v.Origin, v.SpecHash, filepath.Clean(dir), m.SpecHash)
		return
	}
	if e, ok := checkpointEpoch(dir, m); ok && v.Epochs != e {
		fmt.Fprintf(w, "warning: %s were exported at epoch %d, but %s holds epoch %d: run `vaec export` to bring them up to date\n",
			v.Origin, v.Epochs, modelCheckpoint(dir, m), e)
	}
}
