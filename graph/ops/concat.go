package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
)

func init() {
	graph.Register("Concat", newConcat)
	graph.Register("Split", newSplit)
}

// Concat joins its inputs along axis; inputs may be data tensors and
// constants in any order. Routing node: data elements are copied with
// coefficient 1, the constants' elements make up c. Backward needs an axis
// other than the batch's.
type Concat struct {
	axis  int64
	parts []*graph.Tensor // in input order; nil marks the next data input
	data  int
}

func newConcat(s *graph.NodeSpec) (graph.Op, error) {
	if _, ok := s.Attrs["axis"]; !ok {
		return nil, s.Errorf("attribute axis is missing")
	}
	axis, err := s.Int("axis", 0)
	if err != nil {
		return nil, err
	}
	c := &Concat{axis: axis}
	for i, in := range s.Inputs {
		switch {
		case in.Absent():
			return nil, s.Errorf("input %d is empty", i)
		case in.Const != nil:
			c.parts = append(c.parts, in.Const.Tensor())
		default:
			c.parts = append(c.parts, nil)
			c.data++
		}
	}
	if c.data == 0 {
		return nil, s.Errorf("has no data input")
	}
	return c, nil
}

// Type implements graph.Op.
func (c *Concat) Type() string { return "Concat" }

// NonNegativeOutputs implements graph.NonNegativeOp: data inputs and
// constant ones side by side.
func (c *Concat) NonNegativeOutputs(in []bool) bool {
	for _, nn := range in {
		if !nn {
			return false
		}
	}
	for _, k := range c.parts {
		if k != nil && graph.HasNegative(k.Data) {
			return false
		}
	}
	return true
}

// shapes returns the shapes of all parts, data shapes taken from in.
func (c *Concat) shapes(in [][]int) [][]int {
	out := make([][]int, len(c.parts))
	k := 0
	for i, p := range c.parts {
		if p == nil {
			out[i] = in[k]
			k++
		} else {
			out[i] = p.Shape
		}
	}
	return out
}

// Infer implements graph.Op.
func (c *Concat) Infer(in [][]int) ([][]int, error) {
	if len(in) != c.data {
		return nil, fmt.Errorf("expects %d data inputs, has %d", c.data, len(in))
	}
	shapes := c.shapes(in)
	rank := len(shapes[0])
	axis, err := normAxis(c.axis, rank)
	if err != nil {
		return nil, err
	}
	out := append([]int(nil), shapes[0]...)
	out[axis] = 0
	for _, sh := range shapes {
		if len(sh) != rank {
			return nil, fmt.Errorf("inputs of shapes %v have different ranks", shapes)
		}
		for d := range sh {
			if d != axis && sh[d] != out[d] {
				return nil, fmt.Errorf("inputs of shapes %v differ outside axis %d", shapes, axis)
			}
		}
		out[axis] += sh[axis]
	}
	return [][]int{out}, nil
}

// blocks describes a concatenation along axis of out: rows is the number of
// blocks before axis, inner the number of elements after it.
func blocks(out []int, axis int) (rows, inner int) {
	return graph.NumElements(out[:axis]), graph.NumElements(out[axis+1:])
}

// Forward implements graph.Op.
func (c *Concat) Forward(in, out []*graph.Tensor) error {
	y := out[0]
	axis, err := normAxis(c.axis, len(y.Shape))
	if err != nil {
		return err
	}
	rows, inner := blocks(y.Shape, axis)
	width := y.Shape[axis] * inner
	off, k := 0, 0
	for _, p := range c.parts {
		if p == nil {
			p = in[k]
			k++
		}
		w := p.Shape[axis] * inner
		for r := range rows {
			copy(y.Data[r*width+off:r*width+off+w], p.Data[r*w:(r+1)*w])
		}
		off += w
	}
	return nil
}

// Backward implements graph.Backprop: each data input receives its slice of
// dy, in every mode.
func (c *Concat) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if dy[0] == nil {
		return nil
	}
	s, err := seedsOf(y[0], dy[0])
	if err != nil {
		return err
	}
	axis, err := normAxis(c.axis, len(y[0].Shape))
	if err != nil {
		return err
	}
	if axis == 0 {
		return fmt.Errorf("concatenation along the batch dim")
	}
	rows, inner := blocks(dy[0].Shape, axis)
	width := dy[0].Shape[axis] * inner
	off, k := 0, 0
	for _, p := range c.parts {
		if p != nil {
			off += p.Shape[axis] * inner
			continue
		}
		w := x[k].Shape[axis] * inner
		if d := dx[k]; d != nil {
			if err := checkGrad(x[k], d, s); err != nil {
				return err
			}
			for r := range rows {
				dst, src := d.Data[r*w:(r+1)*w], dy[0].Data[r*width+off:r*width+off+w]
				for i, v := range src {
					dst[i] += v
				}
			}
		}
		off += w
		k++
	}
	return nil
}

// Offset implements graph.Backprop: the constants in place, zeros elsewhere.
func (c *Concat) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	nonzero := false
	for _, p := range c.parts {
		nonzero = nonzero || (p != nil && anyNonZero(p.Data))
	}
	if !nonzero {
		return nil
	}
	parts := make([]*graph.Tensor, 0, c.data)
	for _, t := range x {
		parts = append(parts, graph.New(t.Shape...))
	}
	out := graph.New(y[0].Shape...)
	if err := c.Forward(parts, []*graph.Tensor{out}); err != nil {
		return nil
	}
	return []*graph.Tensor{out}
}

