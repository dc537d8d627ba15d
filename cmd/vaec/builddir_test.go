package main

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/checkpoint"
)

// The tests of issue 14's findings through the command line; the commit
// itself is crash-tested in package builddir (TestCrashAtEveryStep).

// trained returns a build directory trained for one epoch.
func trained(t *testing.T) string {
	t.Helper()
	dir := trainBuildDir(t, nil)
	if code, out, errOut := runVaec(t, "train", dir, "--epochs", "1", "-q"); code != 0 {
		t.Fatalf("train: exit %d\n%s\n%s", code, out, errOut)
	}
	return dir
}

// Finding 1: a second writer is refused, naming the holder's PID.
func TestFinding1SecondWriterRefused(t *testing.T) {
	dir := trained(t)
	d, err := builddir.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	for _, args := range [][]string{{"train", dir, "--epochs", "1"}, {"export", "--dir", dir}} {
		code, _, errOut := runVaec(t, args...)
		if code != exitError || !strings.Contains(errOut, "locked by process "+strconv.Itoa(os.Getpid())) {
			t.Errorf("vaec %v while locked: exit %d, stderr %q", args, code, errOut)
		}
	}
}

// Finding 2: what the reproducer leaves (a crash between checkpoint and
// best under the old layout: best behind, a metrics line missing) is
// repaired on the next writer, and resume trains on.
func TestFinding2ResumeAfterTornCommit(t *testing.T) {
	dir := trained(t)
	// An earlier vaec's directory: regular files, metrics with a torn line.
	for _, n := range []string{lastCheckpoint, bestCheckpoint, metricsFile} {
		p := filepath.Join(dir, n)
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(p)
		if n == metricsFile {
			b = append(b, []byte(`{"epoch":2,"train_el`)...)
		}
		os.WriteFile(p, b, 0o644)
	}
	os.RemoveAll(filepath.Join(dir, ".vaec"))
	code, out, errOut := runVaec(t, "train", dir, "--resume", "--epochs", "2", "-q")
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "torn") {
		t.Errorf("resume does not say it dropped the torn line:\n%s", errOut)
	}
	if e, err := builddir.Consistent(dir); err != nil || e != 2 {
		t.Errorf("after resume: epoch %d, %v", e, err)
	}
}

// Finding 3: train on a trained directory is refused without --resume or
// --force, and touches nothing.
func TestFinding3TrainedDirectoryProtected(t *testing.T) {
	dir := trained(t)
	before, _ := os.ReadFile(filepath.Join(dir, metricsFile))
	code, _, errOut := runVaec(t, "train", dir, "--epochs", "1")
	if code != exitError || !strings.Contains(errOut, "--resume") || !strings.Contains(errOut, "--force") {
		t.Errorf("retrain without flags: exit %d, stderr %q", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, metricsFile))
	if string(before) != string(after) || len(after) == 0 {
		t.Errorf("a refused train changed metrics.jsonl: %q → %q", before, after)
	}
	if code, _, errOut := runVaec(t, "train", dir, "--epochs", "1", "--resume", "--force"); code != exitUsage {
		t.Errorf("--resume --force: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runVaec(t, "train", dir, "--epochs", "1", "--force", "-q"); code != 0 {
		t.Errorf("--force: exit %d\n%s\n%s", code, out, errOut)
	}
	if e, err := builddir.Consistent(dir); err != nil || e != 1 {
		t.Errorf("after --force: epoch %d, %v", e, err)
	}
}

// Finding 4: memory bombs given as a spec, checkpoint or ONNX file, and a
// model too big for the machine, are refused with exit 1.
func TestFinding4MemoryBombsRefused(t *testing.T) {
	dir := trained(t)
	mnist, _ := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"))
	huge := strings.ReplaceAll(tinySpec, "encoder: [{units: 32}]", "encoder: [{units: 65536}, {units: 65536}, {units: 65536}]")
	huge = strings.ReplaceAll(huge, "MNIST", mnist)
	hugePath := filepath.Join(t.TempDir(), "huge.yaml")
	os.WriteFile(hugePath, []byte(huge), 0o644)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"build", "/dev/zero", "--dir", t.TempDir()}, "over the cap"},
		{[]string{"export", "--dir", dir, "--checkpoint", "/dev/zero", "--out", t.TempDir()}, "not a safetensors file"},
		{[]string{"verify", "--dir", dir, "--encoder", "/dev/zero", "--decoder", "/dev/zero"}, "over the cap"},
		{[]string{"build", hugePath, "--dir", t.TempDir()}, "would need about"},
	}
	for _, c := range cases {
		code, _, errOut := runVaec(t, c.args...)
		if code != exitError || !strings.Contains(errOut, c.want) {
			t.Errorf("vaec %v: exit %d, stderr %q; want exit 1 and %q", c.args, code, errOut, c.want)
		}
	}
}

// Finding 5: temp files of interrupted saves go with the next writer, and
// the exported files are a pair from one export.
func TestFinding5LeftoversAndPairs(t *testing.T) {
	dir := trained(t)
	for _, n := range []string{".checkpoint.safetensors.tmp123", ".best.safetensors.tmp9", ".decoder.onnx.tmp77"} {
		os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644)
	}
	code, _, errOut := runVaec(t, "export", "--dir", dir, "--no-verify", "-q")
	if code != 0 {
		t.Fatalf("export: exit %d, %s", code, errOut)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*")); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
	rec, ok, err := builddir.Exported(dir)
	sum, _ := builddir.FileSHA256(filepath.Join(dir, lastCheckpoint))
	if !ok || err != nil || rec.Source != sum || rec.Files[encoderFile] == "" || rec.Files[decoderFile] == "" {
		t.Errorf("export set record %+v, %v, %v: want both files from the checkpoint %s", rec, ok, err, sum)
	}
}

