// Package builddir owns vaec's build directory: the one place that writes
// its files, so that the directory is always one consistent state.
//
// # Layout
//
// The documented files keep their names and formats, so that other tools
// read them where they always were:
//
//	model.json, spec.yaml                      written by build (each atomically)
//	checkpoint.safetensors, best.safetensors,  one commit per epoch, together
//	metrics.jsonl
//	encoder.onnx, decoder.onnx, score.onnx, vaec-model.json[, roundtrip.onnx]  one export set, together
//
// The files of a commit live in a generation directory under .vaec/
// (.vaec/gen-000006-123/checkpoint.safetensors, …), and the top-level names
// are symbolic links through one pointer, .vaec/current, itself a symbolic
// link to the generation. A commit writes and fsyncs a new generation and
// its directory, then renames a new pointer over .vaec/current and fsyncs
// .vaec: that rename is the commit. A reader opening any of the three names
// therefore sees the state of one commit, and a crash at any instant leaves
// either the previous commit or the new one. Exported ONNX files work the
// same way through .vaec/onnx, so encoder and decoder are always a pair.
//
// Before the first commit the top-level links already exist and dangle
// (readers see no file), so the three files appear at the same instant.
// A directory written by an earlier vaec (regular files at the top level)
// is adopted by the first writer: its files become the first generation,
// and the regular files are then replaced by links to identical content.
//
// # Writers
//
// Every writing command opens the directory with Open, which takes an
// exclusive lock (flock on .vaec/lock; the holder's PID is written into the
// file so that the refusal can name it), removes what interrupted writers
// left behind (temporary files, generations that were never committed),
// and repairs links. Readers take no lock: the rename makes them safe.
package builddir

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/internal/termtext"
)

// Names of the files in a build directory.
const (
	Model      = "model.json"
	Spec       = "spec.yaml"
	Checkpoint = "checkpoint.safetensors"
	Best       = "best.safetensors"
	Metrics    = "metrics.jsonl"
	Encoder    = "encoder.onnx"
	Decoder    = "decoder.onnx"
	RoundTrip  = "roundtrip.onnx"
	Score      = "score.onnx"
	Sidecar    = "vaec-model.json" // export.SidecarFile

	// meta is the directory of generations, pointers and the lock.
	meta = ".vaec"
	// current and onnx are the pointers (symbolic links) to the committed
	// training generation and the committed export set.
	current = "current"
	onnx    = "onnx"
	// commitFile, inside a generation, records what the commit holds.
	commitFile = "commit.json"
	lockFile   = "lock"
)

// committedNames are the files of a training commit.
var committedNames = []string{Checkpoint, Best, Metrics}

// ExportNames are the files an export set may hold.
var ExportNames = []string{Encoder, Decoder, Score, Sidecar, RoundTrip, Prior}

// Prior is a VampPrior model's prior.onnx (export.RolePrior).
const Prior = "prior.onnx"

// Commit describes the committed training state (commit.json of the
// current generation).
type Commit struct {
	Epoch     int    `json:"epoch"`
	BestEpoch int    `json:"best_epoch,omitempty"`
	SpecHash  string `json:"spec_hash"`
	// Files maps each file of the generation to its SHA-256, for tools
	// that want to check a copy of the directory.
	Files map[string]string `json:"files"`
	// Source, for an export set, is the SHA-256 of the checkpoint file it
	// was exported from: `vaec run` re-exports when it differs.
	Source string `json:"source,omitempty"`
}

// Dir is a build directory opened for writing. Its methods are not safe
// for concurrent use; the lock keeps other processes out.
type Dir struct {
	Path string
	// Notes says what Open repaired or ignored, for the command to print.
	Notes []string
	lock  *os.File
	fresh bool // the next commit starts the metrics and best afresh
}

// ErrLocked is returned (wrapped) by Open when another process holds the
// directory.
var ErrLocked = errors.New("build directory is in use")

// Open opens (creating it when needed) the build directory at path for
// writing: it takes the lock, then cleans up after interrupted writers.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(filepath.Join(path, meta), 0o755); err != nil {
		return nil, err
	}
	d := &Dir{Path: path}
	lf, err := lock(filepath.Join(path, meta, lockFile))
	if err != nil {
		return nil, err
	}
	d.lock = lf
	if err := d.recover(); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// Close releases the lock.
func (d *Dir) Close() error {
	if d.lock == nil {
		return nil
	}
	err := unlock(d.lock)
	d.lock = nil
	return err
}

func (d *Dir) note(format string, a ...any) { d.Notes = append(d.Notes, fmt.Sprintf(format, a...)) }

func (d *Dir) meta(elem ...string) string {
	return filepath.Join(append([]string{d.Path, meta}, elem...)...)
}

