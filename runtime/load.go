package runtime

import (
	"container/heap"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"

	onnx "github.com/owulveryck/onnx-go"

	"github.com/vaec/vaec/internal/capped"
	"github.com/vaec/vaec/kernels"
)

// IOInfo names a graph input or output, its declared shape and its element
// type. Symbolic dimensions (the batch "N") have Param set.
type IOInfo struct {
	Name  string
	Shape []Dim
	Type  DType // Float32 unless the file declares INT64 or BOOL
}

func (io IOInfo) String() string {
	ds := make([]string, len(io.Shape))
	for i, d := range io.Shape {
		ds[i] = d.String()
	}
	if io.Type != Float32 {
		return fmt.Sprintf("%s[%s] %v", io.Name, strings.Join(ds, ","), io.Type)
	}
	return fmt.Sprintf("%s[%s]", io.Name, strings.Join(ds, ","))
}

// Model is a loaded ONNX graph, ready to run. It is safe for concurrent use.
type Model struct {
	inputs, outputs []IOInfo
	irVersion       int64
	opset           int64
	producer        string
	docString       string
	metadata        map[string]string

	nslots      int
	slotNames   []string
	consts      map[int]*value
	inputSlots  []int
	inputShaped []bool // the input declares a shape (Load's shape check uses it)
	outputSlots []int
	steps       []step
	constSlots  []int
	constVals   []*value

	arenaSlot []bool    // intermediate slots whose buffers are reused (prepareDense)
	free      [][]int   // by step: slots no later step reads (planMemory)
	peakElems int       // values alive at once at batch size 1 (planMemory)
	states    sync.Pool // of *execState
}

// step is one node of the execution plan.
type step struct {
	name, op string // node name (or its first output when unnamed) and operator
	in       []int  // value slots, -1 for an absent optional input
	out      int
	run      kernel
	shapeIn  uint       // opSpec.shapeIn
	boolIn   uint       // opSpec.boolIn
	outType  outRule    // opSpec.outType
	view     bool       // opSpec.view
	attrs    attrs      // as decoded, for fuse
	gemm     *gemmAct   // Gemm steps: the activation fused into them
	dense    *denseStep // the dense-layer form, when the Gemm qualifies
	conv     *gemmAct   // Conv steps: the activation fused into them
	chain    *convChain // a run of Conv steps as one (fuseConvs)
}

// gemmAct is the activation a Gemm step applies (fuse).
type gemmAct struct {
	act   kernels.Act
	alpha float32
}

// unknownOut is the value Load's shape check records for a step whose
// output shape it cannot compute: the shape unknown, the element type by
// the operator's rule (opSpec.outType).
func (s step) unknownOut(in []*value) *value {
	from := func(j int) *value {
		if j < len(in) && in[j] != nil {
			return in[j]
		}
		return &value{}
	}
	switch s.outType {
	case outInt64:
		return &value{unknown: true, isInt: true}
	case outBool:
		return &value{unknown: true, isBool: true}
	case outSecond:
		return &value{unknown: true, isInt: from(1).isInt, isBool: from(1).isBool}
	}
	return &value{unknown: true, isInt: from(0).isInt, isBool: from(0).isBool}
}

// checkBoolIn refuses a bool input where the operator does not take one
// (opSpec.boolIn): the kernels of float32 and int64 operators test isInt
// only and would otherwise read a bool value as float32 data it does not
// have. Load's shape check meets every such input first, so a file that
// loads never fails here.
func (s step) checkBoolIn(in []*value) error {
	for j, v := range in {
		if v != nil && v.isBool && s.boolIn&(1<<j) == 0 {
			return fmt.Errorf("input %d is bool, which %s does not take there", j, s.op)
		}
	}
	return nil
}

func (s step) where() string { return fmt.Sprintf("node %q (%s)", s.name, s.op) }

