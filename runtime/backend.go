package runtime

import (
	"fmt"
	"sort"

	onnx "github.com/owulveryck/onnx-go"
	"gonum.org/v1/gonum/graph"
	"gonum.org/v1/gonum/graph/iterator"
	"gorgonia.org/tensor"
)

// collector is the backend handed to onnx-go's decoder. It does not compute
// anything: it records what the decoder reports (named values, their
// tensors, and for each ONNX node its operation and ordered inputs) so that
// Load can build an execution plan of its own. onnx-go describes node inputs
// as weighted edges from the node's output to each input, the weight being
// the input's position; gonum's simple graphs keep one edge per node pair,
// which would lose Mul(x, x), so edges are kept as a list here.
type collector struct {
	nodes []*cnode // index = ID
	ops   []cop    // in the order onnx-go applied them (= file order)
}

// cnode is one named value of the ONNX graph.
type cnode struct {
	id    int64
	name  string
	t     tensor.Tensor
	edges []cedge // inputs, when this value is a node output
}

type cedge struct {
	to     *cnode
	weight float64
}

// cop is one applied ONNX operation.
type cop struct {
	op      onnx.Operation
	outputs []*cnode
}

var (
	_ onnx.Backend     = (*collector)(nil)
	_ onnx.Namer       = (*cnode)(nil)
	_ onnx.DataCarrier = (*cnode)(nil)
)

func (n *cnode) ID() int64                       { return n.id }
func (n *cnode) SetName(s string)                { n.name = s }
func (n *cnode) GetName() string                 { return n.name }
func (n *cnode) SetTensor(t tensor.Tensor) error { n.t = t; return nil }
func (n *cnode) GetTensor() tensor.Tensor        { return n.t }

func (c *collector) NewNode() graph.Node { return &cnode{id: int64(len(c.nodes))} }

func (c *collector) AddNode(n graph.Node) {
	cn, ok := n.(*cnode)
	if !ok || cn.id != int64(len(c.nodes)) {
		// Only nodes made by NewNode are ever added by onnx-go; anything
		// else is a programming error in this package.
		panic(fmt.Sprintf("runtime: foreign node %v added to the collector", n))
	}
	c.nodes = append(c.nodes, cn)
}

type cedgeView struct {
	from, to *cnode
	w        float64
}

func (e cedgeView) From() graph.Node         { return e.from }
func (e cedgeView) To() graph.Node           { return e.to }
func (e cedgeView) ReversedEdge() graph.Edge { return cedgeView{e.to, e.from, e.w} }
func (e cedgeView) Weight() float64          { return e.w }

func (c *collector) NewWeightedEdge(from, to graph.Node, w float64) graph.WeightedEdge {
	return cedgeView{from.(*cnode), to.(*cnode), w}
}

func (c *collector) SetWeightedEdge(e graph.WeightedEdge) {
	v := e.(cedgeView)
	v.from.edges = append(v.from.edges, cedge{v.to, v.w})
}

func (c *collector) ApplyOperation(op onnx.Operation, outs ...graph.Node) error {
	o := cop{op: op}
	for _, n := range outs {
		cn, ok := n.(*cnode)
		if !ok {
			return fmt.Errorf("operation %s: output %v is not a collector node", op.Name, n)
		}
		o.outputs = append(o.outputs, cn)
	}
	c.ops = append(c.ops, o)
	return nil
}

// inputsOf returns the inputs of the value n in position order.
func inputsOf(n *cnode) []*cnode {
	e := append([]cedge(nil), n.edges...)
	sort.SliceStable(e, func(i, j int) bool { return e[i].weight < e[j].weight })
	out := make([]*cnode, len(e))
	for i := range e {
		out[i] = e[i].to
	}
	return out
}

// The read side of gonum's graph.Directed, which onnx.Backend requires.
// onnx-go's decoder does not call it; it is implemented for completeness.

func (c *collector) Node(id int64) graph.Node {
	if id < 0 || id >= int64(len(c.nodes)) {
		return nil
	}
	return c.nodes[id]
}

func (c *collector) Nodes() graph.Nodes {
	ns := make([]graph.Node, len(c.nodes))
	for i, n := range c.nodes {
		ns[i] = n
	}
	return iterator.NewOrderedNodes(ns)
}

func (c *collector) From(id int64) graph.Nodes {
	n, ok := c.Node(id).(*cnode)
	if !ok {
		return graph.Empty
	}
	var ns []graph.Node
	for _, e := range n.edges {
		ns = append(ns, e.to)
	}
	return iterator.NewOrderedNodes(ns)
}

func (c *collector) To(id int64) graph.Nodes {
	var ns []graph.Node
	for _, n := range c.nodes {
		for _, e := range n.edges {
			if e.to.id == id {
				ns = append(ns, n)
				break
			}
		}
	}
	return iterator.NewOrderedNodes(ns)
}

func (c *collector) HasEdgeFromTo(u, v int64) bool { return c.Edge(u, v) != nil }

func (c *collector) HasEdgeBetween(x, y int64) bool {
	return c.HasEdgeFromTo(x, y) || c.HasEdgeFromTo(y, x)
}

func (c *collector) Edge(u, v int64) graph.Edge {
	n, ok := c.Node(u).(*cnode)
	if !ok {
		return nil
	}
	for _, e := range n.edges {
		if e.to.id == v {
			return cedgeView{n, e.to, e.weight}
		}
	}
	return nil
}
