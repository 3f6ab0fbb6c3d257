package ops

import (
	"errors"
	"fmt"
	"math"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
)

func init() {
	graph.Register("Softmax", func(s *graph.NodeSpec) (graph.Op, error) { return newSoftmax(s, false) })
	graph.Register("LogSoftmax", func(s *graph.NodeSpec) (graph.Op, error) { return newSoftmax(s, true) })
}

// ErrNoLinearForm is returned by Backward in Coef and AbsCoef modes for
// operators without a local linear form.
var ErrNoLinearForm = errors.New("softmax has no local linear form; the engine drops a trailing softmax")

// Softmax is Softmax or LogSoftmax. Before opset 13 the input is seen as a
// matrix [prod(dims before axis), prod(dims from axis)] (axis defaults to
// 1) and each row is normalised; from opset 13 only dim axis is (default
// -1). Backward supports Grad only (the true Jacobian); the group must not
// span the batch dim.
type Softmax struct {
	log  bool
	axis int64
	flat bool
}

func newSoftmax(s *graph.NodeSpec, log bool) (*Softmax, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, 1); err != nil {
		return nil, err
	}
	sm := &Softmax{log: log, flat: s.Opset < 13}
	def := int64(-1)
	if sm.flat {
		def = 1
	}
	var err error
	sm.axis, err = s.Int("axis", def)
	return sm, err
}

// Type implements graph.Op.
func (sm *Softmax) Type() string {
	if sm.log {
		return "LogSoftmax"
	}
	return "Softmax"
}

// groups returns the normalised axis and the layout of the groups: outer
// blocks of n×inner elements, each holding inner groups of n elements with
// stride inner.
func (sm *Softmax) groups(shape []int) (axis, outer, n, inner int, err error) {
	if axis, err = normAxis(sm.axis, len(shape)); err != nil {
		return
	}
	outer = graph.NumElements(shape[:axis])
	if sm.flat {
		return axis, outer, graph.NumElements(shape[axis:]), 1, nil
	}
	return axis, outer, shape[axis], graph.NumElements(shape[axis+1:]), nil
}

// Infer implements graph.Op.
func (sm *Softmax) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	if _, _, _, _, err := sm.groups(in[0]); err != nil {
		return nil, err
	}
	return [][]int{append([]int(nil), in[0]...)}, nil
}

// Forward implements graph.Op.
func (sm *Softmax) Forward(in, out []*graph.Tensor) error {
	x, y := in[0].Data, out[0].Data
	_, outer, n, inner, err := sm.groups(in[0].Shape)
	if err != nil {
		return err
	}
	par.For(outer*inner, max(1, parMinWork/max(n, 1)), func(lo, hi int) {
		for g := lo; g < hi; g++ {
			base := g/inner*n*inner + g%inner
			m := float32(math.Inf(-1))
			for k := range n {
				m = max(m, x[base+k*inner])
			}
			var sum float64
			for k := range n {
				sum += math.Exp(float64(x[base+k*inner] - m))
			}
			for k := range n {
				i := base + k*inner
				if sm.log {
					y[i] = float32(float64(x[i]-m) - math.Log(sum))
				} else {
					y[i] = float32(math.Exp(float64(x[i]-m)) / sum)
				}
			}
		}
	})
	return nil
}

// Backward implements graph.Backprop: for Softmax dx += y ⊙ (dy - Σ dy·y),
// for LogSoftmax dx += dy - softmax ⊙ Σ dy, sums over each group.
func (sm *Softmax) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if mode != graph.Grad {
		return ErrNoLinearForm
	}
	s, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	axis, outer, n, inner, err := sm.groups(y[0].Shape)
	if err != nil {
		return err
	}
	if axis == 0 {
		return fmt.Errorf("softmax over the batch dim")
	}
	per := y[0].Len() / y[0].Shape[0]
	groups := outer / y[0].Shape[0] * inner // per image
	yd, g, d := y[0].Data, dy[0].Data, dx[0].Data
	rowsFor(dy[0].Shape[0], groups, func(b, lo, hi int) {
		for q := lo; q < hi; q++ {
			base := q/inner*n*inner + q%inner
			yb, gb := b/s*per+base, b*per+base
			var dot float64
			for k := range n {
				if sm.log {
					dot += float64(g[gb+k*inner])
				} else {
					dot += float64(g[gb+k*inner]) * float64(yd[yb+k*inner])
				}
			}
			for k := range n {
				v, gk := yd[yb+k*inner], g[gb+k*inner]
				if sm.log {
					d[gb+k*inner] += gk - float32(math.Exp(float64(v))*dot)
				} else {
					d[gb+k*inner] += v * (gk - float32(dot))
				}
			}
		}
	})
	return nil
}

// Offset implements graph.Backprop.
func (sm *Softmax) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (sm *Softmax) Terms() graph.Terms { return graph.MultiTerm }
