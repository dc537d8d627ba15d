package builddir

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/vaec/vaec/checkpoint"
)

// hook, when set (by tests), is called before every fsync and rename of a
// commit with the operation's name ("fsync", "rename") and its path; a
// crash test kills the process from it at the Nth call.
var hook func(op, path string)

func step(op, path string) {
	if hook != nil {
		hook(op, path)
	}
}

// CommitEpoch makes one epoch durable as one state: c becomes
// checkpoint.safetensors, also best.safetensors when improved (otherwise
// best stays what it was), and line (one JSON object, no newline) is
// appended to metrics.jsonl. Readers see all of it or none of it.
func (d *Dir) CommitEpoch(c *checkpoint.Checkpoint, improved bool, line []byte) error {
	if d.lock == nil {
		return errors.New("builddir: commit on a closed directory")
	}
	if strings.ContainsRune(string(line), '\n') {
		return errors.New("builddir: a metrics line must not contain a newline")
	}
	epoch := c.State.Epoch
	var base []byte
	files := map[string]string{}
	if !d.fresh {
		var notes []string
		var err error
		if base, notes, err = committedMetrics(filepath.Join(d.Path, Metrics), epoch-1); err != nil {
			return err
		}
		d.Notes = append(d.Notes, notes...)
		if p := filepath.Join(d.Path, Best); !improved && exists(p) {
			files[Best] = p
		}
	}
	metrics := append(append(base, line...), '\n')
	extra := map[string][]byte{Metrics: metrics}
	write := func(gen string) error {
		if err := writeSynced(filepath.Join(gen, Checkpoint), func(w io.Writer) error { return checkpoint.Encode(w, c) }); err != nil {
			return err
		}
		if improved {
			// best is the same bytes: a second name for the same file.
			return linkOrCopy(filepath.Join(gen, Checkpoint), filepath.Join(gen, Best))
		}
		return nil
	}
	rec := Commit{Epoch: epoch, BestEpoch: c.State.BestEpoch, SpecHash: c.State.SpecHash}
	if err := d.commit(current, fmt.Sprintf("gen-%06d-", epoch), committedNames, rec, files, extra, write); err != nil {
		return fmt.Errorf("committing epoch %d in %s: %w", epoch, d.Path, err)
	}
	d.fresh = false
	return nil
}

// CommitExport replaces the exported files as one set: every name in
// ExportNames that files does not hold is absent afterwards. source is
// the SHA-256 of the checkpoint they come from (see FileSHA256).
func (d *Dir) CommitExport(files map[string][]byte, source string) error {
	for n := range files {
		if !isExportName(n) {
			return fmt.Errorf("builddir: %s is not an export file", n)
		}
	}
	if err := d.commit(onnx, "onnx-", ExportNames, Commit{Source: source}, nil, files, nil); err != nil {
		return fmt.Errorf("writing the ONNX files in %s: %w", d.Path, err)
	}
	return nil
}

func isExportName(n string) bool {
	for _, e := range ExportNames {
		if e == n {
			return true
		}
	}
	return false
}

func (d *Dir) commitSet(pointer, prefix string, links map[string]string, data map[string][]byte) error {
	return d.commit(pointer, prefix, ExportNames, Commit{}, links, data, nil)
}

// commitGen commits a training generation made of existing files.
func (d *Dir) commitGen(rec Commit, links map[string]string, data map[string][]byte) error {
	return d.commit(current, fmt.Sprintf("gen-%06d-", rec.Epoch), committedNames, rec, links, data, nil)
}

// commit builds a new generation under .vaec (hard links to existing files
// from links, files written from data, then write), records it in
// commit.json, fsyncs everything and renames the pointer onto it.
func (d *Dir) commit(pointer, prefix string, names []string, rec Commit, links map[string]string, data map[string][]byte, write func(gen string) error) error {
	gen, err := os.MkdirTemp(d.meta(), prefix)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(gen)
		}
	}()
	for _, n := range sortedKeys(links) {
		src, err := filepath.EvalSymlinks(links[n])
		if err != nil {
			return err
		}
		if err := linkOrCopy(src, filepath.Join(gen, n)); err != nil {
			return err
		}
	}
	for _, n := range sortedKeys(data) {
		b := data[n]
		if err := writeSynced(filepath.Join(gen, n), func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
			return err
		}
	}
	if write != nil {
		if err := write(gen); err != nil {
			return err
		}
	}
	rec.Files = map[string]string{}
	ents, err := os.ReadDir(gen)
	if err != nil {
		return err
	}
	for _, e := range ents {
		if rec.Files[e.Name()], err = fileSHA256(filepath.Join(gen, e.Name())); err != nil {
			return err
		}
	}
	j, _ := json.MarshalIndent(rec, "", "  ")
	if err := writeSynced(filepath.Join(gen, commitFile), func(w io.Writer) error { _, err := w.Write(append(j, '\n')); return err }); err != nil {
		return err
	}
	if err := syncDir(gen); err != nil {
		return err
	}
	// Names that do not exist yet get their (dangling) links before the
	// pointer, so that all of them appear at once with it.
	var absent []string
	for _, n := range names {
		if _, err := os.Lstat(filepath.Join(d.Path, n)); errors.Is(err, os.ErrNotExist) {
			absent = append(absent, n)
		}
	}
	if err := d.link(absent, pointer); err != nil {
		return err
	}
	// The commit: one rename of the pointer.
	if err := symlinkAtomic(filepath.Base(gen), d.meta(pointer)); err != nil {
		return err
	}
	ok = true
	// Regular files (adopted ones) become links now that the pointer
	// holds the same content.
	if err := d.link(names, pointer); err != nil {
		return err
	}
	return d.gc()
}

// link makes each top-level name a symbolic link to .vaec/pointer/name.
func (d *Dir) link(names []string, pointer string) error {
	changed := false
	for _, n := range names {
		p := filepath.Join(d.Path, n)
		want := filepath.Join(meta, pointer, n)
		if t, err := os.Readlink(p); err == nil && t == want {
			continue
		}
		if err := symlinkAtomic(want, p); err != nil {
			return err
		}
		changed = true
	}
	if changed {
		return syncDir(d.Path)
	}
	return nil
}

// symlinkAtomic makes path a symbolic link to target, replacing what is
// there in one rename, and fsyncs the directory.
func symlinkAtomic(target, path string) error {
	tmp := filepath.Join(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	step("rename", path)
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// writeSynced creates path, fills it with write and fsyncs it.
func writeSynced(path string, write func(io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	if err := write(bw); err != nil {
		f.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	step("fsync", path)
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeAtomic replaces dir/name with data: temporary file, fsync, rename,
// fsync of the directory.
func writeAtomic(dir, name string, data []byte) error {
	f, err := os.CreateTemp(dir, ".tmp-"+name+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	step("fsync", tmp)
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	step("rename", filepath.Join(dir, name))
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	ok = true
	return syncDir(dir)
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	step("fsync", dir)
	return f.Sync()
}

// linkOrCopy gives dst the content of src: a hard link where the file
// system allows one, else a synced copy.
func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return writeSynced(dst, func(w io.Writer) error { _, err := io.Copy(w, in); return err })
}

// FileSHA256 is the hex SHA-256 of the file at path.
func FileSHA256(path string) (string, error) { return fileSHA256(path) }

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
