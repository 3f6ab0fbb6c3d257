package ops

import (
	"fmt"
	"slices"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
	"github.com/paneonnx/paneonnx/kernels"
)

func init() {
	graph.Register("GlobalAveragePool", func(s *graph.NodeSpec) (graph.Op, error) { return newGlobalPool(s, false) })
	graph.Register("GlobalMaxPool", func(s *graph.NodeSpec) (graph.Op, error) { return newGlobalPool(s, true) })
}

// GlobalPool is GlobalAveragePool or GlobalMaxPool over all spatial dims of
// an [N, C, spatial...] input. Local linear forms: the average is MultiTerm
// with A = 1/(number of spatial elements); the maximum is SingleTerm with
// coefficient 1 on the first maximum in row-major order.
type GlobalPool struct {
	max bool
}

func newGlobalPool(s *graph.NodeSpec, isMax bool) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, 1); err != nil {
		return nil, err
	}
	return &GlobalPool{max: isMax}, nil
}

// Type implements graph.Op.
func (p *GlobalPool) Type() string {
	if p.max {
		return "GlobalMaxPool"
	}
	return "GlobalAveragePool"
}

// NonNegativeOutputs implements graph.NonNegativeOp: maxima and averages
// of non-negative values.
func (p *GlobalPool) NonNegativeOutputs(in []bool) bool { return in[0] }

// Infer implements graph.Op.
func (p *GlobalPool) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	if len(in[0]) < 3 {
		return nil, fmt.Errorf("input of shape %v has no spatial dims", in[0])
	}
	out := make([]int, len(in[0]))
	for d := range out {
		out[d] = 1
	}
	out[0], out[1] = in[0][0], in[0][1]
	return [][]int{out}, nil
}

// argmax returns the index of the first maximum of v.
func argmax(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// Forward implements graph.Op.
func (p *GlobalPool) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	hw := graph.NumElements(x.Shape[2:])
	par.For(y.Len(), max(1, parMinWork/max(hw, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			row := x.Data[r*hw : (r+1)*hw]
			if hw == 0 {
				continue
			}
			if p.max {
				y.Data[r] = row[argmax(row)]
				continue
			}
			var sum float64
			for _, v := range row {
				sum += float64(v)
			}
			y.Data[r] = float32(sum / float64(hw))
		}
	})
	return nil
}

// Backward implements graph.Backprop, the same in every mode.
func (p *GlobalPool) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	s, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	c, hw := x[0].Shape[1], graph.NumElements(x[0].Shape[2:])
	if hw == 0 {
		return nil
	}
	inv := 1 / float32(hw)
	par.For(dy[0].Len(), max(1, parMinWork/hw), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			g, d := dy[0].Data[r], dx[0].Data[r*hw:(r+1)*hw]
			if p.max {
				// Row r of dy belongs to channel r%c of image r/c/s.
				xr := (r/c/s*c + r%c) * hw
				d[argmax(x[0].Data[xr:xr+hw])] += g
				continue
			}
			g *= inv
			for i := range d {
				d[i] += g
			}
		}
	})
	return nil
}

// BackwardExc implements graph.ExcBackprop for the average of an input
// with no negative value (after a ReLU): every term x_i/n then has the
// output's sign (+, as the average is not negative), so Exc+ᵀv = 1[x>0]·v/n
// and Exc−ᵀv = 0, one pass instead of the generic two products with their
// sign and combination passes. A gate narrows the mask, read on its input.
func (p *GlobalPool) BackwardExc(positive bool, x, y, dy, dx []*graph.Tensor, nonNegative []bool, gate *graph.Gate) (bool, []uint32, error) {
	if p.max || !nonNegative[0] {
		return false, nil, nil
	}
	s, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return false, nil, err
	}
	hw := graph.NumElements(x[0].Shape[2:])
	top := make([]uint32, dx[0].Shape[0])
	if !positive || hw == 0 {
		clear(dx[0].Data)
		return true, top, nil
	}
	window, mask := graph.Window{}, x[0] // x > 0
	if gate != nil {
		window, mask = gate.Window, gate.Input
		window.Lo = max(window.Lo, 0)
	}
	c := x[0].Shape[1]
	rowTop := make([]uint32, dy[0].Len())
	inv := 1 / float32(hw)
	par.For(dy[0].Len(), max(1, parMinWork/hw), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			// Row r of dy belongs to channel r%c of image r/c/s.
			g, d := dy[0].Data[r]*inv, dx[0].Data[r*hw:(r+1)*hw]
			for i := range d {
				d[i] = g
			}
			kernels.Band(d, d, mask.Data[(r/c/s*c+r%c)*hw:][:hw], window.Lo, window.Hi, window.Upper, false)
			rowTop[r] = kernels.MaxAbsBits(d)
		}
	})
	for b := range top {
		top[b] = slices.Max(rowTop[b*c : (b+1)*c])
	}
	return true, top, nil
}

// Offset implements graph.Backprop.
func (p *GlobalPool) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (p *GlobalPool) Terms() graph.Terms {
	if p.max {
		return graph.SingleTerm
	}
	return graph.MultiTerm
}
