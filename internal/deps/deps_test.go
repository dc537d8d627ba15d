// Package deps holds the test that enforces vaec's package layering, as
// Go's own go/build/deps_test.go does for the standard library: a rule
// kept in a test is cheaper than one kept in a reviewer's head.
package deps

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/vaec/vaec"

type pkg struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Imports    []string
	Deps       []string
	Standard   bool
}

// listPackages runs `go list` over the module (non-test files only).
func listPackages(t *testing.T) map[string]*pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	pkgs := map[string]*pkg{}
	for dec.More() {
		p := new(pkg)
		if err := dec.Decode(p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	return pkgs
}

func short(path string) string { return strings.TrimPrefix(strings.TrimPrefix(path, module), "/") }

func isStd(path string) bool { return !strings.Contains(strings.Split(path, "/")[0], ".") }

// rules lists, per package, a predicate on its transitive dependencies
// that must hold; each returns a reason when a dependency breaks it.
var rules = []struct {
	pkg   string
	check func(dep string) string
}{
	{"ir", func(d string) string {
		if !isStd(d) {
			return "ir is the leaf everyone shares: standard library only"
		}
		return ""
	}},
	// The trainer commits through graph.Store: the build directory is
	// the command's business (package builddir).
	{"graph", forbid("export", "runtime", "builddir")},
	{"export", forbid("graph", "runtime")},
	{"runtime", forbid("compiler", "graph", "export", "ir", "dataset")},
	{"dataset", func(d string) string {
		if strings.HasPrefix(d, module) && d != module+"/ir" && d != module+"/internal/sysmem" {
			return "dataset reads files for everyone: of vaec's packages it may use only ir (and internal/sysmem for its memory check)"
		}
		return ""
	}},
	{"compiler", forbid("graph", "export", "runtime")},
	// builddir owns the build directory's files: it knows files and
	// checkpoints, not models.
	{"builddir", func(d string) string {
		if strings.HasPrefix(d, module) && d != module+"/checkpoint" && !strings.HasPrefix(d, module+"/internal/") {
			return "builddir stores files and checkpoints: of vaec's packages it may use only checkpoint and internal ones"
		}
		return ""
	}},
}

// forbid returns a check refusing the named vaec packages.
func forbid(names ...string) func(string) string {
	return func(d string) string {
		for _, n := range names {
			if d == module+"/"+n {
				return "sibling phases never import each other (runtime verifies the exporter independently)"
			}
		}
		return ""
	}
}

func TestImports(t *testing.T) {
	pkgs := listPackages(t)
	for _, r := range rules {
		p, ok := pkgs[module+"/"+r.pkg]
		if !ok {
			t.Errorf("package %s not found", r.pkg)
			continue
		}
		for _, err := range checkDeps(r.pkg, p.Deps, r.check) {
			t.Error(err)
		}
	}
}

func checkDeps(name string, deps []string, check func(string) string) []error {
	var errs []error
	for _, d := range deps {
		if why := check(d); why != "" {
			errs = append(errs, fmt.Errorf("%s depends on %s: %s", name, d, why))
		}
	}
	return errs
}

// TestRulesFire checks the rules themselves: each refuses the import it is
// about, so a rule that silently stopped matching would show here.
func TestRulesFire(t *testing.T) {
	cases := []struct{ pkg, dep string }{
		{"ir", "gopkg.in/yaml.v3"},
		{"graph", module + "/export"},
		{"export", module + "/graph"},
		{"runtime", module + "/compiler"},
		{"dataset", module + "/compiler"},
		{"graph", module + "/builddir"},
		{"builddir", module + "/graph"},
	}
	for _, c := range cases {
		for _, r := range rules {
			if r.pkg == c.pkg && len(checkDeps(c.pkg, []string{c.dep}, r.check)) == 0 {
				t.Errorf("the rule for %s lets it import %s", c.pkg, c.dep)
			}
		}
	}
}

// foreignTypes are the packages whose types must not appear in the exported
// API of vaec's public packages other than the lowerings that own them.
var foreignTypes = []string{"gorgonia.org/", "google.golang.org/protobuf", module + "/internal/onnxpb", module + "/internal/tritonpb"}

// TestNoForeignTypesInAPI parses every public package (not graph or export,
// which own Gorgonia and ONNX protobuf, nor anything under internal/ or
// the commands) and walks the types of its exported declarations.
func TestNoForeignTypesInAPI(t *testing.T) {
	for path, p := range listPackages(t) {
		name := short(path)
		if name == "graph" || name == "export" || strings.HasPrefix(name, "internal/") || strings.Contains(name, "/internal/") || strings.HasPrefix(name, "cmd/") || name == "bench" {
			continue
		}
		for _, f := range p.GoFiles {
			for _, err := range foreignInAPI(filepath.Join(p.Dir, f)) {
				t.Errorf("%s: %v", name, err)
			}
		}
	}
}

func foreignInAPI(file string) []error {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, nil, parser.SkipObjectResolution)
	if err != nil {
		return []error{err}
	}
	names := map[string]string{} // local name → import path of forbidden imports
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		bad := false
		for _, ft := range foreignTypes {
			bad = bad || strings.HasPrefix(p, ft)
		}
		if !bad {
			continue
		}
		local := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			local = imp.Name.Name
		}
		names[local] = p
	}
	if len(names) == 0 {
		return nil
	}
	var errs []error
	report := func(what string, n ast.Node) {
		ast.Inspect(n, func(n ast.Node) bool {
			if sel, ok := n.(*ast.SelectorExpr); ok {
				if id, ok := sel.X.(*ast.Ident); ok && names[id.Name] != "" {
					errs = append(errs, fmt.Errorf("%s: exported %s uses %s.%s", fset.Position(sel.Pos()), what, names[id.Name], sel.Sel.Name))
				}
			}
			return true
		})
	}
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.FuncDecl:
			if !d.Name.IsExported() || (d.Recv != nil && !exportedRecv(d.Recv)) {
				continue
			}
			report("func "+d.Name.Name, d.Type)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				switch s := s.(type) {
				case *ast.TypeSpec:
					if s.Name.IsExported() {

						report("type "+s.Name.Name, exportedFieldsOnly(s.Type))
					}
				case *ast.ValueSpec:
					for _, n := range s.Names {
						if n.IsExported() && s.Type != nil {
							report("var "+n.Name, s.Type)
						}
					}
				}
			}
		}
	}
	return errs
}

func exportedRecv(r *ast.FieldList) bool {
	if len(r.List) == 0 {
		return false
	}
	t := r.List[0].Type
	if s, ok := t.(*ast.StarExpr); ok {
		t = s.X
	}
	if ix, ok := t.(*ast.IndexExpr); ok {
		t = ix.X
	}
	id, ok := t.(*ast.Ident)
	return ok && id.IsExported()
}

// exportedFieldsOnly returns t with a struct's unexported fields dropped:
// they are not API.
func exportedFieldsOnly(t ast.Expr) ast.Expr {
	st, ok := t.(*ast.StructType)
	if !ok || st.Fields == nil {
		return t
	}
	out := &ast.StructType{Fields: &ast.FieldList{}}
	for _, f := range st.Fields.List {
		keep := len(f.Names) == 0 // embedded: its methods are promoted
		for _, n := range f.Names {
			keep = keep || n.IsExported()
		}
		if keep {
			out.Fields.List = append(out.Fields.List, f)
		}
	}
	return out
}
