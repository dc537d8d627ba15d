package main

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vaec/vaec/vae"
)

// torchFile is a PyTorch export of testdata/foreign/torch.
func torchFile(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "testdata", "foreign", "torch", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// torchIO returns input or output name of PyTorch's case at batch 7 in
// testdata/foreign/torch/NAME.json.
func torchIO(t *testing.T, name, io, tensor string) []float32 {
	t.Helper()
	b, err := os.ReadFile(torchFile(t, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Cases []map[string]map[string]struct{ Data []float32 }
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	return f.Cases[1][io][tensor].Data
}

// TestForeignEncode checks `vaec encode` on PyTorch's encoders against
// PyTorch's posterior means, the images given as an NPY file of raw values
// scaled by --input-scale.
func TestForeignEncode(t *testing.T) {
	for _, name := range []string{"mlp_encoder", "conv_encoder", "bn_encoder"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			x := torchIO(t, name, "inputs", "x")
			// Raw values 255 times larger, as 8-bit images would be.
			raw := make([]float32, len(x))
			for i, v := range x {
				raw[i] = v * 255
			}
			data := filepath.Join(dir, "x.npy")
			if err := os.WriteFile(data, encodeNPY(raw, []int{7, 784}), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "mu.npy")
			code, stdout, stderr := vaecCmd(t, "encode", "--encoder", torchFile(t, name+"_opset17.onnx"), "--data", data, "--input-scale", "1/255", "--out", out)
			if code != 0 {
				t.Fatalf("exit %d: %s", code, stderr)
			}
			for _, w := range []string{"has no vaec metadata", "latent size 8", "input scaling x = raw*0.00392157 (as given)"} {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if !strings.Contains(stdout, "posterior means [7, 8]") {
				t.Errorf("stdout: %s", stdout)
			}
			got := loadMatrix(t, out, 8, false)
			want := torchIO(t, name, "outputs", "mu")
			for i := range want {
				// Scaling by 255 and back costs an ulp or two of x.
				if math.Abs(float64(got.X[i]-want[i])) > 1e-4 {
					t.Fatalf("mu[%d] = %v, PyTorch %v", i, got.X[i], want[i])
				}
			}
		})
	}
}

// TestForeignSampleReconstruct runs sample and reconstruct on PyTorch's
// MLP, conv and conditional decoders and checks their outputs against the
// same files run through package vae directly.
func TestForeignSampleReconstruct(t *testing.T) {
	mnist, err := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		enc, dec string
		extra    []string // flags
		opts     vae.ONNXOptions
	}{
		{"mlp_encoder_opset17.onnx", "mlp_decoder_opset17.onnx", nil, vae.ONNXOptions{}},
		{"conv_encoder_opset13.onnx", "conv_decoder_opset13.onnx", nil, vae.ONNXOptions{}},
		{"bn_encoder_opset17.onnx", "bn_decoder_opset17.onnx", nil, vae.ONNXOptions{}},
		{"mlp_encoder_opset17.onnx", "cond_decoder_opset17.onnx", []string{"--label", "2,7,1"}, vae.ONNXOptions{Labels: []int{2, 7, 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.dec, func(t *testing.T) {
			dir := t.TempDir()
			dec := torchFile(t, tt.dec)
			args := append([]string{"sample", "--decoder", dec, "--n", "5", "--seed", "3", "--out", filepath.Join(dir, "s.npy")}, tt.extra...)
			code, stdout, stderr := vaecCmd(t, args...)
			if code != 0 {
				t.Fatalf("sample: exit %d: %s", code, stderr)
			}
			if !strings.Contains(stdout, "5 samples from") || !strings.Contains(stderr, `output "probs" read as Bernoulli probabilities`) {
				t.Errorf("sample printed:\n%s%s", stdout, stderr)
			}
			s := loadMatrix(t, filepath.Join(dir, "s.npy"), 784, false)
			for i, p := range s.X {
				if !(p >= 0 && p <= 1) {
					t.Fatalf("sample value %d = %v, not a probability", i, p)
				}
			}
			// PNG grids work for the 4-D conv output too.
			if code, _, stderr := vaecCmd(t, append([]string{"sample", "--decoder", dec, "--n", "4", "--out", filepath.Join(dir, "s.png")}, tt.extra...)...); code != 0 {
				t.Fatalf("sample png: exit %d: %s", code, stderr)
			}

			args = append([]string{"reconstruct", "--encoder", torchFile(t, tt.enc), "--decoder", dec, "--data", mnist, "--n", "6",
				"--input-scale", "1/255", "--out", filepath.Join(dir, "r.npy")}, tt.extra...)
			if code, _, stderr = vaecCmd(t, args...); code != 0 {
				t.Fatalf("reconstruct: exit %d: %s", code, stderr)
			}
			got := loadMatrix(t, filepath.Join(dir, "r.npy"), 784, false)
			// The same files through the library, from the images scaled here.
			opts := tt.opts
			opts.Scale = 1.0 / 255
			v, err := vae.FromONNX(torchFile(t, tt.enc), dec, opts)
			if err != nil {
				t.Fatal(err)
			}
			x := loadMatrix(t, mnist, 784, false)
			for i := range x.X[:6*784] {
				x.X[i] /= 255
			}
			mu, _, err := v.EncodeAll(x.X[:6*784], 6)
			if err != nil {
				t.Fatal(err)
			}
			want, err := v.Expected(mu, 6)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if math.Abs(float64(got.X[i]-want[i])) > 1e-5 {
					t.Fatalf("reconstruction value %d = %v, library %v", i, got.X[i], want[i])
				}
			}
		})
	}
}

// TestForeignErrors checks the messages of the inference verbs on files
// without metadata: each names the file's actual inputs and outputs and
// the flag that fixes it.
func TestForeignErrors(t *testing.T) {
	dec, cond := torchFile(t, "mlp_decoder_opset17.onnx"), torchFile(t, "cond_decoder_opset17.onnx")
	enc := torchFile(t, "mlp_encoder_opset17.onnx")
	out := filepath.Join(t.TempDir(), "s.npy")
	tests := []struct {
		args []string
		code int
		want []string
	}{
		{[]string{"sample", "--decoder", dec, "--output-name", "recon"}, exitError, []string{`no output named "recon" (the file's outputs: probs[N,784]); set with --output-name`}},
		{[]string{"sample", "--decoder", dec, "--latent-name", "code"}, exitError, []string{`no input named "code" (the file's inputs: z[N,8]); set with --latent-name`}},
		{[]string{"encode", "--encoder", enc, "--mu-name", "mean", "--data", "x.npy"}, exitError, []string{`no output named "mean" (the file's outputs: mu[N,8], logvar[N,8]); set with --mu-name`}},
		{[]string{"sample", "--decoder", cond}, exitError, []string{"input y[N,10] has no value: it looks like a one-hot label over 10 classes", "inputs: z[N,8], y[N,10]", "--label K, or --feed NAME=FILE.npy"}},
		{[]string{"sample", "--decoder", cond, "--label", "12"}, exitError, []string{"label 12 is out of range", "0 to 9"}},
		{[]string{"sample", "--decoder", cond, "--label", "a"}, exitUsage, []string{`--label "a": want a class number`}},
		{[]string{"sample", "--decoder", dec, "--label", "1"}, exitError, []string{"no input takes a label", "inputs: z[N,8]"}},
		{[]string{"sample", "--decoder", dec, "--decoder-output", "prob"}, exitUsage, []string{`--decoder-output "prob": want probs, logits or mean`}},
		{[]string{"sample", "--decoder", cond, "--feed", "y"}, exitUsage, []string{`--feed "y": want NAME=FILE.npy`}},
		{[]string{"sample", "--decoder", cond, "--feed", "y=nowhere.npy"}, exitError, []string{"--feed y:", "nowhere.npy"}},
		{[]string{"eval", "--encoder", enc, "--decoder", cond, "--label", "1,2", "--data", "x.npy"}, exitUsage, []string{"eval takes one --label"}},
		{[]string{"reconstruct", "--encoder", enc, "--decoder", dec, "--input-scale", "0"}, exitUsage, []string{"--input-scale: \"0\": want a positive number"}},
		{[]string{"sample", "--dir", t.TempDir(), "--latent-name", "z"}, exitUsage, []string{"--latent-name applies to ONNX files"}},
		{[]string{"sample", "--dir", t.TempDir(), "--label", "1"}, exitError, []string{"no build in"}},
		{[]string{"sample", "--decoder", filepath.Join("..", "..", "testdata", "round1", "build", "decoder.onnx"), "--decoder-output", "logits", "--out", out}, exitError, []string{"decoder output kind logits contradicts the file's vaec metadata"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, stderr := vaecCmd(t, tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d: %s", code, tt.code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}

// TestForeignFeed feeds the conditional decoder's label input from an NPY
// file of one-hot rows: the same numbers as --label.
func TestForeignFeed(t *testing.T) {
	dir := t.TempDir()
	cond := torchFile(t, "cond_decoder_opset17.onnx")
	y := make([]float32, 2*10)
	y[4], y[10+9] = 1, 1
	if err := os.WriteFile(filepath.Join(dir, "y.npy"), encodeNPY(y, []int{2, 10}), 0o644); err != nil {
		t.Fatal(err)
	}
	var outs [2][]byte
	for i, flags := range [][]string{{"--label", "4,9"}, {"--feed", "y=" + filepath.Join(dir, "y.npy")}} {
		out := filepath.Join(dir, "s.npy")
		code, _, stderr := vaecCmd(t, append([]string{"sample", "--decoder", cond, "--n", "6", "--out", out}, flags...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", flags, code, stderr)
		}
		var err error
		if outs[i], err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("--label 4,9 and --feed of the same one-hot rows differ")
	}
}

// TestInspectRuntime checks that inspect says whether vaec's runtime runs a
// file: PyTorch's conv decoder runs; the same MLP decoder with its Relu
// renamed to Selu (an ONNX operator the runtime lacks; same length, so the
// protobuf stays valid) does not, and inspect still exits 0.
func TestInspectRuntime(t *testing.T) {
	b, err := os.ReadFile(torchFile(t, "mlp_decoder_opset17.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	selu := filepath.Join(t.TempDir(), "selu.onnx")
	if err := os.WriteFile(selu, bytes.ReplaceAll(b, []byte("Relu"), []byte("Selu")), 0o644); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := vaecCmd(t, "inspect", torchFile(t, "conv_decoder_opset17.onnx"))
	if code != 0 || !strings.Contains(stdout, "vaec runtime: runs this file") {
		t.Errorf("conv decoder: exit %d\n%s%s", code, stdout, stderr)
	}
	code, stdout, stderr = vaecCmd(t, "inspect", selu)
	if code != 0 || !strings.Contains(stdout, "vaec runtime: cannot run this file; it lacks:\n  operator Selu (nodes \"/Selu\")") {
		t.Errorf("Selu: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, tt := range []struct {
		file        string
		runs        bool
		unsupported int
	}{{torchFile(t, "cond_decoder_opset13.onnx"), true, 0}, {selu, false, 1}} {
		code, stdout, stderr = vaecCmd(t, "inspect", "--json", tt.file)
		if code != 0 {
			t.Fatalf("--json: exit %d: %s", code, stderr)
		}
		var j inspectJSON
		if err := json.Unmarshal([]byte(stdout), &j); err != nil {
			t.Fatal(err)
		}
		if j.Runtime.Runs != tt.runs || len(j.Runtime.Unsupported) != tt.unsupported || !strings.Contains(stdout, `"unsupported": [`) {
			t.Errorf("%s: runtime = %+v\n%s", tt.file, j.Runtime, stdout)
		}
	}
}