// LoadFile reads and loads an ONNX model file, refusing files over
// capped.FileLimit (a device such as /dev/zero over capped.StreamLimit)
// rather than reading them whole.
func LoadFile(path string) (*Model, error) {
	data, err := capped.ReadFile(path, capped.FileLimit)
	if err != nil {
		return nil, err
	}
	m, err := Load(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Load decodes an ONNX model with onnx-go's decoder and prepares it to run.
// It refuses, naming the node and operator, any operator or attribute the
// runtime does not implement, and refuses hostile or broken files (bad
// sizes, missing initializers, cycles, truncation) with an error; it never
// panics. It finally runs the graph once at batch size 1 so that shape
// mismatches between fixed dimensions are reported now, not at first use.
func Load(data []byte) (*Model, error) {
	pb, err := scanModel(data)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if err := checkStructure(pb); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	col, err := decode(data)
	if err != nil {
		return nil, err
	}
	m, err := plan(pb, col)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	if err := m.dryRun(); err != nil {
		return nil, fmt.Errorf("onnx: shape check at batch size 1: %w", err)
	}
	// Fused only now, so that the shape check names nodes as the file does.
	if err := m.foldConstantNodes(); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	m.fuse()
	m.fuseConvs()
	m.prepareDense()
	if err := m.planMemory(); err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	return m, nil
}

// decode runs onnx-go's decoder into a collector. onnx-go may panic on
// inputs the pre-pass did not anticipate; the panic becomes an error.
func decode(data []byte) (col *collector, err error) {
	col = &collector{}
	defer func() {
		if r := recover(); r != nil {
			col, err = nil, fmt.Errorf("onnx: the onnx-go decoder failed on this file: %v", r)
		}
	}()
	if err := onnx.NewModel(col).UnmarshalBinary(data); err != nil {
		return nil, fmt.Errorf("onnx: onnx-go decoder: %w", err)
	}
	return col, nil
}

// checkStructure checks what the pre-pass read: opset, unique names,
// supported operators and attribute kinds.
func checkStructure(pb *pbModel) error {
	op, ok := pb.opsets[""]
	if !ok {
		return errors.New("model imports no default-domain opset")
	}
	if op < 1 || op > maxSupportedOpset {
		return fmt.Errorf("opset %d is not supported (supported: up to %d; each operator from the version whose definition the runtime implements)", op, maxSupportedOpset)
	}
	if len(pb.nodes) == 0 {
		return errors.New("graph has no nodes")
	}
	if len(pb.outputs) == 0 {
		return errors.New("graph has no outputs")
	}
	defined := map[string]string{} // value name → what defines it
	define := func(name, what string) error {
		if name == "" {
			return fmt.Errorf("%s has an empty name", what)
		}
		if prev, dup := defined[name]; dup {
			return fmt.Errorf("value %q is defined twice: by %s and by %s", name, prev, what)
		}
		defined[name] = what
		return nil
	}
	inits := map[string]bool{}
	for _, t := range pb.initializers {
		if err := define(t.name, "initializer "+quote(t.name)); err != nil {
			return err
		}
		inits[t.name] = true
	}
	for _, in := range pb.inputs {
		if inits[in.name] {
			continue // IR < 4 lists initializers as inputs too
		}
		if err := define(in.name, "graph input "+quote(in.name)); err != nil {
			return err
		}
		if err := ioType(in, "graph input"); err != nil {
			return err
		}
	}
	for i, n := range pb.nodes {
		where := nodeLabel(n, i)
		spec, ok := ops[n.opType]
		if n.domain != "" {
			return fmt.Errorf("%s: operator domain %q is not supported", where, n.domain)
		}
		if !ok {
			return fmt.Errorf("%s: unknown operator %q (supported: %s)", where, n.opType, strings.Join(SupportedOps(), ", "))
		}
		if spec.minOpset > op {
			return fmt.Errorf("%s: the runtime implements %s from opset %d, model has opset %d (an older definition)", where, n.opType, spec.minOpset, op)
		}
		if len(n.inputs) < spec.minIn || len(n.inputs) > spec.maxIn && !spec.variadic {
			return fmt.Errorf("%s: has %d inputs, %s takes %d to %d", where, len(n.inputs), n.opType, spec.minIn, spec.maxIn)
		}
		for j, in := range n.inputs {
			if in == "" && j < spec.minIn {
				return fmt.Errorf("%s: required input %d is empty", where, j)
			}
		}
		if len(n.outputs) != 1 {
			why := spec.extraOut
			if why == "" {
				why = "only one output is supported"
			}
			return fmt.Errorf("%s: has %d outputs: %s", where, len(n.outputs), why)
		}
		for _, a := range n.attrs {
			if _, ok := spec.attrs[a.name]; !ok {
				return fmt.Errorf("%s: unsupported attribute %q", where, a.name)
			}
			switch a.typ {
			case atFloat, atInt, atString, atTensor, atFloats, atInts:
			default:
				return fmt.Errorf("%s: attribute %q has unsupported type %d", where, a.name, a.typ)
			}
		}
		if err := define(n.outputs[0], where); err != nil {
			return err
		}
	}
	for _, o := range pb.outputs {
		if _, ok := defined[o.name]; !ok {
			return fmt.Errorf("graph output %q is not produced by any node, initializer or input", o.name)
		}
		if err := ioType(o, "graph output"); err != nil {
			return err
		}
	}
	for i, n := range pb.nodes {
		for _, in := range n.inputs {
			if _, ok := defined[in]; !ok && in != "" {
				return fmt.Errorf("%s: input %q is not produced by any node, initializer or graph input (missing initializer?)", nodeLabel(n, i), in)
			}
		}
	}
	return nil
}

// ioType refuses graph inputs and outputs that are not float32, int64 or
// bool tensors, naming the type.
func ioType(vi pbValueInfo, what string) error {
	if !vi.tensor {
		return fmt.Errorf("%s %q: %s is not supported (tensors only)", what, vi.name, vi.kind)
	}
	if vi.elemType != dtFloat && vi.elemType != dtInt64 && vi.elemType != dtBool {
		return fmt.Errorf("%s %q: element type %s is not supported (FLOAT; INT64 for shapes and indices; BOOL for masks)", what, vi.name, dtName(vi.elemType))
	}
	return nil
}

func dtypeOf(elemType int64) DType {
	switch elemType {
	case dtInt64:
		return Int64
	case dtBool:
		return Bool
	}
	return Float32
}

func quote(s string) string { return fmt.Sprintf("%q", s) }

// nodeLabel names a node for messages: its name, else its output, else
// its position.
func nodeLabel(n pbNode, i int) string {
	return fmt.Sprintf("node %q (%s)", nodeName(n, i), n.opType)
}

func nodeName(n pbNode, i int) string {
	switch {
	case n.name != "":
		return n.name
	case len(n.outputs) > 0 && n.outputs[0] != "":
		return n.outputs[0]
	}
	return fmt.Sprintf("#%d", i)
}

// plan joins the pre-pass (names, opset) with what onnx-go decoded
// (tensors, attributes, edges) into an ordered list of steps.
func plan(pb *pbModel, col *collector) (*Model, error) {
	if len(col.ops) != len(pb.nodes) {
		return nil, fmt.Errorf("onnx-go reported %d operations for %d nodes", len(col.ops), len(pb.nodes))
	}
	m := &Model{
		irVersion: pb.irVersion,
		opset:     pb.opsets[""],
		producer:  pb.producer,
		docString: pb.docString,
		metadata:  pb.metadata,
		consts:    map[int]*value{},
	}
	slot := map[string]int{}
	newSlot := func(name string) int {
		slot[name] = m.nslots
		m.slotNames = append(m.slotNames, name)
		m.nslots++
		return m.nslots - 1
	}
	byName := map[string]*cnode{}
	for _, n := range col.nodes {
		byName[n.name] = n // onnx-go keeps one node per name; the last wins as in its own map
	}
	for _, t := range pb.initializers {
		cn, ok := byName[t.name]
		if !ok || cn.t == nil {
			return nil, fmt.Errorf("initializer %q: onnx-go decoded no tensor", t.name)
		}
		v, err := fromGorgonia(cn.t)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", t.name, err)
		}
		if !sameDims(v.shape, t.dims) {
			return nil, fmt.Errorf("initializer %q: onnx-go decoded shape %v, file declares %v", t.name, v.shape, t.dims)
		}
		m.consts[newSlot(t.name)] = v
	}
	for _, in := range pb.inputs {
		if _, isInit := slot[in.name]; isInit {
			continue
		}
		m.inputs = append(m.inputs, IOInfo{Name: in.name, Shape: in.dims, Type: dtypeOf(in.elemType)})
		m.inputSlots = append(m.inputSlots, newSlot(in.name))
		m.inputShaped = append(m.inputShaped, in.hasShape)
	}
	for _, n := range pb.nodes {
		newSlot(n.outputs[0])
	}
	// Build the steps in file order, then sort topologically.
	steps := make([]step, len(pb.nodes))
	for i, n := range pb.nodes {
		o := col.ops[i]
		where := nodeLabel(n, i)
		if o.op.Name != n.opType || len(o.outputs) < 1 || o.outputs[0].name != n.outputs[0] {
			return nil, fmt.Errorf("%s: onnx-go reported operation %s with different outputs", where, o.op.Name)
		}
		// Inputs as onnx-go ordered them (edge weights), checked against the file.
		var got []string
		if len(n.inputs) > 0 {
			for _, c := range inputsOf(o.outputs[0]) {
				got = append(got, c.name)
			}
		}
		if strings.Join(got, "\x00") != strings.Join(n.inputs, "\x00") {
			return nil, fmt.Errorf("%s: onnx-go reported inputs %q, file has %q", where, got, n.inputs)
		}
		spec := ops[n.opType]
		s := step{name: nodeName(n, i), op: n.opType, out: slot[n.outputs[0]], shapeIn: spec.shapeIn, boolIn: spec.boolIn,
			outType: spec.outType, view: spec.view}
		nin := spec.maxIn
		if spec.variadic {
			nin = len(n.inputs)
		}
		consts := make([]*value, nin)
		for j := 0; j < nin; j++ {
			if j >= len(n.inputs) || n.inputs[j] == "" {
				s.in = append(s.in, -1)
				continue
			}
			k := slot[n.inputs[j]]
			s.in = append(s.in, k)
			consts[j] = m.consts[k]
		}
		if err := checkAttrs(spec, o.op.Attributes); err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		run, err := spec.build(attrs{m: o.op.Attributes, opset: m.opset}, consts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		s.run, s.attrs = run, attrs{m: o.op.Attributes, opset: m.opset}
		if n.opType == "Gemm" {
			s.gemm = &gemmAct{act: kernels.Linear}
		}
		steps[i] = s
	}
	order, err := topoSort(steps, m.nslots)
	if err != nil {
		return nil, err
	}
	m.steps = order
	for k, v := range m.consts {
		m.constSlots = append(m.constSlots, k)
		m.constVals = append(m.constVals, v)
	}
	for _, o := range pb.outputs {
		m.outputs = append(m.outputs, IOInfo{Name: o.name, Shape: o.dims, Type: dtypeOf(o.elemType)})
		m.outputSlots = append(m.outputSlots, slot[o.name])
	}
	return m, nil
}

func sameDims(a []int, b []int64) bool {
	if len(a) != len(b) {
		return len(b) == 0 && len(a) == 1 && a[0] == 1 // onnx-go may give a scalar shape (1)
	}
	for i := range a {
		if int64(a[i]) != b[i] {
			return false
		}
	}
	return true
}

// topoSort orders steps so each runs after the producers of its inputs
// (Kahn's algorithm, keeping file order among ready steps), or reports the
// nodes on a cycle.
func topoSort(steps []step, nslots int) ([]step, error) {
	producer := make([]int, nslots)
	for i := range producer {
		producer[i] = -1
	}
	for i, s := range steps {
		producer[s.out] = i
	}
	indeg := make([]int, len(steps))
	users := make([][]int, len(steps))
	for i, s := range steps {
		for _, k := range s.in {
			if k >= 0 && producer[k] >= 0 {
				indeg[i]++
				users[producer[k]] = append(users[producer[k]], i)
			}
		}
	}
	ready := &intHeap{}
	for i := range steps {
		if indeg[i] == 0 {
			heap.Push(ready, i)
		}
	}
	var out []step
	for ready.Len() > 0 {
		i := heap.Pop(ready).(int)
		out = append(out, steps[i])
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				heap.Push(ready, u)
			}
		}
	}
	if len(out) != len(steps) {
		var stuck []string
		for i, s := range steps {
			if indeg[i] > 0 {
				stuck = append(stuck, s.where())
			}
		}
		return nil, fmt.Errorf("graph has a cycle through %s", strings.Join(stuck, ", "))
	}
	return out, nil
}

