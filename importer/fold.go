package importer

import (
	"fmt"
	"math"

	"github.com/paneonnx/paneonnx/graph"
)

// evalNative evaluates the operators of shape computations whose integer
// semantics the float32 operators cannot reproduce (integer division,
// comparisons, ranges), on constants held in float64. ok is false for an
// operator it does not handle.
func evalNative(s *graph.NodeSpec, in []*graph.Const) (out []*graph.Const, ok bool, err error) {
	switch s.Type {
	case "Constant":
		c, err := constantValue(s)
		return []*graph.Const{c}, true, err
	case "Cast":
		to, err := s.Int("to", dtFloat)
		if err != nil {
			return nil, true, err
		}
		s.Ignore("saturate")
		if _, known := dtypeSize[int32(to)]; !known {
			return nil, true, s.Errorf("cannot cast to %s", dtypeName(int32(to)))
		}
		r := &graph.Const{Shape: in[0].Shape, V: make([]float64, len(in[0].V)), Int: isIntType(int32(to))}
		for i, v := range in[0].V {
			switch {
			case to == dtBool:
				r.V[i] = b2f(v != 0)
			case r.Int:
				r.V[i] = math.Trunc(v)
			case to == dtFloat:
				r.V[i] = float64(float32(v))
			default:
				r.V[i] = v
			}
		}
		return []*graph.Const{r}, true, nil
	case "ConstantOfShape":
		shape, _, err := tensorShape(in[0].Int64())
		if err != nil {
			return nil, true, s.Errorf("shape: %v", err)
		}
		val, err := s.TensorAttr("value")
		if err != nil {
			return nil, true, err
		}
		r := &graph.Const{Shape: shape, V: make([]float64, graph.NumElements(shape))}
		if val != nil && len(val.V) == 1 {
			r.Int = val.Int
			for i := range r.V {
				r.V[i] = val.V[0]
			}
		}
		return []*graph.Const{r}, true, nil
	case "Range":
		start, limit, delta := in[0].V[0], in[1].V[0], in[2].V[0]
		if delta == 0 {
			return nil, true, s.Errorf("delta is 0")
		}
		n := int(math.Max(math.Ceil((limit-start)/delta), 0))
		if n > graph.MaxElements {
			return nil, true, s.Errorf("range of %d elements", n)
		}
		r := &graph.Const{Shape: []int{n}, V: make([]float64, n), Int: in[0].Int}
		for i := range r.V {
			r.V[i] = start + float64(i)*delta
		}
		return []*graph.Const{r}, true, nil
	case "Add", "Sub", "Mul", "Div", "Equal", "Less", "Greater", "Max", "Min", "Pow", "Mod", "And", "Or":
		if len(in) != 2 {
			return nil, false, nil
		}
		r, err := broadcast2(s, in[0], in[1])
		return []*graph.Const{r}, true, err
	case "Where":
		if len(in) != 3 {
			return nil, true, s.Errorf("expects 3 inputs")
		}
		// Where(c, a, b) = c·a + (1−c)·b evaluated by broadcasting twice.
		ca, err := broadcastWith(in[0], in[1], func(c, a float64) float64 { return b2f(c != 0) * a })
		if err != nil {
			return nil, true, s.Errorf("%v", err)
		}
		cb, err := broadcastWith(in[0], in[2], func(c, b float64) float64 { return b2f(c == 0) * b })
		if err != nil {
			return nil, true, s.Errorf("%v", err)
		}
		r, err := broadcastWith(ca, cb, func(a, b float64) float64 { return a + b })
		if err != nil {
			return nil, true, s.Errorf("%v", err)
		}
		r.Int = in[1].Int
		return []*graph.Const{r}, true, nil
	case "Neg", "Abs", "Sqrt", "Floor", "Ceil", "Not", "Reciprocal":
		r := &graph.Const{Shape: in[0].Shape, V: make([]float64, len(in[0].V)), Int: in[0].Int}
		for i, v := range in[0].V {
			r.V[i] = unary(s.Type, v)
		}
		return []*graph.Const{r}, true, nil
	case "ReduceProd":
		if len(in) != 1 || len(in[0].Shape) != 1 {
			return nil, false, nil
		}
		keep, err := s.Int("keepdims", 1)
		if err != nil {
			return nil, true, err
		}
		s.Ignore("axes")
		p := 1.0
		for _, v := range in[0].V {
			p *= v
		}
		r := &graph.Const{V: []float64{p}, Int: in[0].Int}
		if keep != 0 {
			r.Shape = []int{1}
		}
		return []*graph.Const{r}, true, nil
	}
	return nil, false, nil
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func unary(op string, v float64) float64 {
	switch op {
	case "Neg":
		return -v
	case "Abs":
		return math.Abs(v)
	case "Sqrt":
		return math.Sqrt(v)
	case "Floor":
		return math.Floor(v)
	case "Ceil":
		return math.Ceil(v)
	case "Not":
		return b2f(v == 0)
	}
	return 1 / v // Reciprocal
}

func broadcast2(s *graph.NodeSpec, a, b *graph.Const) (*graph.Const, error) {
	isInt := a.Int && b.Int
	f := func(x, y float64) float64 {
		switch s.Type {
		case "Add":
			return x + y
		case "Sub":
			return x - y
		case "Mul":
			return x * y
		case "Div":
			if isInt {
				if y == 0 {
					return 0
				}
				return math.Trunc(x / y)
			}
			return x / y
		case "Equal":
			return b2f(x == y)
		case "Less":
			return b2f(x < y)
		case "Greater":
			return b2f(x > y)
		case "Max":
			return math.Max(x, y)
		case "Min":
			return math.Min(x, y)
		case "Pow":
			return math.Pow(x, y)
		case "Mod":
			return math.Mod(x, y)
		case "And":
			return b2f(x != 0 && y != 0)
		}
		return b2f(x != 0 || y != 0) // Or
	}
	r, err := broadcastWith(a, b, f)
	if err != nil {
		return nil, s.Errorf("%v", err)
	}
	switch s.Type {
	case "Equal", "Less", "Greater", "And", "Or":
		r.Int = true
	default:
		r.Int = isInt
	}
	return r, nil
}

// broadcastWith applies f element-wise under numpy broadcasting.
func broadcastWith(a, b *graph.Const, f func(x, y float64) float64) (*graph.Const, error) {
	rank := max(len(a.Shape), len(b.Shape))
	pad := func(s []int) []int {
		p := make([]int, rank)
		for i := range p {
			p[i] = 1
		}
		copy(p[rank-len(s):], s)
		return p
	}
	sa, sb := pad(a.Shape), pad(b.Shape)
	out := make([]int, rank)
	for i := range out {
		switch {
		case sa[i] == sb[i] || sb[i] == 1:
			out[i] = sa[i]
		case sa[i] == 1:
			out[i] = sb[i]
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast", a.Shape, b.Shape)
		}
	}
	n, err := graph.CheckedElements(out)
	if err != nil {
		return nil, err
	}
	r := &graph.Const{Shape: out, V: make([]float64, n)}
	stA, stB, stO := graph.Strides(sa), graph.Strides(sb), graph.Strides(out)
	for i := range r.V {
		ia, ib, rem := 0, 0, i
		for d := range rank {
			k := rem / stO[d]
			rem %= stO[d]
			if sa[d] != 1 {
				ia += k * stA[d]
			}
			if sb[d] != 1 {
				ib += k * stB[d]
			}
		}
		r.V[i] = f(a.V[ia], b.V[ib])
	}
	return r, nil
}

// constantValue reads the value of a Constant node from whichever attribute
// holds it.
func constantValue(s *graph.NodeSpec) (*graph.Const, error) {
	if t, err := s.TensorAttr("value"); err != nil || t != nil {
		return t, err
	}
	if f, err := s.Floats("value_floats", nil); err != nil || f != nil {
		c := &graph.Const{Shape: []int{len(f)}}
		for _, v := range f {
			c.V = append(c.V, float64(v))
		}
		return c, err
	}
	if is, err := s.Ints("value_ints", nil); err != nil || is != nil {
		c := &graph.Const{Shape: []int{len(is)}, Int: true}
		for _, v := range is {
			c.V = append(c.V, float64(v))
		}
		return c, err
	}
	if _, ok := s.Attrs["value_float"]; ok {
		f, err := s.Float("value_float", 0)
		return &graph.Const{V: []float64{float64(f)}}, err
	}
	if _, ok := s.Attrs["value_int"]; ok {
		i, err := s.Int("value_int", 0)
		return &graph.Const{V: []float64{float64(i)}, Int: true}, err
	}
	return nil, s.Errorf("has no supported value attribute")
}
