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
	return c.lowerWith(nil)
}

// lowerWith is lower that, given report, reports each shape problem as a
// positioned spec error (checkShapes' dry run) and carries on with the
// other graph; without it the first problem is the error.
//
// The layers become nodes in order: a dense layer with reshape is a dense
// node and a reshape node after it. The decoder's output layer is implied
// (a dense layer to the input's size, reshaped back to the input's shape),
// unless the decoder ends in a conv2d or conv_transpose2d: that layer is
// then the output layer, must produce the input's shape exactly, and takes
// the likelihood's activation, so a spec can state a PyTorch model layer
// for layer.
func (c *checker) lowerWith(report func(*Error)) (*ir.Model, error) {
	m := c.m // a copy: the checker's model stays the spec as read
	m.Format = ir.FormatVersion
	m.Params = nil
	m.Input.Shape = m.Input.Shape.Clone()
	headPos, outPos, outPath := c.pos(c.latentNode), c.pos(c.decoderNode), "decoder"
	if c.likelihoodNode != nil {
		outPos, outPath = c.pos(c.likelihoodNode), "likelihood"
	}
	outAct := ir.Linear // Bernoulli: logits
	if m.Likelihood.Kind != ir.Bernoulli {
		outAct = c.meanAct
	}
	var first error
	fail := func(pos Pos, path, hint, format string, args ...any) error {
		e := &Error{Pos: pos, Path: path, Msg: fmt.Sprintf(format, args...), Hint: hint}
		if report != nil {
			report(e)
		}
		if first == nil {
			first = e
		}
		return e
	}
	// add appends one node after checking its shape through the op table,
	// so that a problem is reported at the layer with a hint.
	add := func(b *ir.Builder, n ir.Node, l *layerSpec, in ir.Shape) (ir.Shape, error) {
		out, err := n.Op.Info().Infer(&n, []ir.Shape{in})
		if err != nil {
			return nil, fail(n.Pos, n.Path, shapeHint(n, l, in), "%s: %v", n.Op, err)
		}
		if _, err := b.Add(n); err != nil {
			return nil, fail(n.Pos, n.Path, "", "%v", err)
		}
		return out, nil
	}
	layers := func(b *ir.Builder, prefix string, ls []layerSpec, shape ir.Shape) (ir.Shape, bool, error) {
		for i := range ls {
			l := &ls[i]
			path := indexPath(prefix, i)
			n := ir.Node{Name: fmt.Sprintf("%s.%d", prefix, i), Op: l.op, Pos: l.pos, Path: path, Attrs: l.attrs()}
			last := prefix == "decoder" && i == len(ls)-1
			isOut := last && (l.op == ir.Conv2D || l.op == ir.ConvTranspose2D)
			if isOut {
				n.Role, n.Activation, n.Alpha = ir.RoleOutput, outAct, 0
				if l.actSet {
					return nil, false, fail(l.actPos, path+".activation", "remove it; a gaussian mean takes likelihood.mean_activation",
						"decoder[%d] is the output layer, giving the likelihood's %s: it takes no activation", i, map[bool]string{true: "logits", false: "mean"}[m.Likelihood.Kind == ir.Bernoulli])
				}
				out, err := n.Op.Info().Infer(&n, []ir.Shape{shape})
				if err == nil && !out.Equal(m.Input.Shape) {
					return nil, false, fail(l.pos, path, outputHint(n, shape, out, m.Input.Shape),
						"%s produces %v, the input is %v", n.Op, out, m.Input.Shape)
				}
			}
			out, err := add(b, n, l, shape)
			if err != nil {
				return nil, false, err
			}
			shape = out
			if l.reshape != nil {
				r := ir.Node{Name: n.Name + ".reshape", Op: ir.Reshape, Pos: l.reshapePos, Path: path + ".reshape", Attrs: ir.Attrs{Target: l.reshape}}
				if shape, err = add(b, r, l, shape); err != nil {
					return nil, false, err
				}
			}
			if isOut {
				return shape, true, nil
			}
		}
		return shape, false, nil
	}
	enc := m.EncoderBuilder()
	if _, _, err := layers(enc, "encoder", c.enc, m.Input.Shape); err == nil {
		h := enc.Last()
		for _, head := range []struct {
			name string
			role ir.Role
		}{{"encoder.mu", ir.RoleMu}, {"encoder.logvar", ir.RoleLogvar}} {
			n := ir.Node{Name: head.name, Op: ir.Dense, Role: head.role, Inputs: []string{h}, Pos: headPos, Path: "latent",
				Attrs: ir.Attrs{Units: m.Latent}}
			if _, err := enc.Add(n); err != nil {
				fail(headPos, "latent", "", "%v", err)
			}
		}
	}
	dec := m.DecoderBuilder()
	if _, explicit, err := layers(dec, "decoder", c.dec, ir.Shape{m.Latent}); err == nil && !explicit {
		out := ir.Node{Name: "decoder.out", Op: ir.Dense, Role: ir.RoleOutput, Pos: outPos, Path: outPath,
			Attrs: ir.Attrs{Units: m.Input.Size, Activation: outAct}}
		if _, err := dec.Add(out); err != nil {
			fail(outPos, outPath, "", "%v", err)
		}
	}
	if first != nil {
		return nil, first
	}
	m.AddLikelihoodParams()
	m.AddPriorParams()
	return &m, nil
}

// shapeHint suggests a fix for a layer whose shape does not fit its input.
func shapeHint(n ir.Node, l *layerSpec, in ir.Shape) string {
	switch {
	case n.Op == ir.Reshape:
		return fmt.Sprintf("units: %d gives %d values; make the product of reshape equal to it", l.units, in.Size())
	case len(in) == 1 && (n.Op == ir.Conv2D || n.Op == ir.ConvTranspose2D || n.Op == ir.Upsample):
		if n.Path == "encoder[0]" {
			return "give input.shape as [C, H, W]"
		}
		return "give the dense layer before it reshape: [C, H, W]"
	case n.Op == ir.Conv2D && len(in) == 3 && len(n.Kernel) == 2 && (n.Kernel[0] > in[1]+2*n.Padding[0] || n.Kernel[1] > in[2]+2*n.Padding[1]):
		return "use a smaller kernel or more padding"
	}
	return ""
}

// outputHint suggests how the decoder's last convolution can produce the
// input's shape: output_padding when that is all that is missing.
func outputHint(n ir.Node, in, got, want ir.Shape) string {
	if len(want) != 3 {
		return "the input is a vector: end the decoder with a dense layer (the output layer is then added), or give input.shape as [C, H, W]"
	}
	if got[0] != want[0] {
		return fmt.Sprintf("filters: %d gives the input's channels", want[0])
	}
	dh, dw := want[1]-got[1], want[2]-got[2]
	if n.Op == ir.ConvTranspose2D && dh >= 0 && dw >= 0 && n.OutputPadding[0]+dh < n.Stride[0] && n.OutputPadding[1]+dw < n.Stride[1] {
		oh, ow := n.OutputPadding[0]+dh, n.OutputPadding[1]+dw
		if oh == ow {
			return fmt.Sprintf("output_padding: %d would give %d", oh, want[1])
		}
		return fmt.Sprintf("output_padding: [%d, %d] would give %d×%d", oh, ow, want[1], want[2])
	}
	return fmt.Sprintf("change kernel, stride or padding so that it gives %d×%d", want[1], want[2])
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
