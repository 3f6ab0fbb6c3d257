package importer

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer/onnxpb"
)

// node imports one NodeProto: folds it when its inputs are constant (or it
// is Shape), aliases it away when it is Identity or Dropout, or appends a
// typed node to the graph.
func (b *builder) node(index int, np *onnxpb.NodeProto) error {
	name := np.GetName()
	if name == "" {
		name = fmt.Sprintf("%s_%d", np.GetOpType(), index)
	}
	if d := np.GetDomain(); d != "" && d != "ai.onnx" {
		b.markUnsupported(d+"."+np.GetOpType(), name, np.GetOutput())
		return nil
	}
	for _, in := range np.GetInput() {
		if b.poisoned[b.resolve(in)] {
			// Downstream of an unsupported operator: keep collecting the
			// unsupported ones without building this node.
			if !graph.Supported(np.GetOpType()) && !foldOnly[np.GetOpType()] {
				b.markUnsupported(np.GetOpType(), name, np.GetOutput())
			}
			for _, o := range np.GetOutput() {
				b.poisoned[o] = true
			}
			return nil
		}
	}
	specA, specB, err := b.specs(name, np)
	if err != nil {
		return err
	}
	outputs := np.GetOutput()
	for len(outputs) > 0 && outputs[len(outputs)-1] == "" {
		outputs = outputs[:len(outputs)-1]
	}

	if np.GetOpType() == "Shape" && len(specA.Inputs) == 1 && specA.Inputs[0].Const == nil {
		return b.foldShape(specA, specB, outputs)
	}
	if len(specA.DataInputs()) == 0 {
		return b.fold(specA, specB, outputs)
	}
	if (np.GetOpType() == "Identity" || np.GetOpType() == "Dropout") && !b.graphOutputs[outputs[0]] {
		if len(outputs) > 1 {
			return fmt.Errorf("node %q (Dropout): the mask output is not supported in inference", name)
		}
		specA.Ignore("ratio", "seed", "training_mode", "is_test")
		if u := specA.Unused(); len(u) > 0 {
			return specA.Errorf("unsupported attribute(s) %v", u)
		}
		b.alias[outputs[0]] = specA.Inputs[specA.DataInputs()[0]].Name
		return nil
	}
	if !graph.Supported(np.GetOpType()) {
		b.markUnsupported(np.GetOpType(), name, outputs)
		return nil
	}
	if err := b.batchFreeConsts(specA, specB); err != nil {
		return err
	}
	op, err := graph.Build(specA)
	if err != nil {
		return err
	}
	n := &graph.Node{Name: name, Op: op, Outputs: outputs}
	for _, i := range specA.DataInputs() {
		n.Inputs = append(n.Inputs, specA.Inputs[i].Name)
	}
	for _, pass := range []struct{ shapes map[string][]int }{{b.shapesA}, {b.shapesB}} {
		in := make([][]int, len(n.Inputs))
		for i, t := range n.Inputs {
			in[i] = pass.shapes[t]
		}
		out, err := op.Infer(in)
		if err != nil {
			return fmt.Errorf("node %q (%s): %w", name, np.GetOpType(), err)
		}
		if len(out) != len(outputs) {
			return fmt.Errorf("node %q (%s): has %d outputs, the operator makes %d", name, np.GetOpType(), len(outputs), len(out))
		}
		for i, o := range outputs {
			pass.shapes[o] = out[i]
		}
	}
	b.g.Nodes = append(b.g.Nodes, n)
	return nil
}

// foldOnly lists operators the importer evaluates when their inputs are
// constant (or, for Shape, have a known shape) but that are no data
// operators.
var foldOnly = map[string]bool{"Shape": true, "Constant": true, "ConstantOfShape": true, "Range": true,
	"Equal": true, "Less": true, "Greater": true, "Where": true, "And": true, "Or": true, "Not": true,
	"Floor": true, "Ceil": true, "ReduceProd": true, "Pow": true, "Mod": true}

// markUnsupported records an unsupported node and poisons its outputs.
func (b *builder) markUnsupported(opType, name string, outputs []string) {
	b.unsupported[opType] = append(b.unsupported[opType], name)
	for _, o := range outputs {
		b.poisoned[o] = true
	}
}

