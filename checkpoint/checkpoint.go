// Package checkpoint stores trained weights and training state in one
// safetensors file (https://huggingface.co/docs/safetensors), a format that
// Python (safetensors, PyTorch), Rust and JavaScript tools read directly.
//
// Layout of a vaec checkpoint:
//
//   - every model parameter under its IR name ("encoder.0.weight"), F32;
//   - optimizer state under "optimizer.<slot>.<param name>" (for example
//     "optimizer.m.encoder.0.weight" for Adam's first moment), F32;
//   - the training State as JSON in the header's __metadata__ under
//     "vaec.state", plus "vaec.spec_hash" for tools that only want that;
//   - "vaec.sha256": a JSON object mapping every tensor's name to the
//     SHA-256 of its data bytes. Decode checks each one, so a bit flip or
//     an edited weight is refused rather than trained on, exported or
//     verified against. Files written before checksums existed have none;
//     they load with Checked false, for the caller to say so.
//
// Load refuses files over capped.FileLimit (4 GiB unless raised with
// vaec's --max-file-size) and headers over 16 MiB before allocating.
//
// Save writes atomically: a temporary file in the same directory, fsync,
// then rename, so an interrupted write leaves the previous file. A build
// directory's checkpoints are written by package builddir instead, which
// commits them together with best and metrics.
package checkpoint

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/vaec/vaec/internal/capped"
)

// Tensor is a dense float32 array in row-major order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// Size is the element count implied by Shape.
func (t Tensor) Size() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

// State is the training state needed to resume exactly.
type State struct {
	SpecHash string `json:"spec_hash"`
	Epoch    int    `json:"epoch"` // completed epochs
	Step     int64  `json:"step"`  // optimizer steps taken
	// RNG is the trainer's generator state, opaque to this package.
	RNG []byte `json:"rng,omitempty"`
	// Validation and training ELBO (nats per example) of the last epoch;
	// NaN is stored as null.
	TrainELBO *float64 `json:"train_elbo,omitempty"`
	ValELBO   *float64 `json:"val_elbo,omitempty"`
	// Best validation ELBO so far, its epoch, and epochs since it improved
	// (for early stopping).
	BestValELBO *float64 `json:"best_val_elbo,omitempty"`
	BestEpoch   int      `json:"best_epoch,omitempty"`
	Stale       int      `json:"stale,omitempty"`
	// Extra holds trainer-specific values (for example the KL weight).
	Extra map[string]string `json:"extra,omitempty"`
}

// Checkpoint is the content of one file.
type Checkpoint struct {
	Weights   map[string]Tensor // parameter name → value
	Optimizer map[string]Tensor // "<slot>.<param name>" → value (stored with the "optimizer." prefix)
	State     State
	// Checked is set by Decode when the file carries per-tensor checksums
	// (and all matched); false for files written before vaec stored them,
	// or by other tools.
	Checked bool
}

const (
	optimizerPrefix = "optimizer."
	metaState       = "vaec.state"
	metaSpecHash    = "vaec.spec_hash"
	metaChecksums   = "vaec.sha256"
	// maxHeader bounds the JSON header so a hostile length cannot make us
	// allocate gigabytes before reading anything (100,000 tensors need
	// about 10 MB).
	maxHeader = 16 << 20
)

