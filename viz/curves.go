package viz

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/vaec/vaec/checkpoint"
)

// Keys of metrics.jsonl that PlotCurves draws against EpochKey: the mean
// training and validation ELBO (nats per example) of each epoch.
const (
	EpochKey     = "epoch"
	TrainELBOKey = "train_elbo"
	ValELBOKey   = "val_elbo"
)

// curveNames are the legend entries of the keys PlotCurves draws.
var curveNames = map[string]string{TrainELBOKey: "training ELBO", ValELBOKey: "validation ELBO"}

// Record is one line of a metrics file: every numeric field of the JSON
// object by key (null reads as NaN; non-numeric fields are skipped).
type Record map[string]float64

// ReadMetrics reads a JSON-lines metrics file. Blank lines are skipped; a
// line that is not a JSON object is an error naming the file and line.
func ReadMetrics(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	recs, err := ParseMetrics(data)
	if err != nil {
		return nil, fmt.Errorf("%s:%w", path, err)
	}
	return recs, nil
}

// ParseMetrics parses JSON lines; errors start with the line number.
func ParseMetrics(data []byte) ([]Record, error) {
	var recs []Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(b, &raw); err != nil {
			return nil, fmt.Errorf("%d: not a JSON object: %v", line, err)
		}
		r := Record{}
		for k, v := range raw {
			if string(v) == "null" {
				r[k] = math.NaN()
				continue
			}
			var f float64
			if json.Unmarshal(v, &f) == nil {
				r[k] = f
			}
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%d: %v", line+1, err)
	}
	return recs, nil
}

// PlotCurves draws the training and validation ELBO per epoch from a metrics
// file (written by the trainer, one JSON object per epoch) and writes the
// plot as a PNG to outPNG. Epochs missing a value (no validation split, or a
// NaN) leave a gap rather than a fake point.
func PlotCurves(metricsPath, outPNG string) error {
	recs, err := ReadMetrics(metricsPath)
	if err != nil {
		return err
	}
	return PlotRecords(recs, outPNG, "ELBO per epoch", TrainELBOKey, ValELBOKey)
}

// PlotRecords draws the given keys of recs against EpochKey (or the record
// number, counted from 1, where a record has no epoch) and writes a PNG.
func PlotRecords(recs []Record, outPNG, title string, keys ...string) error {
	if len(recs) == 0 {
		return fmt.Errorf("viz: no metrics to plot")
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "epoch"
	p.Y.Label.Text = "nats per example"
	// ELBO curves rise to the top right: the legend goes bottom right.
	p.Legend.Top, p.Legend.Left = false, false
	p.Add(plotter.NewGrid())
	drawn := 0
	for i, k := range keys {
		var pts plotter.XYs
		for j, r := range recs {
			v, ok := r[k]
			if !ok || math.IsNaN(v) || math.IsInf(v, 0) {
				continue
			}
			x, ok := r[EpochKey]
			if !ok || math.IsNaN(x) {
				x = float64(j + 1)
			}
			pts = append(pts, plotter.XY{X: x, Y: v})
		}
		if len(pts) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return fmt.Errorf("viz: curve %q: %w", k, err)
		}
		c := palette[i%len(palette)]
		line.Color = c
		line.Width = vg.Points(1.5)
		points.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(2), Shape: draw.CircleGlyph{}}
		p.Add(line, points)
		name := k
		if n, ok := curveNames[k]; ok {
			name = n
		}
		p.Legend.Add(name, line, points)
		drawn++
	}
	if drawn == 0 {
		return fmt.Errorf("viz: metrics have no finite values for %q", keys)
	}
	return savePlot(p, outPNG, 7*vg.Inch, 4.5*vg.Inch)
}

// savePlot renders p to PNG and writes it atomically.
func savePlot(p *plot.Plot, path string, w, h vg.Length) error {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return fmt.Errorf("viz: rendering %s: %w", path, err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return fmt.Errorf("viz: rendering %s: %w", path, err)
	}
	if err := checkpoint.WriteFileAtomic(path, buf.Bytes()); err != nil {
		return fmt.Errorf("viz: writing %s: %w", path, err)
	}
	return nil
}
