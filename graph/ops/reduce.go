package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
)

func init() {
	graph.Register("ReduceSum", func(s *graph.NodeSpec) (graph.Op, error) { return newReduce(s, false, 13) })
	graph.Register("ReduceMean", func(s *graph.NodeSpec) (graph.Op, error) { return newReduce(s, true, 18) })
}

// Reduce is ReduceSum or ReduceMean (e.g. spatial pooling). axes is an
// attribute before the opset in which it became an input (13 for
// ReduceSum, 18 for ReduceMean); no axes means all dims, or none with
// noop_with_empty_axes. Local linear form: MultiTerm with A = 1 (sum) or
// 1/count (mean), c = 0. Backward needs the batch dim kept.
type Reduce struct {
	typ  string
	mean bool
	axes []int64
	keep bool
	noop bool
}

func newReduce(s *graph.NodeSpec, mean bool, inputSince int) (*Reduce, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	r := &Reduce{typ: s.Type, mean: mean}
	keep, err := s.Int("keepdims", 1)
	if err != nil {
		return nil, err
	}
	r.keep = keep != 0
	if s.Opset < inputSince {
		if err := maxInputs(s, 1); err != nil {
			return nil, err
		}
		r.axes, err = s.Ints("axes", nil)
		return r, err
	}
	if err := maxInputs(s, 2); err != nil {
		return nil, err
	}
	noop, err := s.Int("noop_with_empty_axes", 0)
	if err != nil {
		return nil, err
	}
	r.noop = noop != 0
	c, err := s.ConstInput(1, "axes", true)
	if err != nil {
		return nil, err
	}
	if c != nil {
		if len(c.Shape) != 1 {
			return nil, s.Errorf("axes must be a vector, has shape %v", c.Shape)
		}
		r.axes = constInts(c)
	}
	return r, nil
}

// Type implements graph.Op.
func (r *Reduce) Type() string { return r.typ }

// reduced returns, for an input shape, which dims are reduced, the shape
// with reduced dims kept as 1, and the number of elements per output.
func (r *Reduce) reduced(in []int) (mask []bool, kept []int, count int, err error) {
	mask = make([]bool, len(in))
	if len(r.axes) == 0 {
		for d := range mask {
			mask[d] = !r.noop
		}
	} else {
		ax, err := normAxes(r.axes, len(in))
		if err != nil {
			return nil, nil, 0, err
		}
		for _, d := range ax {
			mask[d] = true
		}
	}
	kept, count = append([]int(nil), in...), 1
	for d, m := range mask {
		if m {
			count *= in[d]
			kept[d] = 1
		}
	}
	return mask, kept, count, nil
}

// Infer implements graph.Op.
func (r *Reduce) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	mask, kept, _, err := r.reduced(in[0])
	if err != nil {
		return nil, err
	}
	if r.keep {
		return [][]int{kept}, nil
	}
	out := []int{}
	for d, n := range in[0] {
		if !mask[d] {
			out = append(out, n)
		}
	}
	return [][]int{out}, nil
}

// scale is the coefficient of every input in an output.
func (r *Reduce) scale(count int) float32 {
	if r.mean {
		return 1 / float32(count)
	}
	return 1
}

// Forward implements graph.Op. Sums are accumulated in float64.
func (r *Reduce) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	_, kept, count, err := r.reduced(x.Shape)
	if err != nil {
		return err
	}
	acc := make([]float64, y.Len())
	l := newNDLoop(x.Shape, rowMajor(kept), graph.Strides(x.Shape))
	l.run([]int{0, 0}, true, func(off []int, n int, inc []int) {
		o, i := off[0], off[1]
		for range n {
			acc[o] += float64(x.Data[i])
			o, i = o+inc[0], i+inc[1]
		}
	})
	s := 1.0
	if r.mean {
		s = 1 / float64(count)
	}
	for i, v := range acc {
		y.Data[i] = float32(v * s)
	}
	return nil
}

// Backward implements graph.Backprop: every mode spreads dy·scale over the
// reduced elements.
func (r *Reduce) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	s, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	mask, kept, count, err := r.reduced(x[0].Shape)
	if err != nil {
		return err
	}
	if mask[0] {
		return fmt.Errorf("reduction over the batch dim")
	}
	l, err := seedLoop(x[0].Shape, s, [][]int{x[0].Shape, kept}, []role{seeded, seeded})
	if err != nil {
		return err
	}
	ewLoop(l, []int{0, 0}, true, accScale, r.scale(count), dx[0].Data, dy[0].Data)
	return nil
}

// Offset implements graph.Backprop.
func (r *Reduce) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (r *Reduce) Terms() graph.Terms { return graph.MultiTerm }
