package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"github.com/vaec/vaec/ir"
	"os"
	"path/filepath"
)

// Compile parses and checks the spec src (read from filename, which is used
// in messages and to resolve data paths) and returns its IR. On failure the
// error is an ErrorList holding every problem found, sorted by position.
func Compile(filename string, src []byte) (*ir.Model, error) {
	return compile(filename, src, filepath.Dir(filename))
}

// CompileFile reads and compiles the spec at path.
func CompileFile(path string) (*ir.Model, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Compile(path, src)
}

// compile is Compile with the directory that data paths resolve against
// given separately, so tests can name a spec file that does not exist.
func compile(filename string, src []byte, dir string) (*ir.Model, error) {
	m, _, err := compileWarn(filename, src, dir)
	return m, err
}

// CompileWarnings is Compile that also returns the warnings: problems that
// do not stop the build (a constant feature under normalisation, features
// on very different scales), positioned like errors.
func CompileWarnings(filename string, src []byte) (*ir.Model, ErrorList, error) {
	return compileWarn(filename, src, filepath.Dir(filename))
}

func compileWarn(filename string, src []byte, dir string) (*ir.Model, ErrorList, error) {
	c := &checker{decoder: decoder{file: filename}, dir: dir, written: map[string]string{}}
	if root := c.parseYAML(src); root != nil {
		c.checkSpec(root)
	}
	if len(c.errs) == 0 {
		c.fitData()
	}
	if len(c.errs) > 0 {
		return nil, nil, c.errs.normalize()
	}
	m, err := c.compileLowered(filename)
	if err != nil {
		return nil, nil, err
	}
	return m, c.warnings.normalize(), nil
}

func (c *checker) compileLowered(filename string) (*ir.Model, error) {
	m, err := c.lower()
	if err != nil {
		// The checker has already refused every shape the lowering can
		// meet; reaching this is a compiler bug, reported like a spec
		// error so callers need only one path.
		return nil, ErrorList{{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: "internal compiler error: " + err.Error()}}
	}
	m.SpecFile = filename
	if abs, err := filepath.Abs(filename); err == nil {
		m.SpecFile = abs
	}
	h, err := c.hash(m)
	if err != nil {
		return nil, ErrorList{{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: "internal compiler error: " + err.Error()}}
	}
	m.SpecHash = h
	// The verifier guards the lowering itself: a failure here is a compiler
	// bug, reported like a spec error so callers need only one path.
	if err := ir.Verify(m); err != nil {
		return nil, ErrorList{{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: "internal compiler error: " + err.Error()}}
	}
	return m, nil
}

// lower builds the encoder and decoder graphs and the parameter table from
// the checked spec. Afterwards the model satisfies ir.Verify.
func (c *checker) lower() (*ir.Model, error) {
	m := c.m // a copy: the checker's model stays the spec as read
	m.Format = ir.FormatVersion
	m.Params = nil
	m.Input.Shape = m.Input.Shape.Clone()
	headPos, outPos, outPath := c.pos(c.latentNode), c.pos(c.decoderNode), "decoder"
	if c.likelihoodNode != nil {
		outPos, outPath = c.pos(c.likelihoodNode), "likelihood"
	}
	hidden := func(b *ir.Builder, prefix string, ls []layerSpec) error {
		for i, l := range ls {
			n := ir.Node{Name: fmt.Sprintf("%s.%d", prefix, i), Op: ir.Dense, Pos: l.pos, Path: indexPath(prefix, i),
				Attrs: ir.Attrs{Units: l.units, Activation: l.act, Alpha: l.alpha}}
			if _, err := b.Add(n); err != nil {
				return err
			}
		}
		return nil
	}
	enc := m.EncoderBuilder()
	if err := hidden(enc, "encoder", c.enc); err != nil {
		return nil, err
	}
	h := enc.Last()
	for _, head := range []struct {
		name string
		role ir.Role
	}{{"encoder.mu", ir.RoleMu}, {"encoder.logvar", ir.RoleLogvar}} {
		n := ir.Node{Name: head.name, Op: ir.Dense, Role: head.role, Inputs: []string{h}, Pos: headPos, Path: "latent",
			Attrs: ir.Attrs{Units: m.Latent}}
		if _, err := enc.Add(n); err != nil {
			return nil, err
		}
	}
	dec := m.DecoderBuilder()
	if err := hidden(dec, "decoder", c.dec); err != nil {
		return nil, err
	}
	outAct := ir.Linear // Bernoulli: logits
	if m.Likelihood.Kind != ir.Bernoulli {
		outAct = c.meanAct
	}
	out := ir.Node{Name: "decoder.out", Op: ir.Dense, Role: ir.RoleOutput, Pos: outPos, Path: outPath,
		Attrs: ir.Attrs{Units: m.Input.Size, Activation: outAct}}
	if _, err := dec.Add(out); err != nil {
		return nil, err
	}
	m.AddLikelihoodParams()
	return &m, nil
}

// hash returns the hex SHA-256 of the normalised spec: the model with
// positions and file locations dropped and data paths as written, so the
// same spec hashes the same wherever the repository lives. A model the
// round-1 layout can express is hashed in that layout, so that every
// checkpoint and ONNX file made before the general IR keeps its hash.
func (c *checker) hash(m *ir.Model) (string, error) {
	n := *m
	n.SpecFile, n.SpecHash = "", ""
	n.Data.Train.Path = c.written["data.train"+pathSuffix(c.written, "data.train")]
	n.Data.Train.Labels = c.written["data.train.labels"]
	if m.Data.Validation != nil {
		v := *m.Data.Validation
		v.Path = c.written["data.validation"+pathSuffix(c.written, "data.validation")]
		v.Labels = c.written["data.validation.labels"]
		n.Data.Validation = &v
	}
	var b []byte
	var err error
	if old, ok := toLegacy(&n); ok {
		old.stripPositions()
		b, err = json.Marshal(old)
	} else {
		n.Encoder, n.Decoder = stripPositions(m.Encoder), stripPositions(m.Decoder)
		b, err = json.Marshal(n)
	}
	if err != nil {
		return "", fmt.Errorf("hashing the spec: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// stripPositions returns a copy of g without spec positions.
func stripPositions(g ir.Graph) ir.Graph {
	out := ir.Graph{Inputs: g.Inputs, Nodes: append([]ir.Node(nil), g.Nodes...)}
	for i := range out.Nodes {
		out.Nodes[i].Pos = ir.Pos{}
	}
	return out
}

// pathSuffix tells whether a source was written as a plain path (recorded
// under its own key) or as a mapping (recorded under key.path).
func pathSuffix(written map[string]string, key string) string {
	if _, ok := written[key]; ok {
		return ""
	}
	return ".path"
}
