//go:build crash

package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vaec/vaec/builddir"
	"github.com/vaec/vaec/checkpoint"
	"github.com/vaec/vaec/compiler"
)

// TestCrashTrain is issue 14's crash campaign: it kills `vaec train` with
// SIGKILL at random instants (VAEC_CRASH_KILLS, default 60) and checks,
// after every kill, that every file loads and checkpoint, best and metrics
// agree on the epoch; each trial then resumes (killed again at random half
// of the time) until done and must end bit-identical to an uninterrupted
// run. Run it with
//
//	go test -tags crash ./cmd/vaec -run TestCrashTrain -v
func TestCrashTrain(t *testing.T) {
	kills := 60
	if s := os.Getenv("VAEC_CRASH_KILLS"); s != "" {
		kills, _ = strconv.Atoi(s)
	}
	const epochs = "4"
	tmp := t.TempDir()
	bin := filepath.Join(tmp, "vaec")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	m, err := compiler.CompileFile(filepath.Join("..", "..", "testdata", "specs", "mnist-small.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m.Data.Train.Limit = 600
	m.Data.Validation.Limit = 200
	fresh := func(name string) string {
		dir := filepath.Join(tmp, name)
		os.MkdirAll(dir, 0o755)
		if err := compiler.WriteModel(filepath.Join(dir, modelFile), m); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	run := func(dir string, args ...string) *exec.Cmd {
		cmd := exec.Command(bin, append([]string{"train", dir, "--epochs", epochs, "-q"}, args...)...)
		cmd.Stdout, cmd.Stderr = new(bytes.Buffer), new(bytes.Buffer)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}

	ref := fresh("reference")
	start := time.Now()
	if err := run(ref).Wait(); err != nil {
		t.Fatalf("reference run: %v", err)
	}
	full := time.Since(start)
	want := snapshot(t, ref)
	t.Logf("reference: %s epochs in %v", epochs, full.Round(time.Millisecond))

	rng := rand.New(rand.NewPCG(14, uint64(time.Now().UnixNano())))
	fired, byEpoch := 0, map[int]int{}
	for trial := 0; fired < kills; trial++ {
		dir := fresh(fmt.Sprintf("trial%03d", trial))
		resumes := 0
		for {
			e, err := builddir.Consistent(dir)
			if err != nil {
				t.Fatalf("trial %d: %v", trial, err)
			}
			var args []string
			if e > 0 {
				args = []string{"--resume"}
			}
			cmd := run(dir, args...)
			// Kill the first run always, later ones half of the time.
			if resumes == 0 || rng.IntN(2) == 0 {
				time.Sleep(time.Duration(rng.Int64N(int64(full))))
				cmd.Process.Signal(syscall.SIGKILL)
			}
			err = cmd.Wait()
			ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if ws.Signaled() {
				fired++
				e, cerr := builddir.Consistent(dir)
				if cerr != nil {
					t.Fatalf("trial %d, kill %d: inconsistent directory: %v", trial, fired, cerr)
				}
				byEpoch[e]++
				resumes++
				continue
			}
			if err != nil {
				t.Fatalf("trial %d: train failed: %v\n%s", trial, err, cmd.Stderr)
			}
			break
		}
		if got := snapshot(t, dir); got != want {
			t.Fatalf("trial %d (%d kills): the resumed run differs from the uninterrupted one:\n got %s\nwant %s", trial, resumes, got, want)
		}
	}
	t.Logf("%d kills: directory consistent after every one; killed with epochs committed: %v; every trial ended bit-identical to the uninterrupted run", fired, byEpoch)
}

// snapshot is what must be identical between runs: the bytes of checkpoint
// and best, and metrics without the timing fields.
func snapshot(t *testing.T, dir string) string {
	t.Helper()
	var parts []string
	for _, n := range []string{lastCheckpoint, bestCheckpoint} {
		c, err := checkpoint.Load(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(filepath.Join(dir, n))
		parts = append(parts, fmt.Sprintf("%s epoch %d %x", n, c.State.Epoch, sha(b)))
	}
	b, err := os.ReadFile(filepath.Join(dir, metricsFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatal(err)
		}
		delete(m, "seconds")
		delete(m, "samples_per_sec")
		j, _ := json.Marshal(m)
		parts = append(parts, string(j))
	}
	return strings.Join(parts, "; ")
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:8]
}
