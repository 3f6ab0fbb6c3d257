package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
)

func init() {
	graph.Register("Gather", newGather)
	graph.Register("Expand", newExpand)
}

// Gather picks, along axis, the slices a constant index tensor names
// (negative indices count from the end). Routing node; backward adds dy
// back at the picked positions and needs an axis other than the batch's.
type Gather struct {
	axis     int64
	idx      []int64
	idxShape []int
}

func newGather(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, 2); err != nil {
		return nil, err
	}
	axis, err := s.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	c, err := s.ConstInput(1, "indices", false)
	if err != nil {
		return nil, err
	}
	return &Gather{axis: axis, idx: constInts(c), idxShape: c.Shape}, nil
}

// Type implements graph.Op.
func (g *Gather) Type() string { return "Gather" }

// resolve returns the axis and the indices made non-negative for an input.
func (g *Gather) resolve(in []int) (int, []int, error) {
	axis, err := normAxis(g.axis, len(in))
	if err != nil {
		return 0, nil, err
	}
	dim := int64(in[axis])
	idx := make([]int, len(g.idx))
	for i, v := range g.idx {
		if v < 0 {
			v += dim
		}
		if v < 0 || v >= dim {
			return 0, nil, fmt.Errorf("index %d is out of range for dim %d of %v", g.idx[i], axis, in)
		}
		idx[i] = int(v)
	}
	return axis, idx, nil
}

// Infer implements graph.Op.
func (g *Gather) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	axis, _, err := g.resolve(in[0])
	if err != nil {
		return nil, err
	}
	out := append(append(append([]int{}, in[0][:axis]...), g.idxShape...), in[0][axis+1:]...)
	return [][]int{out}, nil
}

// gatherRows runs fn(dst, src) over every copied block: dst indexes the
// output, src the input, each block inner elements long.
func gatherRows(in []int, axis int, idx []int, fn func(dst, src, inner int)) {
	rows, inner := blocks(in, axis)
	for r := range rows {
		for k, i := range idx {
			fn((r*len(idx)+k)*inner, (r*in[axis]+i)*inner, inner)
		}
	}
}

// Forward implements graph.Op.
func (g *Gather) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	axis, idx, err := g.resolve(x.Shape)
	if err != nil {
		return err
	}
	gatherRows(x.Shape, axis, idx, func(dst, src, n int) {
		copy(y.Data[dst:dst+n], x.Data[src:src+n])
	})
	return nil
}

// Backward implements graph.Backprop.
func (g *Gather) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	_, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	axis, idx, err := g.resolve(x[0].Shape)
	if err != nil {
		return err
	}
	if axis == 0 {
		return fmt.Errorf("gather along the batch dim")
	}
	d, gy := dx[0].Data, dy[0].Data
	gatherRows(dx[0].Shape, axis, idx, func(dst, src, n int) {
		for i, v := range gy[dst : dst+n] {
			d[src+i] += v
		}
	})
	return nil
}

// Offset implements graph.Backprop.
func (g *Gather) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (g *Gather) Terms() graph.Terms { return graph.Routing }

// Expand broadcasts its input to a constant shape (numpy rules in both
// directions: a 1 in the shape keeps the input's dim). Routing node;
// backward sums dy over the broadcast dims and needs the batch unchanged.
type Expand struct {
	shape []int
}

func newExpand(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, 2); err != nil {
		return nil, err
	}
	c, err := s.ConstInput(1, "shape", false)
	if err != nil {
		return nil, err
	}
	if len(c.Shape) != 1 {
		return nil, s.Errorf("shape must be a vector, has shape %v", c.Shape)
	}
	e := &Expand{shape: make([]int, len(c.V))}
	for i, v := range constInts(c) {
		if v < 0 || v > graph.MaxElements {
			return nil, s.Errorf("shape %v has an invalid dim", c.V)
		}
		e.shape[i] = int(v)
	}
	return e, nil
}

// Type implements graph.Op.
func (e *Expand) Type() string { return "Expand" }

// Infer implements graph.Op.
func (e *Expand) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	out, err := bcastShape(in[0], e.shape)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Forward implements graph.Op.
func (e *Expand) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	l := newNDLoop(y.Shape, rowMajor(y.Shape), bcastStrides(x.Shape, y.Shape))
	ewLoop(l, []int{0, 0}, true, ewCopy, 0, y.Data, x.Data)
	return nil
}

// Backward implements graph.Backprop.
func (e *Expand) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	s, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	l, err := seedLoop(y[0].Shape, s, [][]int{x[0].Shape, y[0].Shape}, []role{seeded, seeded})
	if err != nil {
		return err
	}
	ewLoop(l, []int{0, 0}, true, accScale, 1, dx[0].Data, dy[0].Data)
	return nil
}

// Offset implements graph.Backprop.
func (e *Expand) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (e *Expand) Terms() graph.Terms { return graph.Routing }
