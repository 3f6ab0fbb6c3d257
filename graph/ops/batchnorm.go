package ops

import (
	"fmt"
	"math"

	"github.com/paneonnx/paneonnx/graph"
)

func init() { graph.Register("BatchNormalization", newBatchNorm) }

// BatchNorm is inference-mode BatchNormalization with its running
// statistics folded into a per-channel affine map y = Scale_c·x + Shift_c
// (channel = dim 1), which is also its local linear form: a diagonal
// SingleTerm node with A = γ/√(var+ε) and c = β − A·mean.
type BatchNorm struct {
	Scale, Shift []float32
	absScale     []float32
}

func newBatchNorm(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	if err := maxInputs(s, 5); err != nil {
		return nil, err
	}
	if s.NumOutputs > 1 {
		return nil, s.Errorf("the training outputs (running or saved statistics) are not supported")
	}
	eps, err := s.Float("epsilon", 1e-5)
	if err != nil {
		return nil, err
	}
	s.Ignore("momentum")
	if spatial, err := s.Int("spatial", 1); err != nil {
		return nil, err
	} else if spatial != 1 {
		return nil, s.Errorf("spatial = %d (per-activation statistics) is not supported", spatial)
	}
	if training, err := s.Int("training_mode", 0); err != nil {
		return nil, err
	} else if training != 0 {
		return nil, s.Errorf("training_mode = %d: training is not supported (inference only)", training)
	}
	var p [4][]float64
	for i, what := range []string{"scale", "B", "input_mean", "input_var"} {
		c, err := s.ConstInput(1+i, what, false)
		if err != nil {
			return nil, err
		}
		if len(c.Shape) != 1 || (i > 0 && len(c.V) != len(p[0])) {
			return nil, s.Errorf("%s has shape %v; scale, B, mean and var must be vectors of one length", what, c.Shape)
		}
		p[i] = c.V
	}
	b := &BatchNorm{Scale: make([]float32, len(p[0])), Shift: make([]float32, len(p[0]))}
	for c := range p[0] {
		a := p[0][c] / math.Sqrt(p[3][c]+float64(eps))
		b.Scale[c] = float32(a)
		b.Shift[c] = float32(p[1][c] - a*p[2][c])
	}
	b.absScale = absOf(b.Scale)
	return b, nil
}

// ChannelAffine returns the per-channel scale and shift.
func (b *BatchNorm) ChannelAffine() (scale, shift []float32) { return b.Scale, b.Shift }

// Type implements graph.Op.
func (b *BatchNorm) Type() string { return "BatchNormalization" }

// Infer implements graph.Op.
func (b *BatchNorm) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	if len(in[0]) < 2 || in[0][1] != len(b.Scale) {
		return nil, fmt.Errorf("input of shape %v for %d channels", in[0], len(b.Scale))
	}
	return [][]int{append([]int(nil), in[0]...)}, nil
}

// Forward implements graph.Op.
func (b *BatchNorm) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	c, inner := len(b.Scale), graph.NumElements(x.Shape[2:])
	rowsFor(x.Shape[0]*c, inner, func(r, lo, hi int) {
		// One rounding (the float32 product is exact in float64): the
		// output then matches its linear form to half an ulp even when
		// the shift cancels most of a·x.
		a, sh := float64(b.Scale[r%c]), float64(b.Shift[r%c])
		xs, ys := x.Data[r*inner+lo:r*inner+hi], y.Data[r*inner+lo:r*inner+hi]
		for i, v := range xs {
			ys[i] = float32(a*float64(v) + sh)
		}
	})
	return nil
}

// Backward implements graph.Backprop: every mode multiplies by the scale
// (its absolute value for AbsCoef).
func (b *BatchNorm) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	_, ok, err := backwardSeeds(x[0], x[0], dy[0], dx[0])
	if !ok {
		return err
	}
	scale := b.Scale
	if mode == graph.AbsCoef {
		scale = b.absScale
	}
	c, inner := len(scale), graph.NumElements(x[0].Shape[2:])
	g, d := dy[0].Data, dx[0].Data
	rowsFor(dy[0].Shape[0]*c, inner, func(r, lo, hi int) {
		a := scale[r%c]
		gs, ds := g[r*inner+lo:r*inner+hi], d[r*inner+lo:r*inner+hi]
		for i, v := range gs {
			ds[i] += a * v
		}
	})
	return nil
}

// Offset implements graph.Backprop.
func (b *BatchNorm) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	for _, v := range b.Shift {
		if v != 0 {
			return []*graph.Tensor{channelConst(y[0].Shape, b.Shift)}
		}
	}
	return nil
}

// Terms implements graph.Backprop.
func (b *BatchNorm) Terms() graph.Terms { return graph.SingleTerm }
