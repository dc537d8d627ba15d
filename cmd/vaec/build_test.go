package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateScripts = flag.Bool("update-scripts", false, "rewrite stdout/stderr/exit of testdata/script/*.txtar")

// scriptFile is one section of a script archive.
type scriptFile struct {
	name string
	data string
}

// readScriptArchive splits a txtar archive into its comment and sections.
func readScriptArchive(b string) (comment string, files []scriptFile) {
	for _, line := range strings.SplitAfter(b, "\n") {
		t := strings.TrimRight(line, "\r\n")
		if strings.HasPrefix(t, "-- ") && strings.HasSuffix(t, " --") && len(t) >= 6 {
			files = append(files, scriptFile{name: strings.TrimSpace(t[3 : len(t)-3])})
			continue
		}
		if len(files) == 0 {
			comment += line
		} else {
			files[len(files)-1].data += line
		}
	}
	return comment, files
}

func writeScriptArchive(comment string, files []scriptFile) string {
	var b strings.Builder
	b.WriteString(comment)
	for _, f := range files {
		b.WriteString("-- " + f.name + " --\n" + f.data)
		if f.data != "" && !strings.HasSuffix(f.data, "\n") {
			b.WriteString("\n")
		}
	}
	return b.String()
}

// TestScripts runs each testdata/script/*.txtar: section "args" is the
// command line after "vaec" (flags may follow arguments); sections "exit",
// "stdout" and "stderr" are the expected results, compared exactly (with
// -update-scripts to rewrite them); "stdout-has" and "stderr-has" list lines
// that must each occur in the output; any other section is a file written
// into a fresh working directory first, where mnist/ links to the MNIST
// test set.
func TestScripts(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	mnist, err := filepath.Abs(filepath.Join("..", "..", "testdata", "mnist"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range paths {
		path, _ := filepath.Abs(path)
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			comment, files := readScriptArchive(string(b))
			work := t.TempDir()
			if err := os.Symlink(mnist, filepath.Join(work, "mnist")); err != nil {
				t.Fatal(err)
			}
			var args []string
			want := map[string]int{} // section name → index in files
			for i, f := range files {
				switch f.name {
				case "args":
					args = strings.Fields(f.data)
				case "exit", "stdout", "stderr", "stdout-has", "stderr-has":
					want[f.name] = i
				default:
					p := filepath.Join(work, filepath.FromSlash(f.name))
					if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
						t.Fatal(err)
					}
					if err := os.WriteFile(p, []byte(f.data), 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
			t.Chdir(work)
			var stdout, stderr bytes.Buffer
			code := runWith(append([]string{"vaec"}, args...), &stdout, &stderr)
			got := map[string]string{
				"exit":   strconv.Itoa(code) + "\n",
				"stdout": strings.ReplaceAll(stdout.String(), work, "$WORK"),
				"stderr": strings.ReplaceAll(stderr.String(), work, "$WORK"),
			}
			if *updateScripts {
				for _, name := range []string{"exit", "stdout", "stderr"} {
					if i, ok := want[name]; ok {
						files[i].data = got[name]
					} else if name == "exit" || got[name] != "" && want[name+"-has"] == 0 {
						files = append(files, scriptFile{name: name, data: got[name]})
					}
				}
				if err := os.WriteFile(path, []byte(writeScriptArchive(comment, files)), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, name := range []string{"exit", "stdout", "stderr"} {
				if i, ok := want[name]; ok && got[name] != files[i].data {
					t.Errorf("%s differs\ngot:\n%s\nwant:\n%s", name, got[name], files[i].data)
				}
				if i, ok := want[name+"-has"]; ok {
					for _, line := range strings.Split(strings.TrimSpace(files[i].data), "\n") {
						if !strings.Contains(got[name], line) {
							t.Errorf("%s lacks %q; got:\n%s", name, line, got[name])
						}
					}
				}
			}
			if _, ok := want["exit"]; !ok {
				t.Errorf("no exit section (run with -update-scripts)")
			}
		})
	}
}

// TestBuildWritesBuildDir checks the files `vaec build` leaves for the other
// verbs, and loadModel's reading of them.
func TestBuildWritesBuildDir(t *testing.T) {
	spec, err := filepath.Abs(filepath.Join("..", "..", "testdata", "specs", "mnist.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	if _, err := loadModel(""); err == nil || !strings.Contains(err.Error(), "no build in vaec-build/: run `vaec build spec.yaml` first") {
		t.Errorf("loadModel before build = %v", err)
	}
	var stdout, stderr bytes.Buffer
	if code := runWith([]string{"vaec", "build", spec}, &stdout, &stderr); code != exitOK {
		t.Fatalf("build exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "total parameters: 652,824") {
		t.Errorf("build output lacks the parameter count:\n%s", stdout.String())
	}
	m, err := loadModel("")
	if err != nil {
		t.Fatal(err)
	}
	if m.ParamCount() != 652_824 || m.SpecFile != spec {
		t.Errorf("loaded model: %d params, spec %s", m.ParamCount(), m.SpecFile)
	}
	copied, err := os.ReadFile(filepath.Join(defaultDir, specCopy))
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := os.ReadFile(spec)
	if !bytes.Equal(copied, orig) {
		t.Error("the build dir's spec.yaml differs from the spec")
	}

	// --json carries the same numbers.
	stdout.Reset()
	if code := runWith([]string{"vaec", "build", "--json", "--dir", "other", spec}, &stdout, &stderr); code != exitOK {
		t.Fatalf("build --json exit %d: %s", code, stderr.String())
	}
	var sum buildSummary
	if err := json.Unmarshal(stdout.Bytes(), &sum); err != nil {
		t.Fatalf("build --json: %v\n%s", err, stdout.String())
	}
	if sum.TotalParams != 652_824 || sum.MACsPerSample != m.MACs() || len(sum.Layers) != 7 || sum.SpecHash != m.SpecHash {
		t.Errorf("build --json summary = %+v", sum)
	}
	if _, err := loadModel("other"); err != nil {
		t.Errorf("--dir: %v", err)
	}
}

func TestInterspersed(t *testing.T) {
	app := newApp()
	tests := []struct{ in, want string }{
		{"vaec build spec.yaml --json", "vaec build --json -- spec.yaml"},
		{"vaec build spec.yaml --dir out --json", "vaec build --dir out --json -- spec.yaml"},
		{"vaec build --dir=out spec.yaml", "vaec build --dir=out -- spec.yaml"},
		{"vaec build -- --odd.yaml", "vaec build -- --odd.yaml"},
		{"vaec build", "vaec build"},
		{"vaec --help", "vaec --help"},
		{"vaec nosuch a --b", "vaec nosuch a --b"},
	}
	for _, tt := range tests {
		if got := strings.Join(interspersed(app, strings.Fields(tt.in)), " "); got != tt.want {
			t.Errorf("interspersed(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 652824: "652,824", -1234567: "-1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}
