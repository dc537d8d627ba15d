package serve

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vaec/vaec/runtime"
)

// ModelNames are the models LoadDir looks for, each in NAME.onnx: the
// encoder (x → mu, logvar), the decoder (z → the likelihood's parameters)
// and, for models that have one, the anomaly scorer (x → score, mu).
var ModelNames = []string{"encoder", "decoder", "score"}

// LoadDir loads every file of ModelNames present in dir (a build directory
// or any directory holding exported files). It is an error if none is.
func LoadDir(dir string) ([]Model, error) {
	files := map[string]string{}
	for _, name := range ModelNames {
		path := filepath.Join(dir, name+".onnx")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		files[name] = path
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("serve: no model in %s (looked for %s.onnx)", dir, strings.Join(ModelNames, ".onnx, "))
	}
	return LoadFiles(files)
}

// LoadFiles loads ONNX files into the runtime, served under the given
// names (model name → path), in name order.
func LoadFiles(files map[string]string) ([]Model, error) {
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	slices.Sort(names)
	var models []Model
	for _, name := range names {
		m, err := runtime.LoadFile(files[name])
		if err != nil {
			return nil, fmt.Errorf("serve: model %q: %w", name, err)
		}
		models = append(models, Model{Name: name, Runner: m})
	}
	return models, nil
}
