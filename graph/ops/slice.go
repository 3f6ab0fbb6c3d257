package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
)

func init() { graph.Register("Slice", newSlice) }

// Slice takes a strided slice: starts, ends, axes and steps are attributes
// in opset 9 (no steps) and constant inputs from opset 10. Out-of-range
// starts and ends are clamped as the ONNX specification says (INT64_MAX
// means "to the end"). Routing node; backward needs the batch dim whole.
type Slice struct {
	starts, ends, axes, steps []int64
}

func newSlice(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	sl := &Slice{}
	if s.Opset < 10 {
		if err := maxInputs(s, 1); err != nil {
			return nil, err
		}
		var err error
		if sl.starts, err = s.Ints("starts", nil); err != nil {
			return nil, err
		}
		if sl.ends, err = s.Ints("ends", nil); err != nil {
			return nil, err
		}
		if sl.axes, err = s.Ints("axes", nil); err != nil {
			return nil, err
		}
	} else {
		if err := maxInputs(s, 5); err != nil {
			return nil, err
		}
		for i, dst := range []*[]int64{&sl.starts, &sl.ends, &sl.axes, &sl.steps} {
			c, err := s.ConstInput(1+i, []string{"starts", "ends", "axes", "steps"}[i], i >= 2)
			if err != nil {
				return nil, err
			}
			if c != nil {
				if len(c.Shape) != 1 {
					return nil, s.Errorf("input %d must be a vector, has shape %v", 1+i, c.Shape)
				}
				*dst = constInts(c)
			}
		}
	}
	n := len(sl.starts)
	if sl.starts == nil || sl.ends == nil || len(sl.ends) != n || (sl.axes != nil && len(sl.axes) != n) || (sl.steps != nil && len(sl.steps) != n) {
		return nil, s.Errorf("starts %v, ends %v, axes %v and steps %v must have one length", sl.starts, sl.ends, sl.axes, sl.steps)
	}
	for _, st := range sl.steps {
		if st == 0 {
			return nil, s.Errorf("steps %v has a 0", sl.steps)
		}
	}
	return sl, nil
}

// Type implements graph.Op.
func (sl *Slice) Type() string { return "Slice" }

// slicePlan is a slice applied to one input shape: per dim, the first index,
// the step and the output size.
type slicePlan struct {
	start, step, count []int
}

// plan resolves the slice for an input shape.
func (sl *Slice) plan(in []int) (slicePlan, error) {
	r := len(in)
	p := slicePlan{start: make([]int, r), step: make([]int, r), count: append([]int(nil), in...)}
	for d := range p.step {
		p.step[d] = 1
	}
	axes := sl.axes
	if axes == nil {
		axes = make([]int64, len(sl.starts))
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	ax, err := normAxes(axes, r)
	if err != nil {
		return p, err
	}
	for i, d := range ax {
		dim := int64(in[d])
		start, end, step := sl.starts[i], sl.ends[i], int64(1)
		if sl.steps != nil {
			step = sl.steps[i]
		}
		if start < 0 {
			start += dim
		}
		if end < 0 {
			end += dim
		}
		var count int64
		if step > 0 {
			start, end = min(max(start, 0), dim), min(max(end, 0), dim)
			count = (end - start + step - 1) / step
		} else {
			start, end = min(max(start, 0), dim-1), min(max(end, -1), dim-1)
			count = (start - end - step - 1) / -step
		}
		if count <= 0 {
			start, count = 0, 0
		}
		p.start[d], p.step[d], p.count[d] = int(start), int(step), int(count)
	}
	return p, nil
}

// strides returns the input strides scaled by the steps and the offset of
// the first element, for an input of shape in.
func (p slicePlan) strides(in []int) (st []int, base int) {
	st = graph.Strides(in)
	for d := range st {
		base += p.start[d] * st[d]
		st[d] *= p.step[d]
	}
	return st, base
}

// Infer implements graph.Op.
func (sl *Slice) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	p, err := sl.plan(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{p.count}, nil
}

// Forward implements graph.Op.
func (sl *Slice) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	p, err := sl.plan(x.Shape)
	if err != nil {
		return err
	}
	st, base := p.strides(x.Shape)
	l := newNDLoop(y.Shape, graph.Strides(y.Shape), st)
	ewLoop(l, []int{0, base}, true, ewCopy, 0, y.Data, x.Data)
	return nil
}

// Backward implements graph.Backprop: dy is added at the sliced positions,
// in every mode.
func (sl *Slice) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	_, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	p, err := sl.plan(x[0].Shape)
	if err != nil {
		return err
	}
	if p.start[0] != 0 || p.step[0] != 1 || p.count[0] != x[0].Shape[0] {
		return fmt.Errorf("slice of the batch dim")
	}
	st, base := p.strides(dx[0].Shape)
	l := newNDLoop(dy[0].Shape, st, graph.Strides(dy[0].Shape))
	ewLoop(l, []int{base, 0}, true, accScale, 1, dx[0].Data, dy[0].Data)
	return nil
}

// Offset implements graph.Backprop.
func (sl *Slice) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (sl *Slice) Terms() graph.Terms { return graph.Routing }
