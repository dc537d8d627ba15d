package compiler

import (
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// This file turns YAML nodes into Go values, recording a positioned error
// for everything that does not fit instead of stopping at the first one.

// decoder collects errors while the checker reads the YAML tree.
type decoder struct {
	file string
	errs ErrorList
	// over stands for the problems past maxRecorded: a spec of a million
	// unknown keys must not hold (or print) a million messages.
	over *Error
}

// maxRecorded is how many problems a spec records in full.
const maxRecorded = 1000

func (d *decoder) pos(n *yaml.Node) Pos {
	if n == nil {
		return Pos{File: d.file, Line: 1, Col: 1}
	}
	return Pos{File: d.file, Line: n.Line, Col: n.Column}
}

// warnf records a warning at node n: a problem that does not stop the build.
func (c *checker) warnf(n *yaml.Node, path, hint, format string, args ...any) {
	c.warnings = append(c.warnings, &Error{Pos: c.pos(n), Path: path, Msg: oneLine(fmt.Sprintf(format, args...)), Hint: hint})
}

// errorf records a problem at node n (the document start when n is nil).
func (d *decoder) errorf(n *yaml.Node, path, hint, format string, args ...any) {
	if len(d.errs) >= maxRecorded {
		// The list still grows (by one shared pointer, which normalize
		// folds), so that checks comparing its length see the problem.
		if d.over == nil {
			d.over = &Error{Pos: d.pos(n), Msg: "more problems"}
		}
		d.over.Suppressed++
		d.errs = append(d.errs, d.over)
		return
	}
	d.errs = append(d.errs, &Error{Pos: d.pos(n), Path: path, Msg: oneLine(fmt.Sprintf(format, args...)), Hint: hint})
}

// oneLine keeps a message on one line whatever text it quotes from
// outside (file system and parser errors), since errors print one per line.
func oneLine(s string) string { return strings.ReplaceAll(s, "\n", `\n`) }

// yamlLine finds the line number in yaml.v3's error text, which carries no
// column; errors without one are reported at 1:1.
var yamlLine = regexp.MustCompile(`line (\d+)`)

// parseYAML reads the single YAML document of src. It returns the document's
// content node, or nil after recording why there is none.
func (d *decoder) parseYAML(src []byte) (root *yaml.Node) {
	// yaml.v3 is a third-party parser: a panic inside it must become an
	// error about the input, never a crash of the compiler.
	defer func() {
		if r := recover(); r != nil {
			d.errorf(nil, "", "", "YAML parser failed: %v", r)
			root = nil
		}
	}()
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.errorf(nil, "", `start with "vaec: 1"`, "the spec is empty")
			return nil
		}
		d.yamlError(err)
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		d.errorf(&extra, "", "", "the spec holds more than one YAML document")
	} else if !errors.Is(err, io.EOF) {
		d.yamlError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		d.errorf(nil, "", `start with "vaec: 1"`, "the spec is empty")
		return nil
	}
	return doc.Content[0]
}

// yamlParserProblems are the messages of yaml.v3's parser, as opposed to
// its scanner; the two count lines differently.
var yamlParserProblems = []string{
	"did not find expected <document start>",
	"did not find expected node content",
	"did not find expected key",
	"did not find expected '-' indicator",
	"did not find expected ',' or ']'",
	"did not find expected ',' or '}'",
}

// yamlError records a syntax error from yaml.v3 at the line it names.
func (d *decoder) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		if n, convErr := strconv.Atoi(m[1]); convErr == nil && n > 0 {
			line = n
		}
		// yaml.v3 reports parser (not scanner) errors at a 0-based line:
		// one less than the line where the unfinished construct starts.
		if slices.Contains(yamlParserProblems, strings.TrimPrefix(msg, m[0]+": ")) {
			line++
		}
		// The position is printed in front already; drop "line N: ".
		msg = strings.Replace(msg, m[0]+": ", "", 1)
	}
	d.errs = append(d.errs, &Error{Pos: Pos{File: d.file, Line: line, Col: 1}, Msg: "YAML syntax: " + oneLine(msg)})
}

