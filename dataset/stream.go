package dataset

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/vaec/vaec/internal/sysmem"
)

// Error is a problem with a data file, located as precisely as its format
// allows: a byte offset for binary formats (in the uncompressed stream when
// the file is gzip-compressed), a line and column for CSV.
type Error struct {
	File   string
	Offset int64  // byte offset, or -1 when the error has no position
	Gzip   bool   // Offset counts uncompressed bytes
	Line   int    // CSV: 1-based line, 0 when not applicable
	Column int    // CSV: 1-based field number, 0 when not applicable
	Name   string // CSV: the column's header name, when the file has a header
	Msg    string
	Hint   string // how to fix it, when there is an obvious way
	// Selection is true when the problem is the choice of columns (a
	// source's columns or exclude), not the file's contents.
	Selection bool
	Err       error // the underlying cause, if any
}

func (e *Error) Error() string {
	s := "file " + e.File + ": " + e.Detail()
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	return s
}

// Detail is the message with its place in the file but without the file's
// name, for callers that name the file themselves (the compiler, at the
// spec key that names it).
func (e *Error) Detail() string {
	where := ""
	switch {
	case e.Line > 0 && e.Column > 0 && e.Name != "":
		where = fmt.Sprintf("line %d, column %d (%q): ", e.Line, e.Column, e.Name)
	case e.Line > 0 && e.Column > 0:
		where = fmt.Sprintf("line %d, column %d: ", e.Line, e.Column)
	case e.Line > 0:
		where = fmt.Sprintf("line %d: ", e.Line)
	case e.Offset >= 0 && e.Gzip:
		where = fmt.Sprintf("uncompressed offset %d: ", e.Offset)
	case e.Offset >= 0:
		where = fmt.Sprintf("offset %d: ", e.Offset)
	}
	return where + e.Msg
}

func (e *Error) Unwrap() error { return e.Err }

// maxElements bounds the values a file may declare, so that a hostile or
// corrupt header cannot make a reader plan absurd allocations.
const maxElements = 1 << 31

// MemoryLimit, when positive, is the memory a Load may plan to use; 0
// means the memory available to the process (internal/sysmem: the cgroup's
// memory.max, else the machine's). Data that cannot fit is refused up front
// with what it needs rather than ending in an out-of-memory crash. It is a
// process-wide setting for the command line; tests lower it.
var MemoryLimit int64

func memoryLimit() int64 {
	if MemoryLimit > 0 {
		return MemoryLimit
	}
	if n, _ := sysmem.Limit(); n > 0 {
		return n
	}
	return 1 << 40
}

// stream reads a data file front to back, decompressing it when it starts
// with the gzip magic, and counts the bytes consumed so that every error can
// name its offset.
type stream struct {
	path string
	c    io.Closer // the file, when the stream owns one
	r    io.Reader
	gz   bool
	size int64 // file size when not compressed; -1 when unknown (gzip)
	off  int64 // bytes consumed from r

	// For progress: the file's bytes read so far (compressed ones for
	// gzip) and its size on disk (-1 when unknown).
	counted  *countReader
	fileSize int64
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// fileBytes is how much of the file has been read (buffering included).
func (s *stream) fileBytes() int64 {
	if s.counted == nil {
		return -1
	}
	return s.counted.n
}

func openStream(path string) (*stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if st.IsDir() {
		f.Close()
		return nil, &Error{File: path, Offset: -1, Msg: "is a directory"}
	}
	s, err := newStream(path, f, st.Size())
	if err != nil {
		f.Close()
		return nil, err
	}
	s.c = f
	return s, nil
}

// newStream reads r, size bytes long (named path in errors).
func newStream(path string, r io.Reader, size int64) (*stream, error) {
	cr := &countReader{r: r}
	br := bufio.NewReaderSize(cr, 1<<16)
	s := &stream{path: path, r: br, size: size, counted: cr, fileSize: size}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, &Error{File: path, Offset: 0, Msg: "gzip header: " + err.Error(), Err: err}
		}
		s.r, s.gz, s.size = zr, true, -1
	}
	return s, nil
}

func (s *stream) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

// errAt builds an error located at byte offset off of the (uncompressed) stream.
func (s *stream) errAt(off int64, err error, format string, args ...any) *Error {
	return &Error{File: s.path, Offset: off, Gzip: s.gz, Msg: fmt.Sprintf(format, args...), Err: err}
}

// ioErr turns a read failure into an Error naming what was being read.
func (s *stream) ioErr(err error, what string, need int64) *Error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.errAt(s.off, err, "truncated: the file ends here, %d more bytes needed for %s", need, what)
	}
	if s.gz {
		return s.errAt(s.off, err, "gzip: %v (while reading %s)", err, what)
	}
	return s.errAt(s.off, err, "reading %s: %v", what, err)
}

// readFull fills b, for small fixed-size pieces such as headers.
func (s *stream) readFull(b []byte, what string) error {
	n, err := io.ReadFull(s.r, b)
	s.off += int64(n)
	if err != nil {
		return s.ioErr(err, what, int64(len(b)-n))
	}
	return nil
}

// skip discards n bytes.
func (s *stream) skip(n int64, what string) error {
	if n == 0 {
		return nil
	}
	m, err := io.CopyN(io.Discard, s.r, n)
	s.off += m
	if err != nil {
		return s.ioErr(err, what, n-m)
	}
	return nil
}

// readN reads n bytes. For compressed input it grows the buffer only as data
// actually arrives, so a header that lies about its size costs no more memory
// than the data really present.
func (s *stream) readN(n int64, what string) ([]byte, error) {
	if s.size >= 0 {
		// The caller has checked n against the file size.
		buf := make([]byte, n)
		return buf, s.readFull(buf, what)
	}
	buf := make([]byte, 0, min(n, 1<<20))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(n-int64(len(buf)), int64(cap(buf)))))
		}
		end := int(min(int64(cap(buf)), n))
		m, err := s.r.Read(buf[len(buf):end])
		buf = buf[:len(buf)+m]
		s.off += int64(m)
		if err == io.EOF && int64(len(buf)) < n {
			return nil, s.ioErr(io.ErrUnexpectedEOF, what, n-int64(len(buf)))
		}
		if err != nil && err != io.EOF {
			return nil, s.ioErr(err, what, n-int64(len(buf)))
		}
	}
	return buf, nil
}

// expectEOF reports data after the end that the header declared, and for
// gzip input reads to the end so that the checksum is verified.
func (s *stream) expectEOF() error {
	var b [1]byte
	for {
		n, err := s.r.Read(b[:])
		if n > 0 {
			extra := int64(-1)
			if s.size >= 0 {
				extra = s.size - s.off
			}
			if extra > 0 {
				return s.errAt(s.off, nil, "%d bytes of trailing data after the declared data", extra)
			}
			return s.errAt(s.off, nil, "trailing data after the declared data")
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return s.ioErr(err, "the end of the file", 0)
		}
	}
}
