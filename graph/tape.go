package graph

import (
	"fmt"
	"github.com/vaec/vaec/kernels"
	"sort"
	"strings"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// tape executes a Gorgonia graph: the op nodes that the requested outputs
// depend on, in the graph's topological order, each computing into one
// value allocated when the tape is built and bound to its node (so
// Node.Value reads results as after a Gorgonia VM run). A step of training
// therefore allocates nothing of its own, where Gorgonia's TapeMachine
// allocates every intermediate again after each Reset (about 19 MB per
// step for the MNIST model) and runs the nodes of the whole graph, needed
// or not (the gradient of the first layer's input, for one).
//
// Ops that implement UsePreallocDo (all of this package's) write into their
// value; others (Gorgonia's Add, which G.Grad inserts to sum the gradients
// of a node with several consumers, or the primitive activations kept for
// layers the fused op does not cover) run through Do and their result is
// copied into the node's value.
type tape struct {
	nodes  []*G.Node  // every node the outputs need, inputs included, in execution order
	vals   []G.Value  // one per node
	leaves []int      // indexes of input and constant nodes, re-read on every run
	steps  []tapeStep // op nodes, in order

	// segmented: a training step runs the tape in segments (runSeg),
	// with other work between them (bands.go).
	segmented bool

	// profile, when set, accumulates each step's wall time in spent.
	profile bool
	spent   []time.Duration
	runs    int // runs profiled
}

type tapeStep struct {
	at   int  // index of the node in nodes/vals
	skip bool // computed elsewhere (a weight gradient the update computes, wgrad.go; a banded layer, bands.go)
	seg  int  // the segment the step runs in when the tape is run in segments (bands.go)
	op   G.Op
	pre  G.UsePreallocDoer // nil when the op only has Do
	in   []int
	args []G.Value // scratch for the op's arguments, filled on every run
}

// newTape prepares the execution of the nodes of g that outputs depend on.
func newTape(g *G.ExprGraph, outputs ...*G.Node) (*tape, error) {
	sorted, err := G.Sort(g)
	if err != nil {
		return nil, errorf("ordering the graph: %v", err)
	}
	// Mark what the outputs need, walking children from the outputs.
	need := map[*G.Node]bool{}
	stack := append([]*G.Node(nil), outputs...)
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n == nil || need[n] {
			continue
		}
		need[n] = true
		stack = append(stack, children(g, n)...)
	}
	t := &tape{}
	index := map[*G.Node]int{}
	// G.Sort puts the roots (outputs) first: execute in reverse.
	for i := len(sorted) - 1; i >= 0; i-- {
		n := sorted[i]
		if !need[n] {
			continue
		}
		at := len(t.nodes)
		index[n] = at
		t.nodes = append(t.nodes, n)
		op := n.Op()
		if op == nil || op.Arity() == 0 {
			// An input, or a constant: its value is the node's own.
			if n.Value() == nil {
				if op == nil {
					return nil, errorf("input %s has no value", n.Name())
				}
				v, err := op.Do()
				if err != nil {
					return nil, errorf("constant %s: %v", n.Name(), err)
				}
				if err := G.UnsafeLet(n, v); err != nil {
					return nil, errorf("constant %s: %v", n.Name(), err)
				}
			}
			t.vals = append(t.vals, n.Value())
			t.leaves = append(t.leaves, at)
			continue
		}
		v, err := allocFor(n)
		if err != nil {
			return nil, err
		}
		if err := G.UnsafeLet(n, v); err != nil {
			return nil, errorf("node %s: binding its buffer: %v", n.Name(), err)
		}
		t.vals = append(t.vals, v)
		st := tapeStep{at: at, op: op}
		st.pre, _ = op.(G.UsePreallocDoer)
		for _, c := range children(g, n) {
			j, ok := index[c]
			if !ok {
				return nil, errorf("node %s (%v) runs before its input %s", n.Name(), op, c.Name())
			}
			st.in = append(st.in, j)
		}
		st.args = make([]G.Value, len(st.in))
		if fastAdds && sameShapeAdd(op, n, t.nodes, st.in) {
			st.pre = fastAdd{}
		}
		t.steps = append(t.steps, st)
	}
	for _, o := range outputs {
		if _, ok := index[o]; !ok {
			return nil, errorf("output %s is not in the graph", o.Name())
		}
	}
	for _, st := range t.steps {
		// The loss's output gradient goes straight into its node's value.
		if g, ok := st.op.(*elboGradOp); ok && g.which == elboOut {
			if d, ok := t.vals[st.at].(*tensor.Dense); ok && !d.IsMaterializable() {
				g.parent.dOutInto = d.Float32s()
			}
		}
	}
	t.spent = make([]time.Duration, len(t.steps))
	return t, nil
}

// children returns the inputs of n in argument order.
func children(g *G.ExprGraph, n *G.Node) []*G.Node {
	it := g.From(n.ID())
	if it == nil {
		return nil
	}
	out := make([]*G.Node, 0, it.Len())
	for it.Next() {
		out = append(out, it.Node().(*G.Node))
	}
	return out
}

// allocFor returns a zero value of n's type and shape.
func allocFor(n *G.Node) (G.Value, error) {
	if n.Dtype() != tensor.Float32 {
		return nil, errorf("node %s: dtype %v, only float32 is supported", n.Name(), n.Dtype())
	}
	if n.IsScalar() {
		return G.NewF32(0), nil
	}
	return tensor.New(tensor.WithShape(n.Shape()...), tensor.Of(tensor.Float32)), nil
}

// run executes every step once.
func (t *tape) run() error { return t.runSeg(-1) }

