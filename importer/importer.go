// Package importer turns an ONNX model file into a graph.Graph: it decodes
// the protobuf, checks IR and opset versions, reads initializers (inline or
// external data inside the model's folder), folds constant sub-graphs (shape
// computations included), removes Identity and Dropout, and builds one typed
// operator per remaining node.
package importer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/paneonnx/paneonnx/graph"
	_ "github.com/paneonnx/paneonnx/graph/ops" // registers the operators
	"github.com/paneonnx/paneonnx/importer/onnxpb"
)

// Supported version ranges (SPEC §3).
const (
	MinIRVersion = 3
	MaxIRVersion = 10
	MinOpset     = 9
	MaxOpset     = 21
)

// maxModelBytes bounds the model file read into memory.
const maxModelBytes = 4 << 30

// Model is an imported ONNX model.
type Model struct {
	Graph     *graph.Graph
	IRVersion int64
	Opset     int
	Producer  string
	// Path is the file the model was read from ("" for Decode).
	Path string
}

// Options adjusts an import.
type Options struct {
	// Constants turns graph inputs of these names into constants, as the
	// ONNX backend tests need for inputs that hold shapes, axes or indices.
	Constants map[string]*graph.Const
}

// Load reads and imports the model at path. External data is read from the
// model's folder.
func Load(path string, opts *Options) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > maxModelBytes {
		return nil, fmt.Errorf("%s: %d bytes is larger than the %d bytes a model may have", path, st.Size(), maxModelBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	m, err := Decode(data, filepath.Dir(path), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// Decode imports a serialized ModelProto. dir is the folder external data
// is read from; "" forbids external data.
func Decode(data []byte, dir string, opts *Options) (*Model, error) {
	var mp onnxpb.ModelProto
	if err := proto.Unmarshal(data, &mp); err != nil {
		return nil, fmt.Errorf("not a valid ONNX model (protobuf decoding failed: %v)", err)
	}
	if mp.Graph == nil {
		return nil, errors.New("not a valid ONNX model: it has no graph")
	}
	ir := mp.GetIrVersion()
	if ir < MinIRVersion || ir > MaxIRVersion {
		return nil, fmt.Errorf("ONNX IR version %d is not supported (supported: %d to %d)", ir, MinIRVersion, MaxIRVersion)
	}
	opset := 0
	for _, o := range mp.OpsetImport {
		if d := o.GetDomain(); d == "" || d == "ai.onnx" {
			opset = int(o.GetVersion())
		}
	}
	if opset < MinOpset || opset > MaxOpset {
		return nil, fmt.Errorf("opset %d of the default ONNX domain is not supported (supported: %d to %d)", opset, MinOpset, MaxOpset)
	}
	if opts == nil {
		opts = &Options{}
	}
	b := &builder{opset: opset, dir: dir, opts: opts}
	g, err := b.build(mp.Graph)
	if err != nil {
		return nil, err
	}
	g.Meta = map[string]string{}
	for _, kv := range mp.MetadataProps {
		g.Meta[kv.GetKey()] = kv.GetValue()
	}
	return &Model{Graph: g, IRVersion: ir, Opset: opset, Producer: mp.GetProducerName()}, nil
}

// Two batch sizes the importer infers every shape for: a shape value that
// equals batchA in the first pass and batchB in the second is the batch.
const (
	batchA = 7
	batchB = 11
)

// value is a folded constant; b differs from a when the value depends on
// the batch size (b is the value for batchB).
type value struct{ a, b *graph.Const }

type builder struct {
	opset int
	dir   string
	opts  *Options

	consts map[string]value
	// shapes of data tensors for batchA and batchB.
	shapesA, shapesB map[string][]int
	alias            map[string]string
	unsupported      map[string][]string
	poisoned         map[string]bool
	// fixedBatch is the image input's declared batch size when the model
	// fixes it (0 when it is free).
	fixedBatch   int
	graphOutputs map[string]bool
	g            *graph.Graph
}

func (b *builder) resolve(name string) string {
	for {
		a, ok := b.alias[name]
		if !ok {
			return name
		}
		name = a
	}
}

func (b *builder) build(gp *onnxpb.GraphProto) (*graph.Graph, error) {
	b.consts = map[string]value{}
	b.shapesA, b.shapesB = map[string][]int{}, map[string][]int{}
	b.alias = map[string]string{}
	b.unsupported = map[string][]string{}
	b.poisoned = map[string]bool{}
	b.graphOutputs = map[string]bool{}
	b.g = &graph.Graph{}

	for _, t := range gp.Initializer {
		c, err := decodeTensor(t, b.dir)
		if err != nil {
			return nil, fmt.Errorf("initializer %q: %w", t.GetName(), err)
		}
		if !c.Int && graph.HasNonFinite(c.Float32()) {
			return nil, fmt.Errorf("initializer %q holds NaN or infinite values", t.GetName())
		}
		b.consts[t.GetName()] = value{c, c}
	}
	for name, c := range b.opts.Constants {
		b.consts[name] = value{c, c}
	}
	for _, in := range gp.Input {
		name := in.GetName()
		if _, isConst := b.consts[name]; isConst {
			continue
		}
		tt := in.GetType().GetTensorType()
		if tt == nil {
			return nil, fmt.Errorf("input %q is not a tensor", name)
		}
		if et := tt.GetElemType(); et != dtFloat {
			return nil, fmt.Errorf("input %q has element type %s, which is not supported (paneonnx computes in float32)", name, dtypeName(et))
		}
		shape := []int{}
		for i, d := range tt.GetShape().GetDim() {
			v := int64(-1) // a named or unset dim is free
			if dv, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
				v = dv.DimValue
				switch {
				case v == 0:
					return nil, fmt.Errorf("input %q: zero-sized dimension %d is not supported", name, i)
				case v < 0 || v > graph.MaxElements:
					return nil, fmt.Errorf("input %q: dimension %d is %d", name, i, v)
				}
			}
			shape = append(shape, int(v))
		}
		// The image input's batch follows the data. The import-time shape
		// passes use two batch sizes to tell batch-dependent shape values
		// apart, unless the model fixes its batch; other inputs keep their
		// declared shapes.
		passA, passB := concreteShape(shape), concreteShape(shape)
		if len(b.g.Inputs) == 0 && len(shape) > 0 {
			if shape[0] < 0 {
				passA[0], passB[0] = batchA, batchB
			} else {
				b.fixedBatch = shape[0]
			}
			shape[0] = -1
		}
		b.g.Inputs = append(b.g.Inputs, name)
		b.g.InputShapes = append(b.g.InputShapes, shape)
		b.shapesA[name], b.shapesB[name] = passA, passB
	}
	if len(b.g.Inputs) == 0 {
		return nil, errors.New("the model has no data input")
	}
	for _, o := range gp.Output {
		b.graphOutputs[o.GetName()] = true
	}
	nodes, err := sortNodes(gp.Node, b.consts, b.g.Inputs)
	if err != nil {
		return nil, err
	}
	for i, np := range nodes {
		if err := b.node(i, np); err != nil {
			return nil, err
		}
	}
	if len(b.unsupported) > 0 {
		return nil, unsupportedError(b.unsupported)
	}
	for _, o := range gp.Output {
		name := b.resolve(o.GetName())
		if _, isConst := b.consts[name]; isConst {
			return nil, fmt.Errorf("output %q is a constant: it does not depend on the input", o.GetName())
		}
		b.g.Outputs = append(b.g.Outputs, name)
	}
	if err := b.g.Sort(); err != nil {
		return nil, err
	}
	freezeGates(b.g, b.shapesA)
	return b.g, nil
}

// freezeGates tells every product of two same-sized data tensors which
// operand is the gate: the one produced by Sigmoid or HardSigmoid, so that
// x·sigmoid(x) (SiLU) and x·hardsigmoid(x) (HardSwish) have the local
// linear form of the fused activations (SPEC §5.1).
func freezeGates(g *graph.Graph, shapes map[string][]int) {
	for _, n := range g.Nodes {
		f, ok := n.Op.(interface{ SetFrozen(int) })
		if !ok || n.Op.Type() != "Mul" || len(n.Inputs) != 2 || !graph.SameShape(shapes[n.Inputs[0]], shapes[n.Inputs[1]]) {
			continue
		}
		for i, in := range n.Inputs {
			if p, _ := g.Producer(in); p != nil && (p.Op.Type() == "Sigmoid" || p.Op.Type() == "HardSigmoid") {
				f.SetFrozen(i)
				break
			}
		}
	}
}

// concreteShape substitutes 1 for the free dims of a declared shape (which
// only matters for shape folding).
func concreteShape(decl []int) []int {
	s := append([]int(nil), decl...)
	for i, d := range s {
		if d < 0 {
			s[i] = 1
		}
	}
	return s
}

// UnsupportedError lists every unsupported operator type of a model with
// the nodes that use it.
type UnsupportedError struct {
	Ops map[string][]string
}

func unsupportedError(ops map[string][]string) error { return &UnsupportedError{Ops: ops} }

func (e *UnsupportedError) Error() string {
	types := make([]string, 0, len(e.Ops))
	for t := range e.Ops {
		types = append(types, t)
	}
	sort.Strings(types)
	var parts []string
	for _, t := range types {
		nodes := e.Ops[t]
		more := ""
		if len(nodes) > 5 {
			more = fmt.Sprintf(" and %d more", len(nodes)-5)
			nodes = nodes[:5]
		}
		parts = append(parts, fmt.Sprintf("%s (%s%s)", t, strings.Join(nodes, ", "), more))
	}
	return "unsupported operators: " + strings.Join(parts, "; ")
}

// sortNodes orders the nodes topologically (ONNX requires it, but not every
// exporter complies) and reports tensors nothing produces.
func sortNodes(nodes []*onnxpb.NodeProto, consts map[string]value, inputs []string) ([]*onnxpb.NodeProto, error) {
	avail := map[string]bool{"": true}
	for name := range consts {
		avail[name] = true
	}
	for _, in := range inputs {
		avail[in] = true
	}
	done := make([]bool, len(nodes))
	out := make([]*onnxpb.NodeProto, 0, len(nodes))
	for len(out) < len(nodes) {
		progress := false
		for i, n := range nodes {
			if done[i] {
				continue
			}
			ready := true
			for _, in := range n.Input {
				if !avail[in] {
					ready = false
					break
				}
			}
			if ready {
				done[i], progress = true, true
				out = append(out, n)
				for _, o := range n.Output {
					avail[o] = true
				}
			}
		}
		if !progress {
			for i, n := range nodes {
				if !done[i] {
					for _, in := range n.Input {
						if !avail[in] {
							return nil, fmt.Errorf("node %q (%s) reads %q, which no node, initializer or input provides (or the graph has a cycle)", n.GetName(), n.GetOpType(), in)
						}
					}
				}
			}
		}
	}
	return out, nil
}