// specs builds the node spec for each batch pass; they differ only in the
// values of batch-dependent constants.
func (b *builder) specs(name string, np *onnxpb.NodeProto) (*graph.NodeSpec, *graph.NodeSpec, error) {
	attrs := map[string]graph.Attr{}
	for _, a := range np.GetAttribute() {
		attr, err := b.attr(a)
		if err != nil {
			return nil, nil, fmt.Errorf("node %q (%s) attribute %q: %w", name, np.GetOpType(), a.GetName(), err)
		}
		attrs[a.GetName()] = attr
	}
	outs := len(np.GetOutput())
	sa := &graph.NodeSpec{Name: name, Type: np.GetOpType(), Opset: b.opset, Attrs: attrs, NumOutputs: outs}
	sb := &graph.NodeSpec{Name: name, Type: np.GetOpType(), Opset: b.opset, Attrs: attrs, NumOutputs: outs}
	for _, in := range np.GetInput() {
		in = b.resolve(in)
		if v, ok := b.consts[in]; ok {
			sa.Inputs = append(sa.Inputs, graph.Input{Name: in, Const: v.a})
			sb.Inputs = append(sb.Inputs, graph.Input{Name: in, Const: v.b})
			continue
		}
		if in != "" && !b.poisoned[in] {
			if _, ok := b.shapesA[in]; !ok {
				return nil, nil, fmt.Errorf("node %q (%s) reads %q, which is not available", name, np.GetOpType(), in)
			}
		}
		sa.Inputs = append(sa.Inputs, graph.Input{Name: in})
		sb.Inputs = append(sb.Inputs, graph.Input{Name: in})
	}
	return sa, sb, nil
}

func (b *builder) attr(a *onnxpb.AttributeProto) (graph.Attr, error) {
	switch a.GetType() {
	case onnxpb.AttributeProto_FLOAT:
		return graph.Attr{Kind: graph.AttrFloat, F: a.GetF()}, nil
	case onnxpb.AttributeProto_INT:
		return graph.Attr{Kind: graph.AttrInt, I: a.GetI()}, nil
	case onnxpb.AttributeProto_STRING:
		return graph.Attr{Kind: graph.AttrString, S: string(a.GetS())}, nil
	case onnxpb.AttributeProto_FLOATS:
		return graph.Attr{Kind: graph.AttrFloats, Floats: a.GetFloats()}, nil
	case onnxpb.AttributeProto_INTS:
		return graph.Attr{Kind: graph.AttrInts, Ints: a.GetInts()}, nil
	case onnxpb.AttributeProto_STRINGS:
		var ss []string
		for _, s := range a.GetStrings() {
			ss = append(ss, string(s))
		}
		return graph.Attr{Kind: graph.AttrStrings, Strings: ss}, nil
	case onnxpb.AttributeProto_TENSOR:
		c, err := decodeTensor(a.GetT(), b.dir)
		if err != nil {
			return graph.Attr{}, err
		}
		return graph.Attr{Kind: graph.AttrTensor, T: c}, nil
	}
	return graph.Attr{Kind: graph.AttrOther}, nil
}

// batchFreeConsts replaces batch-dependent constant inputs of a data node by
// batch-free ones where the operator allows it: a Reshape target whose first
// element is the batch becomes 0 ("copy the input's dim 0"). Any other
// batch-dependent constant is an error naming the node.
func (b *builder) batchFreeConsts(sa, sb *graph.NodeSpec) error {
	if sa.Type == "Reshape" && b.fixedBatch == 1 {
		b.generalizeFixedBatch(sa, sb)
	}
	for i := range sa.Inputs {
		ca, cb := sa.Inputs[i].Const, sb.Inputs[i].Const
		if ca == cb {
			continue
		}
		allowzero, _ := sa.Int("allowzero", 0)
		if sa.Type != "Reshape" || i != 1 || allowzero != 0 {
			return sa.Errorf("input %d depends on the batch size in a way paneonnx cannot fold", i)
		}
		fixed := &graph.Const{Shape: ca.Shape, V: append([]float64(nil), ca.V...), Int: true}
		for k := range ca.V {
			if ca.V[k] == cb.V[k] {
				continue
			}
			if k != 0 || ca.V[k] != batchA || cb.V[k] != batchB {
				return sa.Errorf("the target shape depends on the batch size at position %d; only a leading batch dimension is supported", k)
			}
			fixed.V[k] = 0
		}
		sa.Inputs[i].Const = fixed
	}
	return nil
}

// generalizeFixedBatch rewrites the target of a Reshape in a model exported
// with a fixed batch of 1: a leading 1 applied to an input whose leading dim
// is 1 becomes 0 ("copy the input's dim 0"), which is the same for batch 1
// and keeps the batch for larger ones.
func (b *builder) generalizeFixedBatch(s, sb *graph.NodeSpec) {
	target := s.Input(1).Const
	data := s.Input(0)
	if target == nil || data.Const != nil || len(target.V) == 0 || target.V[0] != 1 {
		return
	}
	if shape := b.shapesA[data.Name]; len(shape) == 0 || shape[0] != 1 {
		return
	}
	if allowzero, _ := s.Int("allowzero", 0); allowzero != 0 {
		return
	}
	fixed := &graph.Const{Shape: target.Shape, V: append([]float64(nil), target.V...), Int: true}
	fixed.V[0] = 0
	s.Inputs[1].Const, sb.Inputs[1].Const = fixed, fixed
}

