package export

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/vaec/vaec/internal/onnxpb"
	"google.golang.org/protobuf/proto"
)

// initializerDigest is the hex SHA-256 over the initializers in name
// order: for each, its name, element type, dims and data fields. It covers
// every weight, so a flipped bit in any of them changes it, and it does not
// cover the metadata it is stored in.
func initializerDigest(inits []*onnxpb.TensorProto) string {
	sorted := slices.Clone(inits)
	slices.SortFunc(sorted, func(a, b *onnxpb.TensorProto) int { return strings.Compare(a.GetName(), b.GetName()) })
	h := sha256.New()
	var buf []byte
	for _, t := range sorted {
		buf = buf[:0]
		buf = binary.AppendUvarint(buf, uint64(len(t.GetName())))
		buf = append(buf, t.GetName()...)
		buf = binary.AppendUvarint(buf, uint64(t.GetDataType()))
		buf = binary.AppendUvarint(buf, uint64(len(t.Dims)))
		for _, d := range t.Dims {
			buf = binary.AppendVarint(buf, d)
		}
		h.Write(buf)
		data := tensorDigestInput(t)
		h.Write(binary.AppendUvarint(nil, uint64(len(data))))
		h.Write(data)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// DigestCheck is the outcome of CheckDigest.
type DigestCheck struct {
	Recorded string // MetaDigest as the file records it; "" when absent
	Computed string
}

// OK reports whether the file records a digest and its initializers match.
func (d DigestCheck) OK() bool { return d.Recorded != "" && d.Recorded == d.Computed }

// CheckDigest parses an ONNX file and compares the digest of its
// initializers with the one its metadata records.
func CheckDigest(data []byte) (DigestCheck, error) {
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		return DigestCheck{}, fmt.Errorf("not an ONNX model: %s (protobuf: %v)", wireError(data), err)
	}
	var d DigestCheck
	for _, p := range m.MetadataProps {
		if p.GetKey() == MetaDigest {
			d.Recorded = p.GetValue()
		}
	}
	d.Computed = initializerDigest(m.GetGraph().GetInitializer())
	return d, nil
}
