package checkpoint

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/internal/capped"
)

// Finding 7 of issue 14: corrupted tensor data (a bit flip, a weight
// replaced by 3e38) was accepted by export, eval and resume. Every such
// change is now refused by Decode, naming the tensor.
func TestChecksumRefusesCorruption(t *testing.T) {
	good := encode(t, sample())
	hdr := int(binary.LittleEndian.Uint64(good[:8]))
	body := 8 + hdr
	c, err := Decode(good)
	if err != nil || !c.Checked {
		t.Fatalf("Decode(good) = checked %v, %v; want checked, nil", c != nil && c.Checked, err)
	}
	cases := []struct {
		name string
		edit func(b []byte)
	}{
		{"bit flip in the first tensor", func(b []byte) { b[body] ^= 0x01 }},
		{"bit flip in the last byte", func(b []byte) { b[len(b)-1] ^= 0x80 }},
		{"weight set to 3e38", func(b []byte) {
			binary.LittleEndian.PutUint32(b[len(b)-4:], math.Float32bits(3e38))
		}},
	}
	for _, tc := range cases {
		b := append([]byte(nil), good...)
		tc.edit(b)
		_, err := Decode(b)
		if err == nil || !strings.Contains(err.Error(), "corrupted") {
			t.Errorf("%s: Decode err = %v, want a checksum mismatch", tc.name, err)
		}
	}
}

// A checkpoint written before checksums existed (no vaec.sha256) loads,
// with Checked false for the caller's note.
func TestChecksumAbsentLoads(t *testing.T) {
	b := encode(t, sample())
	hdrLen := binary.LittleEndian.Uint64(b[:8])
	hdr := string(b[8 : 8+hdrLen])
	i := strings.Index(hdr, `"vaec.sha256":`)
	j := strings.Index(hdr, `"vaec.spec_hash"`)
	if i < 0 || j < i {
		t.Fatalf("layout changed: %s", hdr)
	}
	old := hdr[:i] + hdr[j:]
	old += strings.Repeat(" ", len(hdr)-len(old)) // keep the data offset
	copy(b[8:], old)
	c, err := Decode(b)
	if err != nil {
		t.Fatalf("Decode without checksums: %v", err)
	}
	if c.Checked {
		t.Errorf("Checked = true for a file without checksums")
	}
}

// Finding 4: /dev/zero or a file over the cap given as a checkpoint is
// refused without reading it whole.
func TestLoadCapped(t *testing.T) {
	if _, err := Load("/dev/zero"); err == nil {
		t.Errorf("Load(/dev/zero) succeeded")
	}
	path := filepath.Join(t.TempDir(), "big.safetensors")
	f, _ := os.Create(path)
	f.Truncate(capped.FileLimit + 1) // sparse: costs no disk
	f.Close()
	var tl *capped.TooLargeError
	if _, err := Load(path); !errors.As(err, &tl) {
		t.Errorf("Load(sparse %d bytes) = %v, want TooLargeError", capped.FileLimit+1, err)
	}
}