// foldShape evaluates Shape of a data tensor for both batch passes.
func (b *builder) foldShape(sa, sb *graph.NodeSpec, outputs []string) error {
	start, err := sa.Int("start", 0)
	if err != nil {
		return err
	}
	end, err := sa.Int("end", 1<<62)
	if err != nil {
		return err
	}
	if u := sa.Unused(); len(u) > 0 {
		return sa.Errorf("unsupported attribute(s) %v", u)
	}
	shapeConst := func(shape []int) *graph.Const {
		r := len(shape)
		lo, hi := clampAxis(start, r), clampAxis(end, r)
		c := &graph.Const{Int: true, Shape: []int{max(hi-lo, 0)}}
		for i := lo; i < hi; i++ {
			c.V = append(c.V, float64(shape[i]))
		}
		return c
	}
	in := sa.Inputs[0].Name
	va, vb := shapeConst(b.shapesA[in]), shapeConst(b.shapesB[in])
	b.consts[outputs[0]] = collapse(va, vb)
	return nil
}

func clampAxis(a int64, rank int) int {
	if a < 0 {
		a += int64(rank)
	}
	return int(min(max(a, 0), int64(rank)))
}

// collapse returns a batch-free value when both passes agree.
func collapse(a, b *graph.Const) value {
	if !graph.SameShape(a.Shape, b.Shape) || a.Int != b.Int {
		return value{a, b}
	}
	for i := range a.V {
		if a.V[i] != b.V[i] {
			return value{a, b}
		}
	}
	return value{a, a}
}

// fold evaluates a node whose inputs are all constant, for both passes.
func (b *builder) fold(sa, sb *graph.NodeSpec, outputs []string) error {
	ra, err := evalConst(sa)
	if err != nil {
		return err
	}
	rb := ra
	for i := range sa.Inputs {
		if sa.Inputs[i].Const != sb.Inputs[i].Const {
			if rb, err = evalConst(sb); err != nil {
				return err
			}
			break
		}
	}
	if len(ra) < len(outputs) {
		return sa.Errorf("has %d outputs, folding made %d", len(outputs), len(ra))
	}
	for i, o := range outputs {
		b.consts[o] = collapse(ra[i], rb[i])
	}
	return nil
}

// evalConst evaluates a node on constant inputs: natively for shape
// arithmetic, otherwise by running the operator itself on float32 values.
func evalConst(s *graph.NodeSpec) ([]*graph.Const, error) {
	in := make([]*graph.Const, len(s.Inputs))
	for i, x := range s.Inputs {
		in[i] = x.Const
	}
	out, ok, err := evalNative(s, in)
	if err != nil || ok {
		if err == nil {
			if u := s.Unused(); len(u) > 0 {
				return nil, s.Errorf("unsupported attribute(s) %v", u)
			}
		}
		return out, err
	}
	if !graph.Supported(s.Type) {
		return nil, s.Errorf("unsupported operator (on constants)")
	}
	// The operator's first input (all inputs for variadic ones) becomes data.
	run := *s
	run.Inputs = append([]graph.Input(nil), s.Inputs...)
	var data []*graph.Tensor
	isInt := true
	for i, x := range run.Inputs {
		if x.Const == nil || (i > 0 && !variadic[s.Type]) {
			continue
		}
		data = append(data, x.Const.Tensor())
		isInt = isInt && x.Const.Int
		run.Inputs[i] = graph.Input{Name: fmt.Sprintf("const%d", i)}
	}
	op, err := graph.Build(&run)
	if err != nil {
		return nil, err
	}
	shapes := make([][]int, len(data))
	for i, t := range data {
		shapes[i] = t.Shape
	}
	outShapes, err := op.Infer(shapes)
	if err != nil {
		return nil, s.Errorf("%v", err)
	}
	outs := make([]*graph.Tensor, len(outShapes))
	for i, sh := range outShapes {
		if _, err := graph.CheckedElements(sh); err != nil {
			return nil, s.Errorf("%v", err)
		}
		outs[i] = graph.New(sh...)
	}
	if err := op.Forward(data, outs); err != nil {
		return nil, s.Errorf("%v", err)
	}
	res := make([]*graph.Const, len(outs))
	for i, t := range outs {
		c := &graph.Const{Shape: t.Shape, V: make([]float64, len(t.Data)), Int: isInt}
		for k, v := range t.Data {
			c.V[k] = float64(v)
		}
		res[i] = c
	}
	return res, nil
}

// variadic operators take every input as data when folded.
var variadic = map[string]bool{"Concat": true, "Sum": true, "Mean": true, "Max": true, "Min": true}
