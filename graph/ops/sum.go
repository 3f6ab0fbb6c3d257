package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
)

func init() {
	graph.Register("Sum", func(s *graph.NodeSpec) (graph.Op, error) { return newSum(s, false) })
	graph.Register("Mean", func(s *graph.NodeSpec) (graph.Op, error) { return newSum(s, true) })
}

// Sum is Sum or Mean of any number of inputs with numpy broadcasting, the
// constant ones folded into k. Local linear form: A = s for every data
// input, with s = 1 (Sum) or 1/n (Mean of n inputs), and c = s·k; MultiTerm
// with several data inputs, SingleTerm with one.
type Sum struct {
	typ   string
	scale float32
	data  int
	k     *graph.Tensor // sum of the constant inputs, nil when none
}

func newSum(s *graph.NodeSpec, mean bool) (*Sum, error) {
	op := &Sum{typ: s.Type, scale: 1, data: len(s.DataInputs())}
	if op.data == 0 {
		return nil, s.Errorf("has no data input")
	}
	var consts []*graph.Const
	for i, in := range s.Inputs {
		switch {
		case in.Absent():
			return nil, s.Errorf("input %d is empty", i)
		case in.Const != nil:
			consts = append(consts, in.Const)
		}
	}
	if mean {
		op.scale = 1 / float32(len(s.Inputs))
	}
	if len(consts) > 0 {
		shapes := make([][]int, len(consts))
		for i, c := range consts {
			shapes[i] = c.Shape
		}
		shape, err := bcastShape(shapes...)
		if err != nil {
			return nil, s.Errorf("constant inputs: %v", err)
		}
		if _, err := graph.CheckedElements(shape); err != nil {
			return nil, s.Errorf("constant inputs: %v", err)
		}
		// Sum the constants in float64, in input order.
		acc := make([]float64, graph.NumElements(shape))
		for _, c := range consts {
			l := newNDLoop(shape, rowMajor(shape), bcastStrides(c.Shape, shape))
			l.run([]int{0, 0}, false, func(off []int, n int, inc []int) {
				for range n {
					acc[off[0]] += c.V[off[1]]
					off[0], off[1] = off[0]+inc[0], off[1]+inc[1]
				}
			})
		}
		op.k = graph.New(shape...)
		for i, v := range acc {
			op.k.Data[i] = float32(v)
		}
	}
	return op, nil
}

// Type implements graph.Op.
func (s *Sum) Type() string { return s.typ }

// Infer implements graph.Op.
func (s *Sum) Infer(in [][]int) ([][]int, error) {
	if len(in) != s.data {
		return nil, fmt.Errorf("expects %d data inputs, has %d", s.data, len(in))
	}
	shapes := append([][]int(nil), in...)
	if s.k != nil {
		shapes = append(shapes, s.k.Shape)
	}
	out, err := bcastShape(shapes...)
	if err != nil {
		return nil, err
	}
	return [][]int{out}, nil
}

// Forward implements graph.Op.
func (s *Sum) Forward(in, out []*graph.Tensor) error {
	y := out[0]
	clear(y.Data)
	terms := in
	if s.k != nil {
		terms = append(terms[:len(terms):len(terms)], s.k)
	}
	for _, x := range terms {
		l := newNDLoop(y.Shape, rowMajor(y.Shape), bcastStrides(x.Shape, y.Shape))
		ewLoop(l, []int{0, 0}, true, accScale, 1, y.Data, x.Data)
	}
	if s.scale != 1 {
		for i := range y.Data {
			y.Data[i] *= s.scale
		}
	}
	return nil
}

// Backward implements graph.Backprop: every mode gives each data input the
// coefficient s, summed over its broadcast dimensions.
func (s *Sum) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if dy[0] == nil {
		return nil
	}
	n, err := seedsOf(y[0], dy[0])
	if err != nil {
		return err
	}
	for i := range x {
		if dx[i] == nil {
			continue
		}
		if err := checkGrad(x[i], dx[i], n); err != nil {
			return err
		}
		l, err := seedLoop(y[0].Shape, n, [][]int{x[i].Shape, y[0].Shape}, []role{seeded, seeded})
		if err != nil {
			return err
		}
		ewLoop(l, []int{0, 0}, true, accScale, s.scale, dx[i].Data, dy[0].Data)
	}
	return nil
}

// Offset implements graph.Backprop.
func (s *Sum) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	if s.k == nil || !anyNonZero(s.k.Data) {
		return nil
	}
	c := graph.New(y[0].Shape...)
	l := newNDLoop(c.Shape, rowMajor(c.Shape), bcastStrides(s.k.Shape, c.Shape))
	ewLoop(l, []int{0, 0}, false, ewScale, s.scale, c.Data, s.k.Data)
	return []*graph.Tensor{c}
}

// Terms implements graph.Backprop.
func (s *Sum) Terms() graph.Terms {
	if s.data > 1 {
		return graph.MultiTerm
	}
	return graph.SingleTerm
}
