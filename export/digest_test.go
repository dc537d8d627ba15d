package export

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"

	"github.com/vaec/vaec/ir"
)

// The digest is recorded only when asked (so the round-1 bytes stay), and
// a change to one weight's bytes makes CheckDigest disagree.
func TestInitializerDigest(t *testing.T) {
	m := testModel([]int{6}, 2, []int{4}, ir.ReLU, ir.Bernoulli)
	w := testWeights(m)
	p := w[m.Params[0].Name]
	p.Data[0] = 1234.5 // a value whose bytes are easy to find
	plain, err := Decoder(m, w, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := CheckDigest(plain); err != nil || d.Recorded != "" {
		t.Fatalf("without Options.Digest: recorded %q, %v", d.Recorded, err)
	}
	enc, err := Encoder(m, w, Options{Digest: true})
	if err != nil {
		t.Fatal(err)
	}
	d, err := CheckDigest(enc)
	if err != nil || !d.OK() {
		t.Fatalf("CheckDigest = %+v, %v; want a matching digest", d, err)
	}
	var needle [4]byte
	binary.LittleEndian.PutUint32(needle[:], math.Float32bits(1234.5))
	i := bytes.Index(enc, needle[:])
	if i < 0 {
		t.Fatalf("weight bytes not found in the encoder")
	}
	bad := bytes.Clone(enc)
	bad[i] ^= 1
	if d, err := CheckDigest(bad); err != nil || d.OK() {
		t.Errorf("one flipped bit: CheckDigest = %+v, %v; want a mismatch", d, err)
	}
}
