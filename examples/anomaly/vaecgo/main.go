// Command vaecgo scores the rows of a CSV with score.onnx in vaec's own
// runtime (package github.com/vaec/vaec/runtime, pure Go, no C library),
// as docs/anomaly.md shows.
//
//	go run ./examples/anomaly/vaecgo vaec-build/score.onnx data.csv
package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"

	"github.com/vaec/vaec/runtime"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "vaecgo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("usage: vaecgo score.onnx data.csv")
	}
	m, err := runtime.LoadFile(args[0])
	if err != nil {
		return err
	}
	// vaec's runtime reads the file's metadata: the feature columns and
	// the threshold are there, no sidecar needed.
	md := m.Metadata()
	var columns []string
	if err := json.Unmarshal([]byte(md["vaec.columns"]), &columns); err != nil {
		return fmt.Errorf("%s: no feature names in its metadata (vaec.columns): %v", args[0], err)
	}
	f, err := os.Open(args[1])
	if err != nil {
		return err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil || len(recs) < 2 {
		return fmt.Errorf("%s: want a header and rows (%v)", args[1], err)
	}
	var x []float32
	for _, r := range recs[1:] {
		for _, c := range columns {
			j := slices.Index(recs[0], c)
			if j < 0 {
				return fmt.Errorf("%s has no column %q", args[1], c)
			}
			v, err := strconv.ParseFloat(r[j], 32)
			if err != nil {
				return err
			}
			x = append(x, float32(v))
		}
	}
	n := len(recs) - 1
	out, err := m.Run(map[string]runtime.Tensor{"x": {Shape: []int{n, len(columns)}, Data: x}})
	if err != nil {
		return err
	}
	res := map[string]any{"scores": out["score"].Data}
	if t, err := strconv.ParseFloat(md["vaec.threshold"], 64); err == nil {
		flags := make([]bool, n)
		for i, v := range out["score"].Data {
			flags[i] = float64(v) > t
		}
		res["outlier"] = flags
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}