// maxAliasDepth bounds alias chains; yaml.v3 already rejects cycles, this
// only keeps a pathological input from costing time.
const maxAliasDepth = 32

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasDepth; i++ {
		n = n.Alias
	}
	return n
}

// describe names the kind of a node for messages ("a list", "a string"...).
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!bool":
			return "a boolean"
		case "!!int":
			return "an integer"
		case "!!float":
			return "a number"
		case "!!str":
			return fmt.Sprintf("the string %q", clip(n.Value))
		}
		return fmt.Sprintf("a value tagged %q", clip(n.ShortTag()))
	}
	return "an unresolvable alias"
}

// hugeIntegral reports a float scalar with an integral value too large
// for int64 (1e30, .inf).
func hugeIntegral(n *yaml.Node) bool {
	var f float64
	return n.ShortTag() == "!!float" && n.Decode(&f) == nil && f == math.Trunc(f) && math.Abs(f) >= 1<<62
}

// clip shortens long user text before it goes into a message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func indexPath(path string, i int) string { return fmt.Sprintf("%s[%d]", path, i) }

// mapping is a checked YAML mapping: known keys only, no duplicates.
type mapping struct {
	node *yaml.Node
	path string
	keys map[string]*yaml.Node // key nodes, for positions
	vals map[string]*yaml.Node // value nodes, aliases resolved
}

// get returns the value of key, or nil when absent.
func (m *mapping) get(key string) *yaml.Node {
	if m == nil {
		return nil
	}
	return m.vals[key]
}

// has reports whether key is present.
func (m *mapping) has(key string) bool { return m.get(key) != nil }

// keyNode returns the key node of key, or the mapping when absent, for
// errors that concern a key rather than its value.
func (m *mapping) keyNode(key string) *yaml.Node {
	if k := m.keys[key]; k != nil {
		return k
	}
	return m.node
}

// mapping checks that n is a mapping with keys from sec only, each once.
// Unknown keys are reported with a did-you-mean against sec's keys, or with
// the section they belong to when they are valid elsewhere.
func (d *decoder) mapping(n *yaml.Node, path string, sec *section) (*mapping, bool) {
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "", "expected a mapping (%s), found %s", sec.title, describe(n))
		return nil, false
	}
	m := &mapping{node: n, path: path, keys: map[string]*yaml.Node{}, vals: map[string]*yaml.Node{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := resolve(n.Content[i]), resolve(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "", "expected a key, found %s", describe(k))
			continue
		}
		name := k.Value
		if prev, dup := m.keys[name]; dup {
			d.errorf(k, joinPath(path, name), "", "duplicate key %q (first at line %d)", clip(name), prev.Line)
			continue
		}
		if sec.field(name) == nil {
			d.errorf(k, joinPath(path, name), sec.unknownHint(name), "unknown key %q", clip(name))
			continue
		}
		m.keys[name], m.vals[name] = k, v
	}
	return m, true
}

// require reports each key of names that m lacks.
func (d *decoder) require(m *mapping, names ...string) {
	for _, name := range names {
		if !m.has(name) {
			d.errorf(m.node, joinPath(m.path, name), "", "missing required key %q", name)
		}
	}
}

// sequence checks that n is a list and returns its items, aliases resolved.
func (d *decoder) sequence(n *yaml.Node, path string) ([]*yaml.Node, bool) {
	n = resolve(n)
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, path, "", "expected a list, found %s", describe(n))
		return nil, false
	}
	items := make([]*yaml.Node, len(n.Content))
	for i, it := range n.Content {
		items[i] = resolve(it)
	}
	return items, true
}

