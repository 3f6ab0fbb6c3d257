package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
)

func init() { graph.Register("Transpose", newTranspose) }

// Transpose permutes dims: output dim i is input dim perm[i] (perm defaults
// to reversing the dims). Routing node; backward needs perm[0] = 0.
type Transpose struct {
	perm []int64 // nil: reverse
}

func newTranspose(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, 1); err != nil {
		return nil, err
	}
	perm, err := s.Ints("perm", nil)
	if err != nil {
		return nil, err
	}
	if perm != nil {
		if _, err := normAxes(perm, len(perm)); err != nil || slicesContain(perm, -1) {
			return nil, s.Errorf("perm %v is not a permutation", perm)
		}
	}
	return &Transpose{perm: perm}, nil
}

// Type implements graph.Op.
func (t *Transpose) Type() string { return "Transpose" }

// permFor returns the permutation for a rank.
func (t *Transpose) permFor(rank int) ([]int, error) {
	p := make([]int, rank)
	if t.perm == nil {
		for i := range p {
			p[i] = rank - 1 - i
		}
		return p, nil
	}
	if len(t.perm) != rank {
		return nil, fmt.Errorf("perm %v for an input of rank %d", t.perm, rank)
	}
	for i, v := range t.perm {
		p[i] = int(v)
	}
	return p, nil
}

// Infer implements graph.Op.
func (t *Transpose) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	p, err := t.permFor(len(in[0]))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(p))
	for i, d := range p {
		out[i] = in[0][d]
	}
	return [][]int{out}, nil
}

// permuted returns the input's strides in output dim order.
func permuted(in []int, p []int) []int {
	st := graph.Strides(in)
	out := make([]int, len(p))
	for i, d := range p {
		out[i] = st[d]
	}
	return out
}

// Forward implements graph.Op.
func (t *Transpose) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	p, err := t.permFor(len(x.Shape))
	if err != nil {
		return err
	}
	l := newNDLoop(y.Shape, graph.Strides(y.Shape), permuted(x.Shape, p))
	ewLoop(l, []int{0, 0}, true, ewCopy, 0, y.Data, x.Data)
	return nil
}

// Backward implements graph.Backprop: dx += the inverse permutation of dy,
// in every mode.
func (t *Transpose) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	_, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	p, err := t.permFor(len(x[0].Shape))
	if err != nil {
		return err
	}
	if p[0] != 0 {
		return fmt.Errorf("perm %v moves the batch dim", p)
	}
	l := newNDLoop(dy[0].Shape, permuted(dx[0].Shape, p), graph.Strides(dy[0].Shape))
	ewLoop(l, []int{0, 0}, true, accScale, 1, dx[0].Data, dy[0].Data)
	return nil
}

// Offset implements graph.Backprop.
func (t *Transpose) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (t *Transpose) Terms() graph.Terms { return graph.Routing }
