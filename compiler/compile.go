package compiler

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Compile parses and checks the spec src (read from filename, which is used
// in messages and to resolve data paths) and returns its IR. On failure the
// error is an ErrorList holding every problem found, sorted by position.
func Compile(filename string, src []byte) (*Model, error) {
	return compile(filename, src, filepath.Dir(filename))
}

// CompileFile reads and compiles the spec at path.
func CompileFile(path string) (*Model, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Compile(path, src)
}

// compile is Compile with the directory that data paths resolve against
// given separately, so tests can name a spec file that does not exist.
func compile(filename string, src []byte, dir string) (*Model, error) {
	c := &checker{decoder: decoder{file: filename}, dir: dir, written: map[string]string{}}
	if root := c.parseYAML(src); root != nil {
		c.checkSpec(root)
	}
	if len(c.errs) > 0 {
		return nil, c.errs.normalize()
	}
	m := c.lower()
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
	if err := Verify(m); err != nil {
		return nil, ErrorList{{Pos: Pos{File: filename, Line: 1, Col: 1}, Msg: "internal compiler error: " + err.Error()}}
	}
	return m, nil
}

// lower builds the layers and the parameter table from the checked spec.
// Afterwards the model satisfies Verify.
func (c *checker) lower() *Model {
	m := c.m // a copy: the checker's model stays the spec as read
	var params []Param
	dense := func(name string, in, out int, act Activation, alpha float64, pos Pos) Layer {
		l := Layer{Name: name, Op: Dense, In: in, Out: out, Activation: act, Alpha: alpha,
			Weight: name + ".weight", Bias: name + ".bias", Pos: pos}
		// PyTorch's nn.Linear draws both weight and bias from U(±1/sqrt(in)).
		params = append(params,
			Param{Name: l.Weight, Shape: []int{in, out}, Init: InitFanInUniform, FanIn: in},
			Param{Name: l.Bias, Shape: []int{out}, Init: InitFanInUniform, FanIn: in})
		return l
	}
	headPos, outPos := c.pos(c.latentNode), c.pos(c.decoderNode)
	if c.likelihoodNode != nil {
		outPos = c.pos(c.likelihoodNode)
	}

	in := m.Input.Size
	m.Encoder = nil
	for i, ls := range c.enc {
		m.Encoder = append(m.Encoder, dense(fmt.Sprintf("encoder.%d", i), in, ls.units, ls.act, ls.alpha, ls.pos))
		in = ls.units
	}
	m.Mu = dense("encoder.mu", in, m.Latent, Linear, 0, headPos)
	m.Logvar = dense("encoder.logvar", in, m.Latent, Linear, 0, headPos)

	in = m.Latent
	m.Decoder = nil
	for i, ls := range c.dec {
		m.Decoder = append(m.Decoder, dense(fmt.Sprintf("decoder.%d", i), in, ls.units, ls.act, ls.alpha, ls.pos))
		in = ls.units
	}
	outAct := Linear // Bernoulli: logits
	if m.Likelihood != Bernoulli && c.meanAct != "" {
		outAct = c.meanAct
	}
	m.Output = dense("decoder.out", in, m.Input.Size, outAct, 0, outPos)
	if m.Likelihood == GaussianLearned {
		m.OutputLogvar = "decoder.logvar"
		params = append(params, Param{Name: m.OutputLogvar, Shape: []int{m.Input.Size}, Init: InitZeros})
	}
	m.Params = params
	m.Input.Shape = append([]int(nil), m.Input.Shape...)
	return &m
}

// hash returns the hex SHA-256 of the normalised spec: the model with
// positions and file locations dropped and data paths as written, so the
// same spec hashes the same wherever the repository lives.
func (c *checker) hash(m *Model) (string, error) {
	n := *m
	n.SpecFile, n.SpecHash = "", ""
	strip := func(ls []Layer) []Layer {
		out := append([]Layer(nil), ls...)
		for i := range out {
			out[i].Pos = Pos{}
		}
		return out
	}
	n.Encoder, n.Decoder = strip(m.Encoder), strip(m.Decoder)
	n.Mu.Pos, n.Logvar.Pos, n.Output.Pos = Pos{}, Pos{}, Pos{}
	n.Data.Train.Path = c.written["data.train"+pathSuffix(c.written, "data.train")]
	n.Data.Train.Labels = c.written["data.train.labels"]
	if m.Data.Validation != nil {
		v := *m.Data.Validation
		v.Path = c.written["data.validation"+pathSuffix(c.written, "data.validation")]
		v.Labels = c.written["data.validation.labels"]
		n.Data.Validation = &v
	}
	b, err := json.Marshal(n)
	if err != nil {
		return "", fmt.Errorf("hashing the spec: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// pathSuffix tells whether a source was written as a plain path (recorded
// under its own key) or as a mapping (recorded under key.path).
func pathSuffix(written map[string]string, key string) string {
	if _, ok := written[key]; ok {
		return ""
	}
	return ".path"
}
