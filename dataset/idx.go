package dataset

import (
	"encoding/binary"
	"fmt"
)

// IDX (the MNIST format): a 4-byte magic 00 00 <type> <ndims>, ndims
// big-endian uint32 dimensions, then the elements, big-endian, row-major.
// The first dimension counts records.

var idxTypes = map[byte]dtype{
	0x08: dtU8,
	0x09: dtI8,
	0x0B: dtI16,
	0x0C: dtI32,
	0x0D: dtF32,
	0x0E: dtF64,
}

func readIDX(s *stream, q *request) (*table, error) {
	var magic [4]byte
	if err := s.readFull(magic[:], "the IDX magic number"); err != nil {
		return nil, err
	}
	if magic[0] != 0 || magic[1] != 0 {
		hint := ""
		if string(magic[:]) == "\x93NUM" {
			hint = " (this is an NPY file: give its format as npy)"
		}
		return nil, s.errAt(0, nil, "not an IDX file: magic % x, want 00 00 <type> <dims>%s", magic, hint)
	}
	dt, ok := idxTypes[magic[2]]
	if !ok {
		return nil, s.errAt(2, nil, "unknown IDX type code 0x%02x (want 08, 09, 0B, 0C, 0D or 0E)", magic[2])
	}
	if magic[3] == 0 {
		return nil, s.errAt(3, nil, "IDX file with 0 dimensions: need at least the record dimension")
	}
	dims := make([]byte, 4*int(magic[3]))
	if err := s.readFull(dims, fmt.Sprintf("%d IDX dimensions", magic[3])); err != nil {
		return nil, err
	}
	shape := make([]int, magic[3])
	for i := range shape {
		shape[i] = int(binary.BigEndian.Uint32(dims[4*i:]))
	}
	return readArray(s, dt, true, shape, q)
}