// str reads a non-empty string.
func (d *decoder) str(n *yaml.Node, path string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, path, "", "expected a string, found %s", describe(n))
		return "", false
	}
	if n.Value == "" {
		d.errorf(n, path, "", "must not be empty")
		return "", false
	}
	return n.Value, true
}

// boolean reads true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	n = resolve(n)
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.errorf(n, path, "", "expected true or false, found %s", describe(n))
		return false, false
	}
	return b, true
}

// integer reads an integer in [lo, hi]. A float with an integral value
// (1e3) is accepted: YAML users write large counts that way.
func (d *decoder) integer(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	n = resolve(n)
	var v int64
	ok := false
	if n.Kind == yaml.ScalarNode {
		switch n.ShortTag() {
		case "!!int":
			ok = n.Decode(&v) == nil
		case "!!float":
			var f float64
			if n.Decode(&f) == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
				v, ok = int64(f), true
			}
		}
	}
	if !ok && n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || hugeIntegral(n)) {
		// An integer beyond int64 (9223372036854775808) or a huge float is
		// a number all the same: say it is out of range, not that it is not
		// an integer.
		d.errorf(n, path, "", "%s is out of range [%d, %d]", clip(n.Value), lo, hi)
		return 0, false
	}
	if !ok {
		d.errorf(n, path, "", "expected an integer, found %s", describe(n))
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, path, "", "%d is out of range [%d, %d]", v, lo, hi)
		return 0, false
	}
	return v, true
}

// interval is a range of accepted numbers; open ends exclude the bound.
type interval struct {
	lo, hi         float64
	loOpen, hiOpen bool
}

func (r interval) contains(v float64) bool {
	if r.loOpen && !(v > r.lo) || !r.loOpen && !(v >= r.lo) {
		return false
	}
	if r.hiOpen && !(v < r.hi) || !r.hiOpen && !(v <= r.hi) {
		return false
	}
	return true
}

func (r interval) String() string {
	l, h := "[", "]"
	if r.loOpen {
		l = "("
	}
	if r.hiOpen {
		h = ")"
	}
	return fmt.Sprintf("%s%s, %s%s", l, fmtNum(r.lo), fmtNum(r.hi), h)
}

func fmtNum(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "∞"
	case math.IsInf(v, -1):
		return "-∞"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Intervals used by several keys.
var (
	positive    = interval{0, math.Inf(1), true, true}
	nonNegative = interval{0, math.Inf(1), false, true}
	unitOpen    = interval{0, 1, false, true} // [0, 1)
)

// number reads a finite number in r.
func (d *decoder) number(n *yaml.Node, path string, r interval) (float64, bool) {
	n = resolve(n)
	var v float64
	ok := n.Kind == yaml.ScalarNode && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float") && n.Decode(&v) == nil
	if !ok {
		d.errorf(n, path, "", "expected a number, found %s", describe(n))
		return 0, false
	}
	return d.checkNumber(n, path, v, r)
}

func (d *decoder) checkNumber(n *yaml.Node, path string, v float64, r interval) (float64, bool) {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, path, "", "must be a finite number, found %s", fmtNum(v))
		return 0, false
	}
	if !r.contains(v) {
		d.errorf(n, path, "", "%s is out of range %s", fmtNum(v), r)
		return 0, false
	}
	return v, true
}

// enum reads a string that must be one of values.
func (d *decoder) enum(n *yaml.Node, path, what string, values []string) (string, bool) {
	n = resolve(n)
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!str" {
		d.errorf(n, path, "", "expected %s (one of %s), found %s", what, strings.Join(values, ", "), describe(n))
		return "", false
	}
	for _, v := range values {
		if n.Value == v {
			return v, true
		}
	}
	hint := didYouMean(n.Value, values)
	if hint == "" {
		hint = "one of " + strings.Join(values, ", ")
	}
	d.errorf(n, path, hint, "unknown %s %q", what, clip(n.Value))
	return "", false
}
