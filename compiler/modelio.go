package compiler

import (
	"bytes"
	"encoding/json"
	"fmt"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
)

// WriteModel writes m as indented JSON to path. It writes a temporary file in
// the same directory and renames it, so a reader never sees half a model.
func WriteModel(path string, m *ir.Model) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("write model %s: %w", path, err)
	}
	b = append(b, '\n')
	return writeFileAtomic(path, b)
}

// writeFileAtomic writes b to path through a temporary file and a rename.
func writeFileAtomic(path string, b []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err = f.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// ReadModel reads a model written by WriteModel and verifies it.
func ReadModel(path string) (*ir.Model, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read model: %w", err)
	}
	return DecodeModel(path, b)
}

// DecodeModel parses the JSON of a model (name is used in errors) and
// verifies it. Both layouts are read: the current one (with "format") and
// round 1's. Unknown fields are refused: the file is written by this
// program, so a stray field means a hand edit gone wrong or another version.
func DecodeModel(name string, b []byte) (*ir.Model, error) {
	var probe struct {
		Format *int `json:"format"`
	}
	if err := json.NewDecoder(bytes.NewReader(b)).Decode(&probe); err != nil {
		return nil, fmt.Errorf("read model %s: %w", name, err)
	}
	var m *ir.Model
	if probe.Format == nil {
		var l legacyModel
		if err := decodeStrict(b, &l); err != nil {
			return nil, fmt.Errorf("read model %s: %w", name, err)
		}
		var err error
		if m, err = fromLegacy(&l); err != nil {
			return nil, fmt.Errorf("read model %s (round-1 layout): %w", name, err)
		}
	} else {
		m = new(ir.Model)
		if err := decodeStrict(b, m); err != nil {
			return nil, fmt.Errorf("read model %s: %w", name, err)
		}
	}
	if err := ir.Verify(m); err != nil {
		return nil, fmt.Errorf("read model %s: %w", name, err)
	}
	return m, nil
}

func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the model")
	}
	return nil
}