// recover removes what interrupted writers leave behind and repairs the
// links; it adopts regular files written by other tools or earlier vaec
// versions as a first generation.
func (d *Dir) recover() error {
	// Temporary files of this package and of earlier atomic writers
	// (".checkpoint.safetensors.tmp123", "spec.yaml.tmp").
	for _, dir := range []string{d.Path, d.meta()} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, e := range ents {
			if isTemp(e.Name()) {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
				d.note("removed %s, left by an interrupted save", filepath.Join(dir, e.Name()))
			}
		}
	}
	if err := d.adopt(); err != nil {
		return err
	}
	if err := d.gc(); err != nil {
		return err
	}
	if _, err := os.Lstat(d.meta(current)); err == nil {
		if err := d.link(committedNames, current); err != nil {
			return err
		}
	}
	if _, err := os.Lstat(d.meta(onnx)); err == nil {
		return d.link(ExportNames, onnx)
	}
	return nil
}

// isTemp tells the names of temporary files: ".name.tmp123", "name.tmp",
// and this package's ".tmp-" prefixed ones.
func isTemp(name string) bool {
	return strings.HasPrefix(name, ".tmp-") ||
		(strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp")) ||
		strings.HasSuffix(name, ".tmp")
}

// gc removes generations and export sets that no pointer names: a commit
// interrupted before its rename, or one superseded after it.
func (d *Dir) gc() error {
	keep := map[string]bool{}
	for _, p := range []string{current, onnx} {
		if t, err := os.Readlink(d.meta(p)); err == nil {
			keep[t] = true
		}
	}
	ents, err := os.ReadDir(d.meta())
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || keep[n] || !(strings.HasPrefix(n, "gen-") || strings.HasPrefix(n, "onnx-")) {
			continue
		}
		if err := os.RemoveAll(d.meta(n)); err != nil {
			return err
		}
	}
	return nil
}

// adopt turns regular files at the committed names into a first
// generation (and likewise for the export names).
func (d *Dir) adopt() error {
	regular := func(names []string) bool {
		for _, n := range names {
			if fi, err := os.Lstat(filepath.Join(d.Path, n)); err == nil && fi.Mode().IsRegular() {
				return true
			}
		}
		return false
	}
	if regular(committedNames) {
		if err := d.adoptTraining(); err != nil {
			return err
		}
	}
	if regular(ExportNames) {
		files := map[string]string{}
		for _, n := range ExportNames {
			p := filepath.Join(d.Path, n)
			if _, err := os.Stat(p); err == nil {
				files[n] = p
			}
		}
		if err := d.commitSet(onnx, "onnx-", files, nil); err != nil {
			return err
		}
		d.note("adopted the ONNX files of %s into its export set", d.Path)
	}
	return nil
}

// adoptTraining makes the state the top-level names show the first
// generation: the checkpoint as it is, best as it is, and the metrics
// lines of committed epochs (a torn or later line is dropped, and said).
func (d *Dir) adoptTraining() error {
	files := map[string]string{}
	c := Commit{}
	ckPath := filepath.Join(d.Path, Checkpoint)
	if _, err := os.Stat(ckPath); err == nil {
		ck, err := checkpoint.Load(ckPath)
		if err != nil {
			return fmt.Errorf("%s: %w", d.Path, err)
		}
		files[Checkpoint] = ckPath
		c.Epoch, c.BestEpoch, c.SpecHash = ck.State.Epoch, ck.State.BestEpoch, ck.State.SpecHash
	}
	if p := filepath.Join(d.Path, Best); exists(p) {
		files[Best] = p
	}
	lines, notes, err := committedMetrics(filepath.Join(d.Path, Metrics), c.Epoch)
	if err != nil {
		return err
	}
	d.Notes = append(d.Notes, notes...)
	extra := map[string][]byte{Metrics: lines}
	if err := d.commitGen(c, files, extra); err != nil {
		return err
	}
	d.note("adopted %s (epoch %d) as its first commit", d.Path, c.Epoch)
	return nil
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// committedMetrics reads a metrics file and keeps the lines of epochs
// 1..epoch, in order; a line that does not parse (a torn write) or belongs
// to a later epoch is dropped, with a note.
func committedMetrics(path string, epoch int) ([]byte, []string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	var keep bytes.Buffer
	var notes []string
	r := bufio.NewReader(io.LimitReader(f, MaxMetricsBytes+1))
	next := 1
	for line := 1; ; line++ {
		b, err := r.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			break
		}
		if keep.Len()+len(b) > MaxMetricsBytes {
			return nil, nil, fmt.Errorf("%s is larger than %d bytes", path, MaxMetricsBytes)
		}
		var e struct {
			Epoch *int `json:"epoch"`
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if json.Unmarshal(b, &e) != nil || e.Epoch == nil || !bytes.HasSuffix(b, []byte("\n")) {
			notes = append(notes, fmt.Sprintf("%s:%d: ignored a torn or unreadable line (%s)", path, line, clip(b)))
			continue
		}
		if *e.Epoch != next || *e.Epoch > epoch {
			notes = append(notes, fmt.Sprintf("%s:%d: ignored the line of epoch %d (the checkpoint holds epoch %d)", path, line, *e.Epoch, epoch))
			continue
		}
		keep.Write(b)
		next++
	}
	return keep.Bytes(), notes, nil
}

// MaxMetricsBytes caps the metrics file read into memory (about a million
// epochs' lines).
const MaxMetricsBytes = 256 << 20

func clip(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "…"
	}
	return strconv.Quote(string(b))
}

