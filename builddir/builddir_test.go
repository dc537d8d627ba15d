package builddir

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/vaec/vaec/checkpoint"
)

// ck is the checkpoint of epoch e in a test run whose best epoch is best.
func ck(e, best int) *checkpoint.Checkpoint {
	return &checkpoint.Checkpoint{
		Weights: map[string]checkpoint.Tensor{"w": {Shape: []int{2}, Data: []float32{float32(e), -float32(e)}}},
		State:   checkpoint.State{SpecHash: "spec", Epoch: e, Step: int64(10 * e), BestEpoch: best},
	}
}

func line(e int) []byte { return []byte(fmt.Sprintf(`{"epoch":%d,"train_elbo":-%d}`, e, 100-e)) }

// commitEpochs commits epochs from..to; epochs 1, 2 and every third one
// improve.
func commitEpochs(t testing.TB, d *Dir, from, to int) {
	t.Helper()
	best := 0
	if from > 1 {
		best = bestOf(from - 1)
	}
	for e := from; e <= to; e++ {
		improved := e <= 2 || e%3 == 0
		if improved {
			best = e
		}
		if err := d.CommitEpoch(ck(e, best), improved, line(e)); err != nil {
			t.Fatal(err)
		}
	}
}

func bestOf(e int) int {
	b := 0
	for i := 1; i <= e; i++ {
		if i <= 2 || i%3 == 0 {
			b = i
		}
	}
	return b
}

func TestCommitEpochs(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if e, err := Consistent(dir); err != nil || e != 0 {
		t.Fatalf("empty dir: epoch %d, %v", e, err)
	}
	for e := 1; e <= 5; e++ {
		commitEpochs(t, d, e, e)
		got, err := Consistent(dir)
		if err != nil || got != e {
			t.Fatalf("after epoch %d: Consistent = %d, %v", e, got, err)
		}
	}
	// The documented names are links that any tool opens.
	for _, n := range []string{Checkpoint, Best, Metrics} {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("%s: %v, mode %v; want a symbolic link", n, err, fi.Mode())
		}
	}
	best, _ := checkpoint.Load(filepath.Join(dir, Best))
	if best.State.Epoch != 3 {
		t.Errorf("best is epoch %d, want 3", best.State.Epoch)
	}
	// Only the committed generation stays.
	gens, _ := filepath.Glob(filepath.Join(dir, meta, "gen-*"))
	if len(gens) != 1 {
		t.Errorf("%d generations left: %v", len(gens), gens)
	}
	c, ok, err := Committed(dir)
	if !ok || err != nil || c.Epoch != 5 || c.BestEpoch != 3 || len(c.Files) != 3 {
		t.Errorf("Committed = %+v, %v, %v", c, ok, err)
	}
}

// Finding 1: two writers on one directory. The second is refused, and the
// message names the holder's PID.
func TestLockRefusesSecondWriter(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir)
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "process "+strconv.Itoa(os.Getpid())) {
		t.Fatalf("second Open: %v; want ErrLocked naming PID %d", err, os.Getpid())
	}
	d.Close()
	d2, err := Open(dir)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	d2.Close()
}

// Finding 5 and 7 (torn line): a directory written by an earlier vaec,
// with temp files of interrupted saves and a torn metrics line, is adopted:
// temp files go, the torn line and lines past the checkpoint are dropped,
// and each repair is said.
func TestAdoptLegacy(t *testing.T) {
	dir := t.TempDir()
	if err := checkpoint.Save(filepath.Join(dir, Checkpoint), ck(2, 2)); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.Save(filepath.Join(dir, Best), ck(2, 2)); err != nil {
		t.Fatal(err)
	}
	metrics := string(line(1)) + "\n" + string(line(2)) + "\n" + string(line(3)) + "\n" + `{"epoch":4,"tra`
	os.WriteFile(filepath.Join(dir, Metrics), []byte(metrics), 0o644)
	for _, n := range []string{".checkpoint.safetensors.tmp123", ".best.safetensors.tmp9", ".decoder.onnx.tmp77", "spec.yaml.tmp"} {
		os.WriteFile(filepath.Join(dir, n), []byte("partial"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, Encoder), []byte("enc"), 0o644)
	d, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	notes := strings.Join(d.Notes, "\n")
	for _, want := range []string{"interrupted save", "torn", "epoch 3", "adopted"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*.tmp*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp*")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	if e, err := Consistent(dir); err != nil || e != 2 {
		t.Fatalf("after adoption: epoch %d, %v", e, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, Encoder)); string(b) != "enc" {
		t.Errorf("encoder.onnx after adoption = %q", b)
	}
	commitEpochs(t, d, 3, 4)
	if e, err := Consistent(dir); err != nil || e != 4 {
		t.Fatalf("after resuming: epoch %d, %v", e, err)
	}
}

// Finding 3: a run that starts over keeps the old files visible until its
// first epoch commits, and then replaces all three.
func TestResetTrainingKeepsFilesUntilCommit(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir)
	defer d.Close()
	commitEpochs(t, d, 1, 6)
	d.ResetTraining()
	if e, err := Consistent(dir); err != nil || e != 6 {
		t.Fatalf("after reset, before a commit: epoch %d, %v", e, err)
	}
	commitEpochs(t, d, 1, 1)
	if e, err := Consistent(dir); err != nil || e != 1 {
		t.Fatalf("after the first epoch of the new run: epoch %d, %v", e, err)
	}
}