type entry struct {
	DType   string   `json:"dtype"`
	Shape   []int    `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// Encode writes c in safetensors format. Entries are sorted by name so that
// equal checkpoints give equal bytes.
func Encode(w io.Writer, c *Checkpoint) error {
	type named struct {
		name string
		t    Tensor
	}
	var all []named
	for k, t := range c.Weights {
		all = append(all, named{k, t})
	}
	for k, t := range c.Optimizer {
		all = append(all, named{optimizerPrefix + k, t})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].name < all[j].name })

	// A diverged epoch has a NaN ELBO, which JSON cannot hold: store it as
	// null (absent), as State documents, rather than fail to checkpoint.
	st := c.State
	for _, p := range []**float64{&st.TrainELBO, &st.ValELBO, &st.BestValELBO} {
		if *p != nil && (math.IsNaN(**p) || math.IsInf(**p, 0)) {
			*p = nil
		}
	}
	state, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("checkpoint: encoding state: %w", err)
	}
	sums := make(map[string]string, len(all))
	for _, n := range all {
		sums[n.name] = tensorSHA256(n.t.Data)
	}
	sumJSON, _ := json.Marshal(sums) // map keys are sorted: deterministic
	// The header is built by hand so that its key order (metadata first, then
	// tensors in data order) is fixed and identical inputs give identical bytes.
	var hdr bytes.Buffer
	hdr.WriteString(`{"__metadata__":`)
	meta, _ := json.Marshal(map[string]string{metaState: string(state), metaSpecHash: c.State.SpecHash, metaChecksums: string(sumJSON)})
	hdr.Write(meta)
	var off int64
	for _, n := range all {
		if len(n.t.Data) != n.t.Size() {
			return fmt.Errorf("checkpoint: tensor %q: shape %v needs %d values, has %d", n.name, n.t.Shape, n.t.Size(), len(n.t.Data))
		}
		shape := n.t.Shape
		if shape == nil {
			shape = []int{}
		}
		e, _ := json.Marshal(entry{DType: "F32", Shape: shape, Offsets: [2]int64{off, off + 4*int64(len(n.t.Data))}})
		name, _ := json.Marshal(n.name)
		hdr.WriteByte(',')
		hdr.Write(name)
		hdr.WriteByte(':')
		hdr.Write(e)
		off += 4 * int64(len(n.t.Data))
	}
	hdr.WriteByte('}')
	// Pad with spaces to 8 bytes so the data is aligned, as the format recommends.
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	var lenbuf [8]byte
	binary.LittleEndian.PutUint64(lenbuf[:], uint64(hdr.Len()))
	if _, err := w.Write(lenbuf[:]); err != nil {
		return err
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	buf := make([]byte, 0, 1<<16)
	for _, n := range all {
		for _, v := range n.t.Data {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			if len(buf) >= 1<<16 {
				if _, err := w.Write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
	}
	_, err = w.Write(buf)
	return err
}

// Decode parses a safetensors file. It accepts any safetensors file with F32
// tensors; State is left zero when the file carries no vaec metadata.
func Decode(data []byte) (*Checkpoint, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for a safetensors header", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > maxHeader || n > uint64(len(data)-8) {
		return nil, fmt.Errorf("header length %d exceeds the file (%d bytes): truncated or not safetensors", n, len(data))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data[8:8+n], &raw); err != nil {
		return nil, fmt.Errorf("header at offset 8: %v", err)
	}
	body := data[8+n:]
	c := &Checkpoint{Weights: map[string]Tensor{}, Optimizer: map[string]Tensor{}}
	names := make([]string, 0, len(raw))
	for k := range raw {
		names = append(names, k)
	}
	sort.Strings(names)
	type span struct {
		name string
		e    entry
	}
	var spans []span
	var sums map[string]string
	for _, name := range names {
		msg := raw[name]
		if name == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(msg, &meta); err != nil {
				return nil, fmt.Errorf("__metadata__: %v", err)
			}
			if s, ok := meta[metaState]; ok {
				if err := json.Unmarshal([]byte(s), &c.State); err != nil {
					return nil, fmt.Errorf("__metadata__[%s]: %v", metaState, err)
				}
			}
			if s, ok := meta[metaChecksums]; ok {
				if err := json.Unmarshal([]byte(s), &sums); err != nil {
					return nil, fmt.Errorf("__metadata__[%s]: %v", metaChecksums, err)
				}
			}
			continue
		}
		var e entry
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("tensor %q: %v", name, err)
		}
		if e.DType != "F32" {
			return nil, fmt.Errorf("tensor %q: dtype %s, vaec reads F32 only", name, e.DType)
		}
		size := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && size > math.MaxInt32/int64(d)) {
				return nil, fmt.Errorf("tensor %q: shape %v is negative or too large", name, e.Shape)
			}
			size *= int64(d)
		}
		b, end := e.Offsets[0], e.Offsets[1]
		if b < 0 || end < b || end > int64(len(body)) {
			return nil, fmt.Errorf("tensor %q: data offsets [%d, %d] outside the %d data bytes: truncated file?", name, b, end, len(body))
		}
		if end-b != 4*size {
			return nil, fmt.Errorf("tensor %q: shape %v needs %d bytes, offsets give %d", name, e.Shape, 4*size, end-b)
		}
		spans = append(spans, span{name, e})
	}
	// The format requires the tensors to cover the data exactly, without
	// overlap or holes; checking it before allocating also stops a small
	// file from naming the same bytes many times over.
	sort.Slice(spans, func(i, j int) bool {
		a, b := spans[i].e.Offsets, spans[j].e.Offsets
		return a[0] < b[0] || (a[0] == b[0] && a[1] < b[1])
	})
	var end int64
	for _, sp := range spans {
		if sp.e.Offsets[0] != end {
			return nil, fmt.Errorf("tensor %q: data offsets %v do not start where the previous tensor ends (%d): safetensors data must be contiguous, without overlap or holes", sp.name, sp.e.Offsets, end)
		}
		end = sp.e.Offsets[1]
	}
	if end != int64(len(body)) {
		return nil, fmt.Errorf("tensors cover %d of the %d data bytes: safetensors data must be contiguous, without trailing bytes", end, len(body))
	}
	if sums != nil {
		if len(sums) != len(spans) {
			return nil, fmt.Errorf("__metadata__[%s] lists %d checksums for %d tensors: the header was edited", metaChecksums, len(sums), len(spans))
		}
		for _, sp := range spans {
			want, ok := sums[sp.name]
			if !ok {
				return nil, fmt.Errorf("tensor %q has no checksum in __metadata__[%s]: the header was edited", sp.name, metaChecksums)
			}
			h := sha256.Sum256(body[sp.e.Offsets[0]:sp.e.Offsets[1]])
			if got := hex.EncodeToString(h[:]); got != want {
				return nil, fmt.Errorf("tensor %q (data bytes [%d, %d) after the header at %d): SHA-256 %.12s…, the file records %.12s…: the data is corrupted",
					sp.name, sp.e.Offsets[0], sp.e.Offsets[1], 8+n, got, want)
			}
		}
		c.Checked = true
	}
	for _, sp := range spans {
		b, size := sp.e.Offsets[0], (sp.e.Offsets[1]-sp.e.Offsets[0])/4
		t := Tensor{Shape: append([]int{}, sp.e.Shape...), Data: make([]float32, size)}
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[b+4*int64(i):]))
		}
		if k, ok := strings.CutPrefix(sp.name, optimizerPrefix); ok {
			c.Optimizer[k] = t
		} else {
			c.Weights[sp.name] = t
		}
	}
	return c, nil
}

// Save writes c to path atomically.
func Save(path string, c *Checkpoint) error {
	var buf bytes.Buffer
	if err := Encode(&buf, c); err != nil {
		return err
	}
	return WriteFileAtomic(path, buf.Bytes())
}

// Load reads the checkpoint at path, refusing files over capped.FileLimit.
// It reads the header first and then exactly the data it declares, so a
// device or a file with a lying header costs no more than the header.
func Load(path string) (*Checkpoint, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// readFile reads a safetensors file: the length, the header, then the data
// size the header declares (plus one byte, to notice trailing data).
func readFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, err
	} else if fi.Mode().IsRegular() && fi.Size() > capped.FileLimit {
		return nil, &capped.TooLargeError{Path: path, Size: fi.Size(), Limit: capped.FileLimit}
	}
	r := bufio.NewReaderSize(f, 1<<16)
	var lenbuf [8]byte
	if n, err := io.ReadFull(r, lenbuf[:]); err != nil {
		return nil, fmt.Errorf("%s: file is %d bytes, too short for a safetensors header", path, n)
	}
	n := binary.LittleEndian.Uint64(lenbuf[:])
	if n < 2 || n > maxHeader {
		return nil, fmt.Errorf("%s: header length %d is outside [2, %d]: not a safetensors file", path, n, maxHeader)
	}
	data := make([]byte, 8+n, 8+n+1)
	copy(data, lenbuf[:])
	if _, err := io.ReadFull(r, data[8:]); err != nil {
		return nil, fmt.Errorf("%s: header of %d bytes at offset 8: %v: truncated", path, n, err)
	}
	var raw map[string]struct {
		Offsets [2]int64 `json:"data_offsets"`
	}
	if err := json.Unmarshal(data[8:], &raw); err != nil {
		return nil, fmt.Errorf("%s: header at offset 8: %v", path, err)
	}
	var body int64
	for _, e := range raw {
		body = max(body, e.Offsets[1])
	}
	if total := int64(8+n) + body; total > capped.FileLimit || body < 0 {
		return nil, fmt.Errorf("%s: the header declares %d data bytes, over the cap of %d (raise it with --max-file-size if the file is genuine)", path, body, capped.FileLimit)
	}
	// Read what the header declares, growing as bytes arrive so that a
	// short file with a large claim costs only what it holds.
	data, err = readUpTo(r, data, int64(len(data))+body+1)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return data, nil
}

// readUpTo appends from r to b until b holds n bytes or r ends.
func readUpTo(r io.Reader, b []byte, n int64) ([]byte, error) {
	for int64(len(b)) < n {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(n-int64(len(b)), max(int64(cap(b)), 1<<16))))
		}
		m, err := r.Read(b[len(b):min(int64(cap(b)), n)])
		b = b[:len(b)+m]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// tensorSHA256 is the hex SHA-256 of t's little-endian bytes, as stored.
func tensorSHA256(t []float32) string {
	h := sha256.New()
	buf := make([]byte, 0, 1<<16)
	for _, v := range t {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) {
			h.Write(buf)
			buf = buf[:0]
		}
	}
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}

// WriteFileAtomic writes data to a temporary file beside path, syncs it and
// renames it over path, so readers see either the old or the new content.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
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
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	ok = true
	return nil
}
