package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/evaluate"
	"github.com/vaec/vaec/vae"
)

func scoreCommand() *cli.Command {
	return &cli.Command{
		Name:  "score",
		Usage: "score each example: the anomaly score, its terms, and with --k log p(x); outliers by the threshold",
		Description: "Scores every example of the model's validation data (or --data FILE, read as the\n" +
			"model's input) and writes one row per example, in input order, to --out (.csv with a\n" +
			"header, .npy, or .json; default DIR/scores.csv). Columns: index; score, the\n" +
			"deterministic anomaly score -log p(x|z=mu) + KL(q(z|x) || p(z)) in nats (what\n" +
			"score.onnx computes; higher is less like the training data); recon and kl, its two\n" +
			"terms; with --k K also elbo, the K-sample ELBO, and nll, the importance-sampled\n" +
			"-log p(x); and outlier (1 when score > threshold) when the model has a threshold\n" +
			"(the spec's anomaly.false_positive_rate, or --fpr, fitted on the validation records).",
		Flags: append(append(modelFlags(true, true), dataFlags(0, "")...),
			quietFlag(),
			&cli.StringFlag{Name: "out", Usage: "output file: .csv, .npy or .json (default: DIR/scores.csv)"},
			&cli.IntFlag{Name: "k", Usage: "importance samples per example for the elbo and nll columns (0: none)"},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the importance samples"},
			&cli.Float64Flag{Name: "fpr", Usage: "false-positive rate: fit the threshold on the validation records for this rate (overrides the model's)"},
		),
		Action: scoreAction,
	}
}

func scoreAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("score takes no arguments, got %q", c.Args().Slice())
	}
	k := c.Int("k")
	if k < 0 || k > 100_000 {
		return usagef("--k %d: want 0 to 100000", k)
	}
	fpr := c.Float64("fpr")
	if c.IsSet("fpr") && !(fpr > 0 && fpr < 0.5) {
		return usagef("--fpr %v: want a rate in (0, 0.5)", fpr)
	}
	out := c.String("out")
	if out == "" {
		out = filepath.Join(c.String("dir"), "scores.csv")
	}
	format := strings.TrimPrefix(strings.ToLower(filepath.Ext(out)), ".")
	if format != "csv" && format != "npy" && format != "json" {
		return usagef("--out %s: want a .csv, .npy or .json file", out)
	}
	v, err := openVAE(c, true, true)
	if err != nil {
		return err
	}
	set, desc, err := loadData(c, v)
	if err != nil {
		return err
	}
	w := outFor(c)
	fmt.Fprintf(w, "scoring %d examples of %s with %s\n", set.N, desc, v.Origin)
	ctx := context.Background()
	threshold, rule, err := scoreThreshold(ctx, c, v, fpr)
	if err != nil {
		return err
	}
	res, err := v.Score(ctx, set, max(k, 1), c.Uint64("seed"), nil)
	if err != nil {
		return err
	}
	tab := scoreTable(res, k > 0, threshold)
	if err := tab.write(out, format); err != nil {
		return err
	}
	mean := 0.0
	for _, s := range res.Score {
		mean += s
	}
	fmt.Fprintf(w, "mean score %.4f nats over %d examples → %s\n", mean/float64(set.N), set.N, out)
	if threshold != nil {
		flagged := 0
		for _, s := range res.Score {
			if s > *threshold {
				flagged++
			}
		}
		fmt.Fprintf(w, "threshold %.6g (%s): %d of %d examples are outliers (%.1f%%)\n", *threshold, rule, flagged, set.N, 100*float64(flagged)/float64(set.N))
	}
	return nil
}

