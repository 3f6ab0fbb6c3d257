package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
)

func init() {
	graph.Register("Identity", func(s *graph.NodeSpec) (graph.Op, error) { return newView(s, 1, sameShape) })
	graph.Register("Dropout", newDropout)
	graph.Register("Cast", newCast)
	graph.Register("Flatten", newFlatten)
	graph.Register("Reshape", newReshape)
	graph.Register("Squeeze", newSqueeze)
	graph.Register("Unsqueeze", newUnsqueeze)
}

// View is an operator that keeps its input's elements in row-major order and
// only changes the shape: Identity, Dropout (inference), Cast between float
// types, Flatten, Reshape, Squeeze, Unsqueeze. Routing node. Backward needs
// the batch to stay the leading dim (the output's dim 0 equals the input's).
type View struct {
	typ   string
	shape func(in []int) ([]int, error)
}

func sameShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

// newView checks that input 0 is the only data input and that there are at
// most inputs inputs.
func newView(s *graph.NodeSpec, inputs int, shape func([]int) ([]int, error)) (*View, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, inputs); err != nil {
		return nil, err
	}
	return &View{typ: s.Type, shape: shape}, nil
}

// Type implements graph.Op.
func (v *View) Type() string { return v.typ }

// NonNegativeOutputs implements graph.NonNegativeOp: the input reshaped.
func (v *View) NonNegativeOutputs(in []bool) bool { return in[0] }

// Infer implements graph.Op.
func (v *View) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	out, err := v.shape(in[0])
	if err != nil {
		return nil, err
	}
	if _, err := graph.CheckedElements(out); err != nil {
		return nil, err
	}
	if graph.NumElements(out) != graph.NumElements(in[0]) {
		return nil, fmt.Errorf("cannot view shape %v as %v", in[0], out)
	}
	return [][]int{out}, nil
}

// Forward implements graph.Op.
func (v *View) Forward(in, out []*graph.Tensor) error {
	copy(out[0].Data, in[0].Data)
	return nil
}

// Backward implements graph.Backprop: dx += dy element by element, in every
// mode.
func (v *View) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	_, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	if y[0].Shape[0] != x[0].Shape[0] {
		return fmt.Errorf("the batch is not the leading dim of both %v and %v", x[0].Shape, y[0].Shape)
	}
	d, g := dx[0].Data, dy[0].Data
	par.For(len(d), parMinWork, func(lo, hi int) {
		for i, v := range g[lo:hi] {
			d[lo+i] += v
		}
	})
	return nil
}

// Offset implements graph.Backprop.
func (v *View) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (v *View) Terms() graph.Terms { return graph.Routing }

// newDropout reads Dropout in inference: ratio and seed have no effect; a
// constant training_mode must be false; the mask output is not supported.
func newDropout(s *graph.NodeSpec) (graph.Op, error) {
	if s.NumOutputs > 1 {
		return nil, s.Errorf("the mask output is not supported in inference")
	}
	s.Ignore("ratio", "seed")
	if tm, err := s.ConstInput(2, "training_mode", true); err != nil {
		return nil, err
	} else if tm != nil && (len(tm.V) != 1 || tm.V[0] != 0) {
		return nil, s.Errorf("training_mode is true: training is not supported (inference only)")
	}
	inputs := 1
	if s.Opset >= 12 {
		inputs = 3
	}
	return newView(s, inputs, sameShape)
}

// ONNX element types a float32 tensor can be cast to without change.
const (
	onnxFloat  = 1
	onnxDouble = 11
)

// newCast accepts casts to float and double (the values stay float32);
// other targets change the values and are not supported on data tensors.
func newCast(s *graph.NodeSpec) (graph.Op, error) {
	to, err := s.Int("to", 0)
	if err != nil {
		return nil, err
	}
	if to != onnxFloat && to != onnxDouble {
		return nil, s.Errorf("cast of a float tensor to ONNX type %d is not supported (only float and double)", to)
	}
	s.Ignore("saturate")
	return newView(s, 1, sameShape)
}

// newFlatten reads axis (default 1; negative from opset 11): the output is
// [prod(dims before axis), prod(dims from axis)].
func newFlatten(s *graph.NodeSpec) (graph.Op, error) {
	axis, err := s.Int("axis", 1)
	if err != nil {
		return nil, err
	}
	return newView(s, 1, func(in []int) ([]int, error) {
		a := axis
		if a < 0 {
			a += int64(len(in))
		}
		if a < 0 || a > int64(len(in)) {
			return nil, fmt.Errorf("axis %d is out of range for rank %d", axis, len(in))
		}
		return []int{graph.NumElements(in[:a]), graph.NumElements(in[a:])}, nil
	})
}