// Finding 5 (pairs): the exported files are replaced as a set.
func TestCommitExport(t *testing.T) {
	dir := t.TempDir()
	d, _ := Open(dir)
	defer d.Close()
	if err := d.CommitExport(map[string][]byte{Encoder: []byte("e1"), Decoder: []byte("d1"), RoundTrip: []byte("r1")}, ""); err != nil {
		t.Fatal(err)
	}
	if err := d.CommitExport(map[string][]byte{Encoder: []byte("e2"), Decoder: []byte("d2")}, ""); err != nil {
		t.Fatal(err)
	}
	for n, want := range map[string]string{Encoder: "e2", Decoder: "d2"} {
		if b, err := os.ReadFile(filepath.Join(dir, n)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", n, b, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, RoundTrip)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("roundtrip.onnx of the previous set still visible: %v", err)
	}
	if err := d.CommitExport(map[string][]byte{"model.json": nil}, ""); err == nil {
		t.Errorf("CommitExport accepted model.json")
	}
}

// The crash test of the commit. A child process (this test binary) commits
// epoch 3 over a directory at epoch 2 and is killed with SIGKILL at the Nth
// fsync or the Nth rename, for every N until the commit completes. Each time
// the injection must have fired (the child dies by the signal), the
// directory must hold epoch 2 or epoch 3 consistently, and the next writer
// must clean up and commit epoch 3 normally.
func TestCrashAtEveryStep(t *testing.T) {
	if os.Getenv("BUILDDIR_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	for _, op := range []string{"fsync", "rename"} {
		for _, legacy := range []bool{false, true} {
			fired := 0
			for n := 1; ; n++ {
				dir := t.TempDir()
				if legacy {
					// An earlier vaec's directory: adoption is part of
					// the first writer's work.
					checkpoint.Save(filepath.Join(dir, Checkpoint), ck(2, 2))
					checkpoint.Save(filepath.Join(dir, Best), ck(2, 2))
					os.WriteFile(filepath.Join(dir, Metrics), append(append(line(1), '\n'), append(line(2), '\n')...), 0o644)
				} else {
					d, err := Open(dir)
					if err != nil {
						t.Fatal(err)
					}
					commitEpochs(t, d, 1, 2)
					d.Close()
				}
				cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAtEveryStep$")
				cmd.Env = append(os.Environ(), "BUILDDIR_CRASH_CHILD="+dir, "BUILDDIR_CRASH_OP="+op, "BUILDDIR_CRASH_N="+strconv.Itoa(n))
				out, err := cmd.CombinedOutput()
				killed := false
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					ws, ok := ee.Sys().(syscall.WaitStatus)
					killed = ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
					if !killed {
						t.Fatalf("%s #%d: child failed: %v\n%s", op, n, err, out)
					}
				} else if err != nil {
					t.Fatalf("%s #%d: %v", op, n, err)
				}
				e, cerr := Consistent(dir)
				if cerr != nil || (e != 2 && e != 3) {
					t.Errorf("%s #%d (legacy %v, killed %v): epoch %d, %v", op, n, legacy, killed, e, cerr)
				}
				// The next writer repairs and goes on.
				d, err := Open(dir)
				if err != nil {
					t.Fatalf("%s #%d: reopening: %v", op, n, err)
				}
				if e < 3 {
					commitEpochs(t, d, 3, 3)
				}
				commitEpochs(t, d, 4, 4)
				d.Close()
				if e, err := Consistent(dir); err != nil || e != 4 {
					t.Errorf("%s #%d: after recovery and epoch 4: epoch %d, %v", op, n, e, err)
				}
				if left := leftovers(dir); len(left) > 0 {
					t.Errorf("%s #%d: left behind: %v", op, n, left)
				}
				if !killed {
					break
				}
				fired++
			}
			if fired < 1 {
				t.Errorf("%s (legacy %v): the injection fired %d times; want at least one", op, legacy, fired)
			}
			t.Logf("%s (legacy %v): killed at each of %d steps, directory consistent every time", op, legacy, fired)
		}
	}
}

// leftovers lists files nobody should find after a clean commit.
func leftovers(dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), ".tmp") {
			out = append(out, p)
		}
		return nil
	})
	gens, _ := filepath.Glob(filepath.Join(dir, meta, "gen-*"))
	if len(gens) != 1 {
		out = append(out, gens...)
	}
	return out
}

func crashChild() {
	dir, op := os.Getenv("BUILDDIR_CRASH_CHILD"), os.Getenv("BUILDDIR_CRASH_OP")
	n, _ := strconv.Atoi(os.Getenv("BUILDDIR_CRASH_N"))
	count := 0
	hook = func(o, path string) {
		if o != op {
			return
		}
		if count++; count == n {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
	d, err := Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := d.CommitEpoch(ck(3, 3), true, line(3)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	os.Exit(0)
}

// FuzzCommittedMetrics: the metrics reader used on adoption and commit
// never panics and keeps only whole lines of epochs 1..limit, in order.
func FuzzCommittedMetrics(f *testing.F) {
	f.Add([]byte("{\"epoch\":1}\n{\"epoch\":2}\n{\"epoch\":3}\n"))
	f.Add([]byte("{\"epoch\":1}\n{\"epoch\":2,\"tr"))
	f.Add([]byte("not json\n{\"epoch\":1}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), Metrics)
		os.WriteFile(path, data, 0o644)
		kept, _, err := committedMetrics(path, 2)
		if err != nil {
			return
		}
		if err := checkLines(kept, 2); err != nil {
			t.Fatalf("kept %q: %v", kept, err)
		}
	})
}

func checkLines(b []byte, limit int) error {
	if len(b) == 0 {
		return nil
	}
	if b[len(b)-1] != '\n' {
		return fmt.Errorf("no final newline")
	}
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var e struct{ Epoch int }
		if err := json.Unmarshal([]byte(l), &e); err != nil || e.Epoch != i+1 || e.Epoch > limit {
			return fmt.Errorf("line %d: epoch %d, %v", i+1, e.Epoch, err)
		}
	}
	return nil
}