// Last returns the committed checkpoint, or nil when there is none.
func (d *Dir) Last() (*checkpoint.Checkpoint, error) {
	p := filepath.Join(d.Path, Checkpoint)
	if !exists(p) {
		return nil, nil
	}
	return checkpoint.Load(p)
}

// Committed reads commit.json of the committed generation of the build
// directory at path; ok is false when nothing is committed. Readers may
// call it without the lock.
func Committed(path string) (c Commit, ok bool, err error) { return record(path, current) }

// Exported reads the record of the committed export set.
func Exported(path string) (c Commit, ok bool, err error) { return record(path, onnx) }

func record(path, pointer string) (c Commit, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(path, meta, pointer, commitFile))
	if errors.Is(err, fs.ErrNotExist) {
		return Commit{}, false, nil
	}
	if err != nil {
		return Commit{}, false, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Commit{}, false, fmt.Errorf("%s: %v", filepath.Join(path, meta, pointer, commitFile), err)
	}
	return c, true, nil
}

// Trained reports the epoch of the checkpoint the directory at path
// holds (0 when none), reading only the commit record when there is one.
func Trained(path string) (epoch int, specHash string, err error) {
	if c, ok, err := Committed(path); err != nil || ok {
		return c.Epoch, c.SpecHash, err
	}
	p := filepath.Join(path, Checkpoint)
	if !exists(p) {
		return 0, "", nil
	}
	ck, err := checkpoint.Load(p)
	if err != nil {
		return 0, "", err
	}
	return ck.State.Epoch, ck.State.SpecHash, nil
}

// WriteFile writes one file of the directory (model.json, spec.yaml, a
// plot) atomically: a temporary file, fsync, rename, fsync of the directory.
func (d *Dir) WriteFile(name string, data []byte) error {
	for _, n := range append(append([]string{}, committedNames...), ExportNames...) {
		if n == name {
			return fmt.Errorf("builddir: %s is written by a commit, not WriteFile", name)
		}
	}
	return writeAtomic(d.Path, name, data)
}

// ResetTraining drops the committed training state, for a run that starts
// over (train --force). The files stay visible until the first epoch of the
// new run commits: a new run never empties metrics before it has something
// to commit. Only the next commit's metrics start afresh.
func (d *Dir) ResetTraining() { d.fresh = true }

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Escape makes user-provided text safe to print (see package termtext).
func Escape(s string) string { return termtext.Escape(s) }

// Consistent checks, as a reader would, that the training files of the
// directory at path are one state: the checkpoint and best load (checksums
// included), metrics.jsonl holds exactly the lines of epochs 1..E where E
// is the checkpoint's epoch, and best is the checkpoint's best epoch. It
// returns E (0 when nothing is committed). Crash tests use it.
func Consistent(path string) (int, error) {
	ckPath := filepath.Join(path, Checkpoint)
	if !exists(ckPath) {
		if exists(filepath.Join(path, Best)) {
			return 0, fmt.Errorf("%s without %s", Best, Checkpoint)
		}
		if b, err := os.ReadFile(filepath.Join(path, Metrics)); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return 0, fmt.Errorf("%s has lines but there is no %s", Metrics, Checkpoint)
		}
		return 0, nil
	}
	ck, err := checkpoint.Load(ckPath)
	if err != nil {
		return 0, err
	}
	e := ck.State.Epoch
	b, err := os.ReadFile(filepath.Join(path, Metrics))
	if err != nil {
		return e, err
	}
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	if len(b) == 0 {
		lines = nil
	}
	if len(lines) != e || (len(b) > 0 && b[len(b)-1] != '\n') {
		return e, fmt.Errorf("%s holds %d lines (ends in newline: %v), the checkpoint is at epoch %d", Metrics, len(lines), len(b) > 0 && b[len(b)-1] == '\n', e)
	}
	for i, l := range lines {
		var m struct{ Epoch int }
		if err := json.Unmarshal(l, &m); err != nil || m.Epoch != i+1 {
			return e, fmt.Errorf("%s line %d: epoch %d (%v), want %d", Metrics, i+1, m.Epoch, err, i+1)
		}
	}
	if e > 0 {
		best, err := checkpoint.Load(filepath.Join(path, Best))
		if err != nil {
			return e, fmt.Errorf("best: %w", err)
		}
		if best.State.Epoch != ck.State.BestEpoch {
			return e, fmt.Errorf("%s is from epoch %d, the checkpoint says the best epoch is %d", Best, best.State.Epoch, ck.State.BestEpoch)
		}
	}
	return e, nil
}
