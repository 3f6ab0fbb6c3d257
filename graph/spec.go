package graph

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// AttrKind is the type of an ONNX attribute value.
type AttrKind uint8

// Attribute kinds that CNN operators use.
const (
	AttrFloat AttrKind = iota + 1
	AttrInt
	AttrString
	AttrTensor
	AttrFloats
	AttrInts
	AttrStrings
	AttrOther
)

// Attr is one attribute value of a node.
type Attr struct {
	Kind    AttrKind
	F       float32
	I       int64
	S       string
	Floats  []float32
	Ints    []int64
	Strings []string
	T       *Const
}

// Const is a constant tensor: an initializer, a Constant node's value or the
// result of constant folding. Values are held as float64, which represents
// every integer a shape computation uses exactly.
type Const struct {
	Shape []int
	V     []float64
	// Int reports whether the ONNX type is an integer or boolean type.
	Int bool
}

// Float32 returns the values converted to float32.
func (c *Const) Float32() []float32 {
	out := make([]float32, len(c.V))
	for i, v := range c.V {
		out[i] = float32(v)
	}
	return out
}

// Int64 returns the values converted to int64.
func (c *Const) Int64() []int64 {
	out := make([]int64, len(c.V))
	for i, v := range c.V {
		out[i] = int64(v)
	}
	return out
}

// Tensor returns a float32 tensor holding the values.
func (c *Const) Tensor() *Tensor {
	return &Tensor{Shape: append([]int(nil), c.Shape...), Data: c.Float32()}
}

// Input is one input position of a node: a data tensor (Const == nil) or a
// constant. An absent optional input has an empty Name and no Const.
type Input struct {
	Name  string
	Const *Const
}

// Absent reports whether the optional input was left out.
func (in Input) Absent() bool { return in.Name == "" && in.Const == nil }

// NodeSpec is what an operator constructor sees of one ONNX node. Its
// accessors record which attributes were read, so that an attribute no
// constructor understands is reported instead of silently ignored.
type NodeSpec struct {
	Name       string
	Type       string
	Opset      int
	Attrs      map[string]Attr
	Inputs     []Input
	NumOutputs int

	used map[string]bool
}

// ErrNotConstant is wrapped by the errors of operators that need a constant
// operand where the model computes it from the input.
var ErrNotConstant = errors.New("operand must be a constant")

// Errorf returns an error that names the node; %w in format wraps as in
// fmt.Errorf.
func (s *NodeSpec) Errorf(format string, args ...any) error {
	return fmt.Errorf("node %q (%s): %w", s.Name, s.Type, fmt.Errorf(format, args...))
}

func (s *NodeSpec) attr(name string, kind AttrKind) (Attr, bool, error) {
	if s.used == nil {
		s.used = map[string]bool{}
	}
	s.used[name] = true
	a, ok := s.Attrs[name]
	if !ok {
		return Attr{}, false, nil
	}
	if a.Kind != kind {
		return Attr{}, false, s.Errorf("attribute %q has the wrong type", name)
	}
	return a, true, nil
}

// Int returns an integer attribute or def when absent.
func (s *NodeSpec) Int(name string, def int64) (int64, error) {
	a, ok, err := s.attr(name, AttrInt)
	if !ok || err != nil {
		return def, err
	}
	return a.I, nil
}

// Float returns a float attribute or def when absent.
func (s *NodeSpec) Float(name string, def float32) (float32, error) {
	a, ok, err := s.attr(name, AttrFloat)
	if !ok || err != nil {
		return def, err
	}
	return a.F, nil
}

// String returns a string attribute or def when absent.
func (s *NodeSpec) String(name, def string) (string, error) {
	a, ok, err := s.attr(name, AttrString)
	if !ok || err != nil {
		return def, err
	}
	return a.S, nil
}

// Ints returns an integer-list attribute or def when absent.
func (s *NodeSpec) Ints(name string, def []int64) ([]int64, error) {
	a, ok, err := s.attr(name, AttrInts)
	if !ok || err != nil {
		return def, err
	}
	return a.Ints, nil
}

// Floats returns a float-list attribute or def when absent.
func (s *NodeSpec) Floats(name string, def []float32) ([]float32, error) {
	a, ok, err := s.attr(name, AttrFloats)
	if !ok || err != nil {
		return def, err
	}
	return a.Floats, nil
}

// TensorAttr returns a tensor attribute, or nil when absent.
func (s *NodeSpec) TensorAttr(name string) (*Const, error) {
	a, ok, err := s.attr(name, AttrTensor)
	if !ok || err != nil {
		return nil, err
	}
	return a.T, nil
}

// Ignore marks attributes that have no effect on inference (e.g. a
// BatchNormalization's momentum) as understood.
func (s *NodeSpec) Ignore(names ...string) {
	if s.used == nil {
		s.used = map[string]bool{}
	}
	for _, n := range names {
		s.used[n] = true
	}
}

// Input returns input position i; a position past the end is absent.
func (s *NodeSpec) Input(i int) Input {
	if i < len(s.Inputs) {
		return s.Inputs[i]
	}
	return Input{}
}

// ConstInput returns input i, which must be a constant (or absent when
// optional is set, giving nil).
func (s *NodeSpec) ConstInput(i int, what string, optional bool) (*Const, error) {
	in := s.Input(i)
	switch {
	case in.Const != nil:
		return in.Const, nil
	case in.Absent() && optional:
		return nil, nil
	case in.Absent():
		return nil, s.Errorf("missing input %d (%s)", i, what)
	}
	return nil, s.Errorf("input %d (%s): %w, but %q is computed from the model input", i, what, ErrNotConstant, in.Name)
}

// DataInputs returns the positions of the data (non-constant, present)
// inputs.
func (s *NodeSpec) DataInputs() []int {
	var idx []int
	for i, in := range s.Inputs {
		if in.Const == nil && in.Name != "" {
			idx = append(idx, i)
		}
	}
	return idx
}

// RequireData checks that exactly the given input positions are data inputs
// (and every other present input is constant).
func (s *NodeSpec) RequireData(positions ...int) error {
	got := s.DataInputs()
	if len(got) > len(positions) {
		return s.Errorf("expects %d data input(s), has %d: %w", len(positions), len(got), ErrNotConstant)
	}
	if len(got) < len(positions) {
		return s.Errorf("expects %d data input(s), has %d", len(positions), len(got))
	}
	for i := range got {
		if got[i] != positions[i] {
			return s.Errorf("input %d: %w", got[i], ErrNotConstant)
		}
	}
	return nil
}

// Unused returns the attributes no accessor read, sorted.
func (s *NodeSpec) Unused() []string {
	var out []string
	for name := range s.Attrs {
		if !s.used[name] {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Constructor builds the Op of a node from its spec.
type Constructor func(s *NodeSpec) (Op, error)

var registry = map[string]Constructor{}

// Register makes an operator type known to Build; each operator's package
// calls it from init.
func Register(opType string, c Constructor) { registry[opType] = c }

// Supported reports whether an operator type has a constructor.
func Supported(opType string) bool { _, ok := registry[opType]; return ok }

// Build constructs the Op for a node spec. It fails for unknown types, for
// invalid attributes and for attributes the operator does not understand.
func Build(s *NodeSpec) (Op, error) {
	c, ok := registry[s.Type]
	if !ok {
		return nil, s.Errorf("unsupported operator")
	}
	op, err := c(s)
	if err != nil {
		return nil, err
	}
	if u := s.Unused(); len(u) > 0 {
		return nil, s.Errorf("unsupported attribute(s) %s", strings.Join(u, ", "))
	}
	return op, nil
}