// Terms implements graph.Backprop.
func (c *Concat) Terms() graph.Terms { return graph.Routing }

// Split cuts its input along axis into NumOutputs parts: sizes from the
// split attribute (before opset 13) or constant input (from 13), else equal
// parts (from opset 18 the last one may be smaller, num_outputs). Routing
// node; backward needs an axis other than the batch's.
type Split struct {
	axis  int64
	sizes []int64 // nil: equal parts
	n     int
	ceil  bool
}

func newSplit(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	inputs := 1
	if s.Opset >= 13 {
		inputs = 2
	}
	if err := maxInputs(s, inputs); err != nil {
		return nil, err
	}
	sp := &Split{n: s.NumOutputs, ceil: s.Opset >= 18}
	var err error
	if sp.axis, err = s.Int("axis", 0); err != nil {
		return nil, err
	}
	if s.Opset < 13 {
		sp.sizes, err = s.Ints("split", nil)
	} else {
		var c *graph.Const
		if c, err = s.ConstInput(1, "split", true); c != nil {
			sp.sizes = constInts(c)
		}
	}
	if err != nil {
		return nil, err
	}
	if s.Opset >= 18 {
		num, err := s.Int("num_outputs", 0)
		switch {
		case err != nil:
			return nil, err
		case num != 0 && sp.sizes != nil:
			return nil, s.Errorf("both split and num_outputs are given")
		case num != 0 && num != int64(sp.n):
			return nil, s.Errorf("num_outputs %d for %d outputs", num, sp.n)
		}
	}
	if sp.n < 1 {
		return nil, s.Errorf("has no outputs")
	}
	if sp.sizes != nil {
		if len(sp.sizes) != sp.n {
			return nil, s.Errorf("split %v for %d outputs", sp.sizes, sp.n)
		}
		for _, v := range sp.sizes {
			if v < 0 {
				return nil, s.Errorf("split %v has a negative size", sp.sizes)
			}
		}
	}
	return sp, nil
}

// Type implements graph.Op.
func (sp *Split) Type() string { return "Split" }

// sizesFor returns the normalised axis and the part sizes for an input.
func (sp *Split) sizesFor(in []int) (int, []int, error) {
	axis, err := normAxis(sp.axis, len(in))
	if err != nil {
		return 0, nil, err
	}
	dim := in[axis]
	sizes := make([]int, sp.n)
	switch {
	case sp.sizes != nil:
		sum := int64(0)
		for i, v := range sp.sizes {
			sum += v
			sizes[i] = int(v)
		}
		if sum != int64(dim) {
			return 0, nil, fmt.Errorf("split %v does not add up to dim %d of %v", sp.sizes, axis, in)
		}
	case dim%sp.n == 0:
		for i := range sizes {
			sizes[i] = dim / sp.n
		}
	case sp.ceil && (dim+sp.n-1)/sp.n*(sp.n-1) < dim:
		chunk := (dim + sp.n - 1) / sp.n
		for i := range sizes {
			sizes[i] = min(chunk, dim-i*chunk)
		}
	default:
		return 0, nil, fmt.Errorf("dim %d of %v does not split into %d parts", axis, in, sp.n)
	}
	return axis, sizes, nil
}

// Infer implements graph.Op.
func (sp *Split) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	axis, sizes, err := sp.sizesFor(in[0])
	if err != nil {
		return nil, err
	}
	out := make([][]int, sp.n)
	for i, n := range sizes {
		out[i] = append([]int(nil), in[0]...)
		out[i][axis] = n
	}
	return out, nil
}

// Forward implements graph.Op.
func (sp *Split) Forward(in, out []*graph.Tensor) error {
	x := in[0]
	axis, sizes, err := sp.sizesFor(x.Shape)
	if err != nil {
		return err
	}
	rows, inner := blocks(x.Shape, axis)
	width := x.Shape[axis] * inner
	off := 0
	for i, n := range sizes {
		w := n * inner
		for r := range rows {
			copy(out[i].Data[r*w:(r+1)*w], x.Data[r*width+off:r*width+off+w])
		}
		off += w
	}
	return nil
}

// Backward implements graph.Backprop: the parts of dy are added back in
// place, in every mode.
func (sp *Split) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if dx[0] == nil {
		return nil
	}
	axis, sizes, err := sp.sizesFor(x[0].Shape)
	if err != nil {
		return err
	}
	if axis == 0 {
		return fmt.Errorf("split along the batch dim")
	}
	s := dx[0].Shape[0] / max(x[0].Shape[0], 1)
	if err := checkGrad(x[0], dx[0], s); err != nil {
		return err
	}
	rows, inner := blocks(dx[0].Shape, axis)
	width := x[0].Shape[axis] * inner
	off := 0
	for i, n := range sizes {
		w := n * inner
		if dy[i] != nil {
			if !graph.SameShape(dy[i].Shape, withSeeds(y[i].Shape, s)) {
				return fmt.Errorf("backward tensor of shape %v for output %v with %d seeds", dy[i].Shape, y[i].Shape, s)
			}
			for r := range rows {
				dst, src := dx[0].Data[r*width+off:r*width+off+w], dy[i].Data[r*w:(r+1)*w]
				for j, v := range src {
					dst[j] += v
				}
			}
		}
		off += w
	}
	return nil
}

// Offset implements graph.Backprop.
func (sp *Split) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (sp *Split) Terms() graph.Terms { return graph.Routing }
