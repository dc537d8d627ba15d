package compiler

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// The compiler reads only the header of each data file: enough to check
// that records fit the input shape and the record range, and to know the
// raw value range, without loading any data (that is package dataset's job).

// dataInfo is what a data file's header tells.
type dataInfo struct {
	records  int  // number of records; -1 when the header does not say (csv)
	features int  // values per record
	ubyte    bool // raw values are bytes, 0..255
}

// maxHeader bounds what a header read may consume.
const maxHeader = 1 << 20

// peekData reads the header of the file at path in the given format.
func peekData(path, format string, csvHeader bool) (dataInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return dataInfo{}, err
	}
	defer f.Close()
	var r io.Reader = f
	switch format {
	case FormatIDXGz:
		zr, err := gzip.NewReader(f)
		if err != nil {
			return dataInfo{}, fmt.Errorf("not gzip: %w", err)
		}
		defer zr.Close()
		r = zr
		fallthrough
	case FormatIDX:
		return peekIDX(r)
	case FormatNPY:
		return peekNPY(r)
	case FormatCSV:
		return peekCSV(r, csvHeader)
	}
	return dataInfo{}, fmt.Errorf("unknown format %q", format)
}

// peekIDX reads an IDX header: two zero bytes, a type code, the number of
// dimensions, then each dimension as a big-endian uint32.
func peekIDX(r io.Reader) (dataInfo, error) {
	var magic [4]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil {
		return dataInfo{}, fmt.Errorf("IDX header: %w", err)
	}
	if magic[0] != 0 || magic[1] != 0 || magic[3] == 0 {
		return dataInfo{}, fmt.Errorf("not an IDX file (magic % x)", magic)
	}
	dims := make([]uint32, magic[3])
	if err := binary.Read(r, binary.BigEndian, dims); err != nil {
		return dataInfo{}, fmt.Errorf("IDX header: %w", err)
	}
	info := dataInfo{records: int(dims[0]), features: 1, ubyte: magic[2] == 0x08}
	for _, d := range dims[1:] {
		info.features *= int(d)
		if info.features > MaxInputSize || d == 0 {
			return dataInfo{}, fmt.Errorf("IDX record shape %v out of range", dims[1:])
		}
	}
	return info, nil
}

var (
	npyShape = regexp.MustCompile(`'shape'\s*:\s*\(([^)]*)\)`)
	npyDescr = regexp.MustCompile(`'descr'\s*:\s*'([^']*)'`)
)

// peekNPY reads the header of a .npy file: magic, version, header length,
// then a Python dict literal holding descr, fortran_order and shape.
func peekNPY(r io.Reader) (dataInfo, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return dataInfo{}, fmt.Errorf("NPY header: %w", err)
	}
	if string(pre[:6]) != "\x93NUMPY" {
		return dataInfo{}, errors.New("not an NPY file")
	}
	var n int
	if pre[6] == 1 {
		var l uint16
		if err := binary.Read(r, binary.LittleEndian, &l); err != nil {
			return dataInfo{}, fmt.Errorf("NPY header: %w", err)
		}
		n = int(l)
	} else {
		var l uint32
		if err := binary.Read(r, binary.LittleEndian, &l); err != nil {
			return dataInfo{}, fmt.Errorf("NPY header: %w", err)
		}
		n = int(l)
	}
	if n > maxHeader {
		return dataInfo{}, fmt.Errorf("NPY header of %d bytes", n)
	}
	h := make([]byte, n)
	if _, err := io.ReadFull(r, h); err != nil {
		return dataInfo{}, fmt.Errorf("NPY header: %w", err)
	}
	m := npyShape.FindSubmatch(h)
	if m == nil {
		return dataInfo{}, errors.New("NPY header has no shape")
	}
	var dims []int
	for _, s := range strings.Split(string(m[1]), ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		d, err := strconv.Atoi(s)
		if err != nil || d < 0 {
			return dataInfo{}, fmt.Errorf("NPY shape (%s)", m[1])
		}
		dims = append(dims, d)
	}
	if len(dims) == 0 {
		return dataInfo{}, errors.New("NPY array is a scalar")
	}
	info := dataInfo{records: dims[0], features: 1}
	for _, d := range dims[1:] {
		info.features *= d
		if info.features > MaxInputSize || d == 0 {
			return dataInfo{}, fmt.Errorf("NPY record shape %v out of range", dims[1:])
		}
	}
	if d := npyDescr.FindSubmatch(h); d != nil {
		info.ubyte = strings.HasSuffix(string(d[1]), "u1")
	}
	return info, nil
}

// peekCSV counts the fields of the first data line; the record count would
// take a full read, so it stays unknown.
func peekCSV(r io.Reader, header bool) (dataInfo, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, maxHeader), 64<<10)
	for skip := header; ; skip = false {
		line, err := br.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return dataInfo{}, errors.New("CSV file has no data line")
		}
		if skip {
			continue
		}
		line = bytes.TrimSpace(line)
		return dataInfo{records: -1, features: bytes.Count(line, []byte(",")) + 1}, nil
	}
}