// intHeap is a min-heap of step indices: ready steps run in file order.
type intHeap []int

func (h intHeap) Len() int           { return len(h) }
func (h intHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h intHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *intHeap) Push(x any)        { *h = append(*h, x.(int)) }
func (h *intHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Inputs returns the graph inputs the caller must feed (initializers
// excluded), in file order.
func (m *Model) Inputs() []IOInfo { return m.inputs }

// Outputs returns the graph outputs in file order.
func (m *Model) Outputs() []IOInfo { return m.outputs }

// Opset is the model's default-domain opset version.
func (m *Model) Opset() int64 { return m.opset }

// Producer is the model's producer_name.
func (m *Model) Producer() string { return m.producer }

// DocString is the model's doc_string.
func (m *Model) DocString() string { return m.docString }

// Metadata returns a copy of the model's metadata_props (key → value), empty
// when the file has none. vaec writes its own keys there ("vaec.latent",
// …); files from other tools may have none or others.
func (m *Model) Metadata() map[string]string { return maps.Clone(m.metadata) }

// Ops returns the operator of every node in execution order.
func (m *Model) Ops() []string {
	s := make([]string, len(m.steps))
	for i, st := range m.steps {
		s[i] = st.op
	}
	return s
}

// Run executes the model. Every input of Inputs must be given, with the
// declared rank, its fixed dimensions as declared, and any size for the
// symbolic ones (a symbolic name used twice must get one size). Data
// must hold exactly the shape's element count. It returns every output.
func (m *Model) Run(inputs map[string]Tensor) (map[string]Tensor, error) {
	return m.run(inputs, nil)
}

// RunInto is Run writing float32 outputs into buffers the caller owns and
// reuses from call to call, as ONNX Runtime's IO binding does: into[name],
// when given, receives output name, and the returned tensor's Data is
// into[name][:size]. A serving loop at large batches saves the allocation,
// zeroing and first touch of fresh memory for every output (at batch 256
// the MNIST decoder's two outputs are 1.6 MB a call). A buffer too small
// for its output is an error, as is one that overlaps an input or another
// buffer; outputs not named in into are allocated as by Run.
func (m *Model) RunInto(inputs map[string]Tensor, into map[string][]float32) (map[string]Tensor, error) {
	return m.run(inputs, into)
}

func (m *Model) run(inputs map[string]Tensor, into map[string][]float32) (map[string]Tensor, error) {
	st := m.getState()
	defer m.putState(st)
	if err := m.bind(st, inputs, into); err != nil {
		return nil, err
	}
	syms := st.syms[:0]
	for i, info := range m.inputs {
		t, ok := inputs[info.Name]
		if !ok {
			return nil, fmt.Errorf("input %q is missing", info.Name)
		}
		var err error
		if syms, err = checkInput(info, t, syms); err != nil {
			return nil, err
		}
		k := m.inputSlots[i]
		// Kernels never modify their inputs, so the caller's shape and
		// data are used as they are.
		switch info.Type {
		case Int64:
			st.vbuf[k] = value{shape: t.Shape, i: t.Int64, isInt: true}
		case Bool:
			st.vbuf[k] = value{shape: t.Shape, b: t.Bool, isBool: true}
		default:
			st.vbuf[k] = value{shape: t.Shape, f: t.Data}
		}
		st.vals[k] = &st.vbuf[k]
	}
	st.syms = syms
	if err := m.checkLive(syms); err != nil {
		return nil, err
	}
	if len(inputs) != len(m.inputs) {
		for name := range inputs {
			if !m.hasInput(name) {
				return nil, fmt.Errorf("model has no input %q (inputs: %v)", name, m.inputs)
			}
		}
	}
	if err := m.exec(st, false); err != nil {
		return nil, err
	}
	vals := st.vals
	res := make(map[string]Tensor, len(m.outputs))
	rank := 0
	for _, k := range m.outputSlots {
		rank += len(vals[k].shape)
	}
	shapes := make([]int, 0, rank) // one allocation for every output's shape
	for i, info := range m.outputs {
		v := vals[m.outputSlots[i]]
		if v.dt() != info.Type {
			return nil, fmt.Errorf("output %q is %s, the file declares %v", info.Name, v.dtype(), info.Type)
		}
		if v.isInt {
			r := len(shapes)
			shapes = append(shapes, v.shape...)
			res[info.Name] = Tensor{Shape: shapes[r:len(shapes):len(shapes)], Int64: append([]int64(nil), v.i...)}
			continue
		}
		if v.isBool {
			r := len(shapes)
			shapes = append(shapes, v.shape...)
			res[info.Name] = Tensor{Shape: shapes[r:len(shapes):len(shapes)], Bool: append(make([]bool, 0, len(v.b)), v.b...)}
			continue
		}
		// Copy when the output aliases an input or a constant, so callers
		// may modify what they get.
		data := v.f
		if b := st.bound(m.outputSlots[i]); b != nil {
			if len(b) < len(data) {
				return nil, fmt.Errorf("output %q has %d values, its buffer only %d", info.Name, len(data), len(b))
			}
			if len(data) > 0 && &b[0] != &data[0] {
				copy(b, data) // computed by a general kernel
			}
			data = b[:len(data)]
		} else if m.aliasesInputOrConst(v, vals) {
			data = append([]float32(nil), data...)
		}
		r := len(shapes)
		shapes = append(shapes, v.shape...)
		res[info.Name] = Tensor{Shape: shapes[r:len(shapes):len(shapes)], Data: data}
	}
	return res, nil
}

// exec runs the steps on the checked inputs in st.vals, leaving every
// slot's value there. With dry set, float data is never read: every float
// input of every step is passed as shapeOnly, so only shapes (and int64
// shape arithmetic) are computed.
func (m *Model) exec(st *execState, dry bool) error {
	for i, k := range m.constSlots {
		st.vals[k] = m.constVals[i]
	}
	for i := 0; i < len(m.steps); i++ {
		s := m.steps[i]
		if s.dense != nil && s.dense.joinNext && !dry {
			if n := m.runJoined(st, i); n > 0 {
				for j := i; j < i+n && m.free != nil; j++ {
					m.afterStep(st, j)
				}
				i += n - 1
				continue
			}
		}
		switch {
		case s.dense != nil && !dry && s.dense.runDense(m, st, st.vals[s.in[0]]):
		case s.dense != nil:
			for _, o := range s.dense.orig {
				if err := m.execStep(st, o, dry); err != nil {
					return err
				}
			}
		case s.chain != nil && !dry && s.chain.run(m, st, st.vals[s.in[0]], s.out):
		case s.chain != nil:
			if err := s.chain.fallback(m, st, s.out, dry); err != nil {
				return err
			}
		default:
			if err := m.execStep(st, s, dry); err != nil {
				return err
			}
		}
		if m.free != nil {
			m.afterStep(st, i)
		}
	}
	return nil
}

// execStep runs one step through its general kernel.
func (m *Model) execStep(st *execState, s step, dry bool) error {
	in := st.in[:0]
	unknown := false
	for j, k := range s.in {
		var v *value
		if k >= 0 {
			v = st.vals[k]
			unknown = unknown || v.unknown
			// Float data is hidden from the shape check, except small
			// inputs that decide the output shape (Resize's scales).
			if dry && !v.isInt && !v.shapeOnly && !(s.shapeIn&(1<<j) != 0 && len(v.f) <= maxRank) {
				v = &value{shape: v.shape, shapeOnly: true, isBool: v.isBool}
			}
		}
		in = append(in, v)
	}
	st.in = in
	var out *value
	err := s.checkBoolIn(in)
	switch {
	case err != nil:
	case unknown:
		err = errNoData
	default:
		out, err = s.run(in)
	}
	if dry && errors.Is(err, errNoData) {
		// The shape depends on data the check does not have: the value's
		// shape stays unknown, its type follows the operator's rule.
		st.vals[s.out] = s.unknownOut(in)
		clear(in)
		return nil
	}
	clear(in)
	if err != nil {
		return fmt.Errorf("%s: %w", s.where(), err)
	}
	if len(out.shape) > maxRank {
		return fmt.Errorf("%s: result has rank %d, more than %d", s.where(), len(out.shape), maxRank)
	}
	st.vals[s.out] = out
	return nil
}

func (m *Model) hasInput(name string) bool {
	for _, in := range m.inputs {
		if in.Name == name {
			return true
		}
	}
	return false
}

func (m *Model) aliasesInputOrConst(v *value, vals []*value) bool {
	if len(v.f) == 0 {
		return false
	}
	same := func(w *value) bool { return w != nil && len(w.f) > 0 && &w.f[0] == &v.f[0] }
	for _, k := range m.inputSlots {
		if same(vals[k]) {
			return true
		}
	}
	for _, c := range m.consts {
		if same(c) {
			return true
		}
	}
	return false
}

// symDim is the size given to a symbolic dimension by an input.
type symDim struct {
	name string
	size int
}

// checkInput checks t against info, recording the sizes of symbolic
// dimensions in syms (a list: models have one or two) and returning it.
func checkInput(info IOInfo, t Tensor, syms []symDim) ([]symDim, error) {
	if len(info.Shape) > 0 && len(t.Shape) != len(info.Shape) {
		return syms, fmt.Errorf("input %v: got shape %v", info, t.Shape)
	}
	n, err := checkedSize(t.Shape)
	if err != nil {
		return syms, fmt.Errorf("input %q: %w", info.Name, err)
	}
	switch info.Type {
	case Int64:
		if n != len(t.Int64) || t.Data != nil {
			return syms, fmt.Errorf("input %q is int64: shape %v needs %d values in Int64, got %d (and %d in Data)", info.Name, t.Shape, n, len(t.Int64), len(t.Data))
		}
	case Bool:
		if n != len(t.Bool) || t.Data != nil {
			return syms, fmt.Errorf("input %q is bool: shape %v needs %d values in Bool, got %d (and %d in Data)", info.Name, t.Shape, n, len(t.Bool), len(t.Data))
		}
	default:
		if n != len(t.Data) {
			return syms, fmt.Errorf("input %q: shape %v needs %d values, got %d", info.Name, t.Shape, n, len(t.Data))
		}
	}
dims:
	for i, d := range info.Shape {
		switch {
		case d.Param != "":
			for _, s := range syms {
				if s.name != d.Param {
					continue
				}
				if s.size != t.Shape[i] {
					return syms, fmt.Errorf("input %v: dimension %s is %d here but %d in another input", info, d.Param, t.Shape[i], s.size)
				}
				continue dims
			}
			syms = append(syms, symDim{d.Param, t.Shape[i]})
		case d.Value >= 0 && int64(t.Shape[i]) != d.Value:
			return syms, fmt.Errorf("input %v: got shape %v", info, t.Shape)
		}
	}
	return syms, nil
}

// seedDry gives every graph input a shape-only value: its declared shape
// with each symbolic dimension at 1, or an unknown shape when the file
// declares none.
func (m *Model) seedDry(st *execState) error {
	for i, info := range m.inputs {
		if !m.inputShaped[i] {
			st.vals[m.inputSlots[i]] = &value{unknown: true, isInt: info.Type == Int64, isBool: info.Type == Bool}
			continue
		}
		shape := make([]int, len(info.Shape))
		for i, d := range info.Shape {
			shape[i] = 1
			if d.Param == "" && d.Value >= 0 {
				shape[i] = int(d.Value)
			}
		}
		st.vals[m.inputSlots[i]] = &value{shape: shape, shapeOnly: true, isInt: info.Type == Int64, isBool: info.Type == Bool}
	}
	return nil
}

// dryRun propagates shapes through the graph with every symbolic input
// dimension set to 1, without arithmetic on float data (shape arithmetic
// on int64 values is done). Inputs without a declared shape are not
// checked this way.
func (m *Model) dryRun() error {
	st := m.getState()
	if err := m.seedDry(st); err != nil {
		return err
	}
	if err := m.exec(st, true); err != nil {
		return err
	}
	vals := st.vals
	for i, info := range m.outputs {
		v := vals[m.outputSlots[i]]
		if v.dt() != info.Type {
			return fmt.Errorf("output %v: the graph computes %s", info, v.dtype())
		}
		got := v.shape
		if len(info.Shape) == 0 || v.unknown {
			continue
		}
		if len(got) != len(info.Shape) {
			return fmt.Errorf("output %v: computed shape %v", info, got)
		}
		for j, d := range info.Shape {
			if d.Param == "" && d.Value >= 0 && int64(got[j]) != d.Value {
				return fmt.Errorf("output %v: computed shape %v", info, got)
			}
		}
	}
	return nil
}