// runSeg executes the steps of segment seg (each step's seg), in order;
// seg −1 runs them all. Segment 0 (or all) first re-reads the inputs.
func (t *tape) runSeg(seg int) error {
	if seg <= 0 {
		for _, i := range t.leaves {
			t.vals[i] = t.nodes[i].Value()
		}
	}
	for k := range t.steps {
		st := &t.steps[k]
		if st.skip || seg >= 0 && st.seg != seg {
			continue
		}
		for a, j := range st.in {
			st.args[a] = t.vals[j]
		}
		var start time.Time
		if t.profile {
			start = time.Now()
		}
		out := t.vals[st.at]
		var v G.Value
		var err error
		if st.pre != nil {
			v, err = st.pre.UsePreallocDo(out, st.args...)
		} else {
			v, err = st.op.Do(st.args...)
		}
		if err == nil && v != out {
			err = copyValue(out, v)
		}
		if err != nil {
			return errorf("node %s (%v): %v", t.nodes[st.at].Name(), st.op, err)
		}
		if t.profile {
			t.spent[k] += time.Since(start)
		}
	}
	if t.profile && (seg < 0 || seg == numSegs-1) {
		t.runs++
	}
	return nil
}

// copyValue copies src into dst, both float32 and of the same size.
func copyValue(dst, src G.Value) error {
	switch d := dst.(type) {
	case *G.F32:
		s, err := scalarValue("result", src)
		if err != nil {
			return err
		}
		*d = G.F32(s)
		return nil
	case *tensor.Dense:
		st, ok := src.(*tensor.Dense)
		if !ok {
			return fmt.Errorf("result is %T, want a tensor", src)
		}
		if st.IsMaterializable() {
			// A view (a transpose, a slice): copy in logical order.
			m := st.Materialize()
			st, _ = m.(*tensor.Dense)
		}
		if st == nil || st.Dtype() != tensor.Float32 || d.Dtype() != tensor.Float32 || st.Shape().TotalSize() != d.Shape().TotalSize() {
			return fmt.Errorf("result %v, want %v float32", src.Shape(), d.Shape())
		}
		copy(d.Float32s(), st.Float32s())
		return nil
	}
	return fmt.Errorf("unexpected value type %T", dst)
}

type stringer string

func (s stringer) String() string { return string(s) }

// report formats the profile: time per op kind, largest first.
func (t *tape) report() string {
	if t.runs == 0 {
		return "no runs\n"
	}
	byKind := map[string]time.Duration{}
	count := map[string]int{}
	var total time.Duration
	for k, st := range t.steps {
		kind := st.op.String()
		if i := strings.IndexAny(kind, "[("); i > 0 {
			kind = kind[:i]
		}
		byKind[kind] += t.spent[k]
		count[kind]++
		total += t.spent[k]
	}
	kinds := make([]string, 0, len(byKind))
	for k := range byKind {
		kinds = append(kinds, k)
	}
	sort.Slice(kinds, func(i, j int) bool { return byKind[kinds[i]] > byKind[kinds[j]] })
	var b strings.Builder
	fmt.Fprintf(&b, "%-24s %5s %10s %6s\n", "op", "nodes", "µs/run", "share")
	for _, k := range kinds {
		fmt.Fprintf(&b, "%-24s %5d %10.1f %5.1f%%\n", k, count[k],
			float64(byKind[k].Microseconds())/float64(t.runs), 100*float64(byKind[k])/float64(total))
	}
	fmt.Fprintf(&b, "%-24s %5d %10.1f\n", "total", len(t.steps), float64(total.Microseconds())/float64(t.runs))
	return b.String()
}

// sameShapeAdd reports whether op is Gorgonia's addition of two float32
// tensors of n's shape: what G.Grad inserts to sum the gradients of a
// node with several consumers.
func sameShapeAdd(op G.Op, n *G.Node, nodes []*G.Node, in []int) bool {
	if len(in) != 2 || op.Arity() != 2 || !strings.HasPrefix(op.String(), "+") || n.IsScalar() || n.Dtype() != tensor.Float32 {
		return false
	}
	for _, j := range in {
		c := nodes[j]
		if c.IsScalar() || c.Dtype() != tensor.Float32 || !c.Shape().Eq(n.Shape()) {
			return false
		}
	}
	return true
}

// fastAdds enables fastAdd; a test compares with it off.
var fastAdds = true

// fastAdd runs such an addition as out = a + b with the kernels' vector
// loop, where Gorgonia's generic path took a nanosecond per element (3%
// of a training step): one rounded addition per element either way, the
// same bits.
type fastAdd struct{}

func (fastAdd) UsePreallocDo(out G.Value, in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("+: %d inputs, want 2", len(in))
	}
	o, ok := out.(*tensor.Dense)
	a, ok1 := in[0].(*tensor.Dense)
	b, ok2 := in[1].(*tensor.Dense)
	if !ok || !ok1 || !ok2 {
		return nil, fmt.Errorf("+: values %T, %T into %T, want tensors", in[0], in[1], out)
	}
	// Views (a transpose) hold their values out of logical order.
	for _, v := range []**tensor.Dense{&a, &b} {
		if (*v).IsMaterializable() {
			m, ok := (*v).Materialize().(*tensor.Dense)
			if !ok {
				return nil, fmt.Errorf("+: cannot materialise a view")
			}
			*v = m
		}
	}
	od, ad, bd := o.Float32s(), a.Float32s(), b.Float32s()
	if len(ad) != len(od) || len(bd) != len(od) {
		return nil, fmt.Errorf("+: %d and %d values into %d", len(ad), len(bd), len(od))
	}
	copy(od, ad)
	kernels.AddTo(od, bd)
	return out, nil
}