// newReshape reads the constant target shape: 0 copies the input's dim at
// that position (unless allowzero, opset 14), -1 is inferred.
func newReshape(s *graph.NodeSpec) (graph.Op, error) {
	c, err := s.ConstInput(1, "shape", false)
	if err != nil {
		return nil, err
	}
	if len(c.Shape) != 1 {
		return nil, s.Errorf("shape must be a vector, has shape %v", c.Shape)
	}
	allowZero, err := s.Int("allowzero", 0)
	if err != nil {
		return nil, err
	}
	target := constInts(c)
	infer := -1
	for i, d := range target {
		switch {
		case d == -1 && infer >= 0:
			return nil, s.Errorf("shape %v has more than one -1", target)
		case d == -1:
			infer = i
		case d < -1:
			return nil, s.Errorf("shape %v has a negative dim", target)
		case d == 0 && allowZero != 0 && slicesContain(target, -1):
			return nil, s.Errorf("shape %v has both 0 and -1 with allowzero", target)
		}
	}
	return newView(s, 2, func(in []int) ([]int, error) {
		out := make([]int, len(target))
		known := 1
		for i, d := range target {
			switch {
			case d == 0 && allowZero == 0:
				if i >= len(in) {
					return nil, fmt.Errorf("shape %v copies dim %d of the rank-%d input", target, i, len(in))
				}
				out[i] = in[i]
			case d == -1:
				continue
			case d > graph.MaxElements:
				return nil, fmt.Errorf("shape %v is too large", target)
			default:
				out[i] = int(d)
			}
			if _, err := graph.CheckedElements(out[:i+1]); err != nil {
				return nil, err
			}
			known *= out[i]
		}
		if infer >= 0 {
			total := graph.NumElements(in)
			if known == 0 || total%known != 0 {
				return nil, fmt.Errorf("cannot reshape %v to %v", in, target)
			}
			out[infer] = total / known
		}
		return out, nil
	})
}

func slicesContain(v []int64, x int64) bool {
	for _, e := range v {
		if e == x {
			return true
		}
	}
	return false
}

// axesOf reads the axes of Squeeze and Unsqueeze: an attribute before opset
// 13, an optional constant input from 13. It returns nil when absent.
func axesOf(s *graph.NodeSpec) ([]int64, error) {
	if s.Opset < 13 {
		return s.Ints("axes", nil)
	}
	c, err := s.ConstInput(1, "axes", true)
	if err != nil || c == nil {
		return nil, err
	}
	if len(c.Shape) > 1 {
		return nil, s.Errorf("axes must be a vector, has shape %v", c.Shape)
	}
	return constInts(c), nil
}

// axesInputs is the number of inputs of Squeeze and Unsqueeze.
func axesInputs(s *graph.NodeSpec) int {
	if s.Opset < 13 {
		return 1
	}
	return 2
}

// newSqueeze removes the given unit dims, or every unit dim when axes is
// absent or empty.
func newSqueeze(s *graph.NodeSpec) (graph.Op, error) {
	axes, err := axesOf(s)
	if err != nil {
		return nil, err
	}
	return newView(s, axesInputs(s), func(in []int) ([]int, error) {
		drop := make([]bool, len(in))
		if len(axes) == 0 {
			for d, n := range in {
				drop[d] = n == 1
			}
		} else {
			ax, err := normAxes(axes, len(in))
			if err != nil {
				return nil, err
			}
			for _, d := range ax {
				if in[d] != 1 {
					return nil, fmt.Errorf("cannot squeeze dim %d of shape %v", d, in)
				}
				drop[d] = true
			}
		}
		out := []int{}
		for d, n := range in {
			if !drop[d] {
				out = append(out, n)
			}
		}
		return out, nil
	})
}

// newUnsqueeze inserts unit dims at the given positions of the output.
func newUnsqueeze(s *graph.NodeSpec) (graph.Op, error) {
	axes, err := axesOf(s)
	if err != nil {
		return nil, err
	}
	if len(axes) == 0 {
		return nil, s.Errorf("axes are missing")
	}
	return newView(s, axesInputs(s), func(in []int) ([]int, error) {
		ax, err := normAxes(axes, len(in)+len(axes))
		if err != nil {
			return nil, err
		}
		out := make([]int, len(in)+len(axes))
		for _, d := range ax {
			out[d] = -1
		}
		k := 0
		for d := range out {
			if out[d] == -1 {
				out[d] = 1
			} else {
				out[d] = in[k]
				k++
			}
		}
		return out, nil
	})
}
