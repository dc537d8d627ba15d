// Package capped reads whole files with a size cap, so that a hostile or
// mistaken input (/dev/zero given as a spec, a sparse 100 GB "checkpoint")
// is refused with a message instead of ending in an out-of-memory crash.
package capped

import (
	"fmt"
	"io"
	"os"
)

// FileLimit is the cap for files read whole whose size the user controls
// (checkpoints, ONNX files): 4 GiB unless the command line raises it
// (vaec's global --max-file-size flag). It is process-wide on purpose: the
// cap is a property of the machine and the user's intent, not of a call.
var FileLimit int64 = 4 << 30

// StreamLimit caps what is read from a file whose size is not known in
// advance (a pipe, a device such as /dev/zero): its content is held in
// memory as it arrives, so the cap is lower than FileLimit; copy a larger
// stream to a regular file first.
const StreamLimit = 64 << 20

// SpecLimit is the cap for specs and model.json, which are small text
// (the largest spec in the repository is 2 KB; a model.json of a wide
// normalised table some hundred KB). Parsed YAML takes many times its
// size in nodes, so the cap also bounds the compiler's memory.
const SpecLimit = 4 << 20

// ModelLimit is the cap for model.json, JSON written by vaec: a wide table's
// per-feature normalisation makes it larger than any spec.
const ModelLimit = 64 << 20

// TooLargeError reports a file over its cap.
type TooLargeError struct {
	Path  string
	Size  int64 // bytes known to be there (at least Limit+1 for streams)
	Limit int64
}

func (e *TooLargeError) Error() string {
	hint := ""
	switch {
	case e.Limit == StreamLimit:
		hint = " (not a regular file: copy it to one)"
	case e.Limit == FileLimit:
		hint = " (raise it with --max-file-size if the file is genuine)"
	}
	return fmt.Sprintf("%s: %s, over the cap of %s bytes%s", e.Path, sizeText(e.Size), Thousands(e.Limit), hint)
}

func sizeText(n int64) string {
	return "at least " + Thousands(n) + " bytes"
}

// ReadFile reads the file at path, refusing more than limit bytes. A
// regular file is refused from its size before anything is read; a device
// or pipe is read through a limit of at most StreamLimit.
func ReadFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		return nil, fmt.Errorf("%s is a directory", path)
	}
	if fi.Mode().IsRegular() {
		if fi.Size() > limit {
			return nil, &TooLargeError{Path: path, Size: fi.Size(), Limit: limit}
		}
		b := make([]byte, 0, fi.Size()+1)
		b, err = readAll(f, b, limit)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if int64(len(b)) > limit {
			return nil, &TooLargeError{Path: path, Size: int64(len(b)), Limit: limit}
		}
		return b, nil
	}
	limit = min(limit, StreamLimit)
	b, err := readChunks(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, &TooLargeError{Path: path, Size: int64(len(b)), Limit: limit}
	}
	return b, nil
}

// readChunks reads r to the end in 1 MiB pieces joined once at the end,
// so that a stream of unknown length costs twice its size at most, not the
// sum of every buffer a growing slice leaves behind.
func readChunks(r io.Reader) ([]byte, error) {
	var chunks [][]byte
	total := 0
	for {
		c := make([]byte, 1<<20)
		n, err := io.ReadFull(r, c)
		chunks = append(chunks, c[:n])
		total += n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, total)
	for _, c := range chunks {
		out = append(out, c...)
	}
	return out, nil
}

// readAll reads r to the end (or to limit+1 bytes, for a file that grows
// while it is read).
func readAll(r io.Reader, b []byte, limit int64) ([]byte, error) {
	lr := io.LimitReader(r, limit+1-int64(len(b)))
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := lr.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
}

// Thousands formats n with comma separators.
func Thousands(n int64) string {
	s := fmt.Sprint(n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
