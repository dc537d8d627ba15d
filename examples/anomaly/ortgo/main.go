//go:build cgo

// Command ortgo scores the rows of a CSV with score.onnx in ONNX Runtime
// from Go (github.com/yalue/onnxruntime_go): raw feature columns in, one
// score per row out, as docs/anomaly.md shows.
//
//	go run ./examples/anomaly/ortgo LIBONNXRUNTIME vaec-build/score.onnx vaec-build/vaec-model.json data.csv
package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"

	ort "github.com/yalue/onnxruntime_go"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ortgo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 4 {
		return fmt.Errorf("usage: ortgo LIBONNXRUNTIME score.onnx vaec-model.json data.csv")
	}
	lib, model, sidecarPath, data := args[0], args[1], args[2], args[3]
	var sidecar struct {
		Input struct {
			Columns []string `json:"columns"`
		} `json:"input"`
		Anomaly *struct {
			Threshold float64 `json:"threshold"`
		} `json:"anomaly"`
	}
	b, err := os.ReadFile(sidecarPath)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &sidecar); err != nil {
		return err
	}
	x, n, err := readColumns(data, sidecar.Input.Columns)
	if err != nil {
		return err
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(); err != nil {
		return err
	}
	defer ort.DestroyEnvironment()
	in, err := ort.NewTensor(ort.NewShape(int64(n), int64(len(sidecar.Input.Columns))), x)
	if err != nil {
		return err
	}
	defer in.Destroy()
	score, err := ort.NewEmptyTensor[float32](ort.NewShape(int64(n)))
	if err != nil {
		return err
	}
	defer score.Destroy()
	s, err := ort.NewAdvancedSession(model, []string{"x"}, []string{"score"}, []ort.Value{in}, []ort.Value{score}, nil)
	if err != nil {
		return err
	}
	defer s.Destroy()
	if err := s.Run(); err != nil {
		return err
	}
	out := map[string]any{"scores": score.GetData()}
	if sidecar.Anomaly != nil {
		flags := make([]bool, n)
		for i, v := range score.GetData() {
			flags[i] = float64(v) > sidecar.Anomaly.Threshold
		}
		out["outlier"] = flags
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

// readColumns reads the named columns of a CSV with a header row, row by
// row, as float32.
func readColumns(path string, columns []string) ([]float32, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 2 {
		return nil, 0, fmt.Errorf("%s: want a header and rows (%v)", path, err)
	}
	idx := make([]int, len(columns))
	for i, c := range columns {
		if idx[i] = slices.Index(recs[0], c); idx[i] < 0 {
			return nil, 0, fmt.Errorf("%s has no column %q", path, c)
		}
	}
	x := make([]float32, 0, (len(recs)-1)*len(columns))
	for _, r := range recs[1:] {
		for _, j := range idx {
			v, err := strconv.ParseFloat(r[j], 32)
			if err != nil {
				return nil, 0, fmt.Errorf("%s: %v", path, err)
			}
			x = append(x, float32(v))
		}
	}
	return x, len(recs) - 1, nil
}
