package main

// Progress while data loads: package dataset reports through a callback
// (dataset.Options.Progress); this file prints it. Small files load in
// well under a second and print nothing; a large one shows a bar on a
// terminal, and elsewhere a "loading N records…" line every few seconds,
// so that no command sits silent while it reads gigabytes.

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vaec/vaec/dataset"
	"github.com/vaec/vaec/ir"
)

const (
	// loadQuiet is how long a load runs before anything is printed.
	loadQuiet = 500 * time.Millisecond
	// loadPlainEvery is how often a plain (non-terminal) line appears.
	loadPlainEvery = 3 * time.Second
)

// loadReporter prints the progress of one command's loads to w.
type loadReporter struct {
	w     io.Writer
	tty   bool
	quiet bool
	start time.Time
	last  time.Time
	bar   *progressbar.ProgressBar
	path  string           // the file being reported
	now   func() time.Time // time.Now; tests replace it
}

func newLoadReporter(w io.Writer, quiet bool) *loadReporter {
	r := &loadReporter{w: w, quiet: quiet, now: time.Now}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		r.tty = true
	}
	return r
}

// options returns load options that report each file's progress.
func (r *loadReporter) options() dataset.Options {
	if r == nil || r.quiet {
		return dataset.Options{}
	}
	r.path = ""
	return dataset.Options{Progress: r.report}
}

func (r *loadReporter) report(p dataset.Progress) {
	now := r.now()
	if p.Path != r.path {
		// The first report of a file comes after its first chunk or its
		// first few thousand lines: the load started a moment before.
		r.path, r.start, r.last, r.bar = p.Path, now, time.Time{}, nil
	}
	name := filepath.Base(p.Path)
	if now.Sub(r.start) < loadQuiet {
		return
	}
	done := p.Total >= 0 && p.Records == p.Total
	if r.tty {
		// The bar runs over the file's bytes: known for every format,
		// while a CSV file's record count is known only at its end.
		if r.bar == nil && p.Size > 0 {
			r.bar = progressbar.NewOptions64(p.Size,
				progressbar.OptionSetWriter(r.w),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetWidth(30),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
			)
		}
		if r.bar != nil {
			r.bar.Describe(fmt.Sprintf("loading %s: %d records", name, p.Records))
			_ = r.bar.Set64(min(p.Bytes, p.Size))
			if done {
				_ = r.bar.Finish()
			}
			return
		}
	}
	if done || now.Sub(r.last) >= loadPlainEvery {
		r.last = now
		switch {
		case done:
			fmt.Fprintf(r.w, "loaded %s: %d records in %.1fs\n", name, p.Records, now.Sub(r.start).Seconds())
		case p.Total > 0:
			fmt.Fprintf(r.w, "loading %s: %d of %d records…\n", name, p.Records, p.Total)
		case p.Size > 0:
			fmt.Fprintf(r.w, "loading %s: %d records… (%.0f%% of the file)\n", name, p.Records, 100*float64(p.Bytes)/float64(p.Size))
		default:
			fmt.Fprintf(r.w, "loading %s: %d records…\n", name, p.Records)
		}
	}
}

// loadTrainingData reads the training and validation sets the model names,
// as training splits them, without progress lines.
func loadTrainingData(m *ir.Model) (train, val *dataset.Set, err error) {
	return dataset.LoadSplits(m)
}