// Finding 7: corrupted weights are refused by export and verify, a changed
// ONNX file by verify, and out-of-range numbers on the command line.
func TestFinding7IntegrityAndRanges(t *testing.T) {
	dir := trained(t)
	if code, _, errOut := runVaec(t, "export", "--dir", dir, "--no-verify", "-q"); code != 0 {
		t.Fatalf("export: %s", errOut)
	}
	if code, out, errOut := runVaec(t, "verify", "--dir", dir, "-q"); code != 0 {
		t.Fatalf("verify of a fresh export: exit %d\n%s\n%s", code, out, errOut)
	}
	// A weight of 3e38 in a copy of the checkpoint.
	b, _ := os.ReadFile(filepath.Join(dir, lastCheckpoint))
	binary.LittleEndian.PutUint32(b[len(b)-4:], 0x7f61d7e6) // ≈3e38
	bad := filepath.Join(t.TempDir(), "bad.safetensors")
	os.WriteFile(bad, b, 0o644)
	if _, err := checkpoint.Load(bad); err == nil {
		t.Fatal("the corrupted checkpoint loads")
	}
	for _, args := range [][]string{
		{"export", "--dir", dir, "--checkpoint", bad, "--out", t.TempDir()},
		{"verify", "--dir", dir, "--checkpoint", bad},
	} {
		if code, _, errOut := runVaec(t, args...); code != exitError || !strings.Contains(errOut, "corrupted") {
			t.Errorf("vaec %v: exit %d, stderr %q", args, code, errOut)
		}
	}
	// A changed weight in decoder.onnx: verify's digest check.
	dec := filepath.Join(dir, decoderFile)
	onnx, _ := os.ReadFile(dec)
	onnx[len(onnx)/2] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "decoder.onnx")
	os.WriteFile(tampered, onnx, 0o644)
	if code, _, errOut := runVaec(t, "verify", "--dir", dir, "--decoder", tampered); code != exitError || !strings.Contains(errOut, "changed after export") {
		t.Errorf("verify of a changed decoder: exit %d, stderr %q", code, errOut)
	}
	for _, args := range [][]string{
		{"train", dir, "--epochs", "100000000000"},
		{"train", dir, "--epochs", "1000001"},
		{"run", "--epochs", "0", "x.yaml"},
		{"export", "--dir", dir, "--max-file-size", "lots"},
	} {
		if code, _, errOut := runVaec(t, args...); code != exitUsage || !strings.Contains(errOut, "--") {
			t.Errorf("vaec %v: exit %d, stderr %q; want exit 2", args, code, errOut)
		}
	}
	// A control character in a file name is escaped where it is printed.
	if code, _, errOut := runVaec(t, "build", "\x1b[2Jspec.yaml"); code != exitError || strings.ContainsRune(errOut, 0x1b) || !strings.Contains(errOut, `\x1b[2J`) {
		t.Errorf("ESC in a file name: exit %d, stderr %q", code, errOut)
	}
}

// vaec run is like make: a second run is up to date and exits 0; a missing
// ONNX file is exported again; another spec is refused without --force.
func TestRunLikeMake(t *testing.T) {
	mnist, err := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist", "t10k-images-idx3-ubyte.gz"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	os.WriteFile("tiny.yaml", []byte(strings.ReplaceAll(tinySpec, "MNIST", mnist)), 0o644)
	if code, out, errOut := runVaec(t, "run", "--dir", "out", "tiny.yaml", "-q"); code != 0 {
		t.Fatalf("first run: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runVaec(t, "run", "--dir", "out", "tiny.yaml")
	if code != 0 || strings.Count(out, "up to date") != 2 || strings.Contains(out, "epoch 1/1") {
		t.Errorf("second run: exit %d, want up to date twice without training\n%s\n%s", code, out, errOut)
	}
	// The file of the export set goes (a top-level link removed by hand is
	// repaired from the committed set by the next writer).
	real, err := filepath.EvalSymlinks(filepath.Join("out", decoderFile))
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(real)
	code, out, errOut = runVaec(t, "run", "--dir", "out", "tiny.yaml")
	if code != 0 || !strings.Contains(out, "exporting: no ONNX files yet") || !strings.Contains(out, "verify: PASS") {
		t.Errorf("run after removing decoder.onnx: exit %d\n%s\n%s", code, out, errOut)
	}
	os.WriteFile("other.yaml", []byte(strings.ReplaceAll(strings.ReplaceAll(tinySpec, "MNIST", mnist), "seed: 7", "seed: 8")), 0o644)
	if code, _, errOut := runVaec(t, "run", "--dir", "out", "other.yaml"); code != exitError || !strings.Contains(errOut, "--force") {
		t.Errorf("run of another spec: exit %d, stderr %q", code, errOut)
	}
	if code, out, errOut := runVaec(t, "run", "--dir", "out", "other.yaml", "--force", "-q"); code != 0 {
		t.Errorf("run of another spec with --force: exit %d\n%s\n%s", code, out, errOut)
	}
}