// scoreThreshold returns the outlier threshold: fitted on the validation
// records for --fpr, else the model's (fitted for the spec's rate, or read
// from the ONNX files' metadata); nil when there is none.
func scoreThreshold(ctx context.Context, c *cli.Context, v *vae.Model, fpr float64) (*float64, string, error) {
	if fpr == 0 && v.Threshold != nil {
		return v.Threshold, fmt.Sprintf("false-positive rate %g, from the files", v.FalsePositiveRate), nil
	}
	if fpr == 0 && v.IR != nil {
		fpr = v.IR.Anomaly.FalsePositiveRate
	}
	if fpr == 0 {
		return nil, "", nil
	}
	if v.IR == nil {
		return nil, "", usagef("--fpr needs the model's validation records: score from a build directory, or give ONNX files exported with a threshold")
	}
	_, val, err := dataset.LoadSplits(v.IR)
	if err != nil {
		return nil, "", err
	}
	if val == nil {
		return nil, "", fmt.Errorf("the threshold is fitted on the validation records, and the model has none (set data.validation or train.validation_split)")
	}
	t, err := v.FitThreshold(ctx, val, fpr)
	if err != nil {
		return nil, "", err
	}
	return &t, fmt.Sprintf("false-positive rate %g on %d validation records", fpr, val.N), nil
}

// table is the per-example output of score: named float columns.
type table struct {
	names []string
	cols  [][]float64
}

func scoreTable(res *evaluate.Result, withK bool, threshold *float64) *table {
	n := len(res.Score)
	index := make([]float64, n)
	for i := range index {
		index[i] = float64(i)
	}
	t := &table{names: []string{"index", "score", "recon", "kl"}, cols: [][]float64{index, res.Score, res.ScoreRecon, res.ExampleKL}}
	if withK {
		nll := make([]float64, n)
		for i, v := range res.ExampleLogPx {
			nll[i] = -v
		}
		t.names = append(t.names, "elbo", "nll")
		t.cols = append(t.cols, res.ExampleELBO, nll)
	}
	if threshold != nil {
		out := make([]float64, n)
		for i, s := range res.Score {
			if s > *threshold {
				out[i] = 1
			}
		}
		t.names = append(t.names, "outlier")
		t.cols = append(t.cols, out)
	}
	return t
}

func (t *table) write(path, format string) error {
	n := len(t.cols[0])
	var b []byte
	switch format {
	case "csv":
		var buf bytes.Buffer
		w := csv.NewWriter(&buf)
		_ = w.Write(t.names)
		rec := make([]string, len(t.names))
		for i := 0; i < n; i++ {
			for j, col := range t.cols {
				rec[j] = strconv.FormatFloat(col[i], 'g', -1, 64)
			}
			_ = w.Write(rec)
		}
		w.Flush()
		if err := w.Error(); err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
		b = buf.Bytes()
	case "npy":
		data := make([]float32, 0, n*len(t.cols))
		for i := 0; i < n; i++ {
			for _, col := range t.cols {
				data = append(data, float32(col[i]))
			}
		}
		b = encodeNPY(data, []int{n, len(t.cols)})
	case "json":
		rows := make([]map[string]any, n)
		for i := range rows {
			rows[i] = map[string]any{}
			for j, col := range t.cols {
				v := col[i]
				if t.names[j] == "index" || t.names[j] == "outlier" {
					rows[i][t.names[j]] = int(v)
				} else if math.IsInf(v, 0) || math.IsNaN(v) {
					rows[i][t.names[j]] = nil
				} else {
					rows[i][t.names[j]] = v
				}
			}
		}
		var err error
		if b, err = json.MarshalIndent(map[string]any{"columns": t.names, "rows": rows}, "", "  "); err != nil {
			return err
		}
		b = append(b, '\n')
	}
	if err := checkpoint.WriteFileAtomic(path, b); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// exportThreshold fits the threshold for the spec's anomaly rate on the
// validation records with the exported weights, for the files' metadata
// and the sidecar; nil when the spec asks for none.
func exportThreshold(v *vae.Model) (*float64, error) {
	fpr := v.IR.Anomaly.FalsePositiveRate
	if fpr == 0 {
		return nil, nil
	}
	_, val, err := dataset.LoadSplits(v.IR)
	if err != nil {
		return nil, err
	}
	if val == nil {
		return nil, fmt.Errorf("anomaly.false_positive_rate: the threshold is fitted on the validation records, and the model has none")
	}
	t, err := v.FitThreshold(context.Background(), val, fpr)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
