package runtime

import (
	"fmt"
	"sort"
	"strings"
)

// Report says whether the runtime can run an ONNX file: the operators the
// graph uses and, when Load refuses the file, what the runtime lacks for
// it (vaec inspect prints both).
type Report struct {
	Ops         []string // distinct operators, sorted; "domain.Op" outside the default domain
	Unsupported []string // empty when Load accepts the file
}

// Check reads data as Load does and reports, without running anything,
// whether the runtime runs it. Every operator the runtime does not
// implement is listed (Load stops at the first); when all are implemented,
// the reason Load gives, if any, is the one entry (an attribute, a data
// type, an opset, a shape that does not check). The error is for files
// that are not readable ONNX at all.
func Check(data []byte) (Report, error) {
	pb, err := scanModel(data)
	if err != nil {
		return Report{}, fmt.Errorf("onnx: %w", err)
	}
	var r Report
	seen := map[string]bool{}
	missing := map[string][]string{} // operator → nodes
	for i, n := range pb.nodes {
		op := n.opType
		if n.domain != "" {
			op = n.domain + "." + op
		}
		if !seen[op] {
			seen[op] = true
			r.Ops = append(r.Ops, op)
		}
		if _, ok := ops[n.opType]; !ok || n.domain != "" {
			missing[op] = append(missing[op], nodeName(n, i))
		}
	}
	sort.Strings(r.Ops)
	for _, op := range r.Ops {
		if nodes, ok := missing[op]; ok {
			r.Unsupported = append(r.Unsupported, fmt.Sprintf("operator %s (nodes %s)", op, strings.Join(limitList(nodes, 5), ", ")))
		}
	}
	if len(r.Unsupported) > 0 {
		return r, nil
	}
	if _, err := Load(data); err != nil {
		r.Unsupported = []string{err.Error()}
	}
	return r, nil
}

// limitList quotes up to n names and says how many more there are.
func limitList(names []string, n int) []string {
	var out []string
	for i, s := range names {
		if i == n {
			out = append(out, fmt.Sprintf("and %d more", len(names)-n))
			break
		}
		out = append(out, quote(s))
	}
	return out
}
