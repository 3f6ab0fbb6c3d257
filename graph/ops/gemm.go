package ops

import (
	"fmt"
	"sync"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/kernels"
)

func init() {
	graph.Register("Gemm", newGemm)
	graph.Register("MatMul", newMatMul)
}

// Gemm is Y = alpha·A·op(B) + beta·C with data A ([rows, K], optionally
// transposed in the forward pass only), constant B and optional constant C.
// MatMul with a constant right operand is the same operator with alpha = 1
// over the flattened leading dims of A. Local linear form: A = alpha·op(B)ᵀ
// per row, c = beta·C (MultiTerm).
type Gemm struct {
	// B is op(B) materialised as [K, N].
	B      *graph.Tensor
	C      []float32 // broadcast to [rows, N]; nil when absent
	cShape []int
	Alpha  float32
	TransA bool
	matmul bool

	absOnce sync.Once
	absB    []float32

	pointwise pointwiseWeights
}

func newGemm(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	alpha, err := s.Float("alpha", 1)
	if err != nil {
		return nil, err
	}
	beta, err := s.Float("beta", 1)
	if err != nil {
		return nil, err
	}
	ta, err := s.Int("transA", 0)
	if err != nil {
		return nil, err
	}
	tb, err := s.Int("transB", 0)
	if err != nil {
		return nil, err
	}
	s.Ignore("broadcast") // opset < 7 only
	bc, err := s.ConstInput(1, "B", false)
	if err != nil {
		return nil, err
	}
	if len(bc.Shape) != 2 {
		return nil, s.Errorf("B has shape %v, expected a matrix", bc.Shape)
	}
	g := &Gemm{B: bc.Tensor(), Alpha: alpha, TransA: ta != 0}
	if tb != 0 {
		g.B = transpose2(g.B)
	}
	cc, err := s.ConstInput(2, "C", true)
	if err != nil {
		return nil, err
	}
	if cc != nil && beta != 0 {
		n := g.B.Shape[1]
		if len(cc.Shape) > 2 || (len(cc.Shape) >= 1 && cc.Shape[len(cc.Shape)-1] != 1 && cc.Shape[len(cc.Shape)-1] != n) {
			return nil, s.Errorf("C of shape %v does not broadcast to [*, %d]", cc.Shape, n)
		}
		g.C = cc.Float32()
		for i := range g.C {
			g.C[i] *= beta
		}
		g.cShape = cc.Shape
	}
	return g, nil
}

func newMatMul(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, s.Errorf("only a constant right operand is supported: %w", err)
	}
	bc, err := s.ConstInput(1, "B", false)
	if err != nil {
		return nil, err
	}
	if len(bc.Shape) != 2 {
		return nil, s.Errorf("constant operand of shape %v: batched matrix products are not supported (a matrix is)", bc.Shape)
	}
	return &Gemm{B: bc.Tensor(), Alpha: 1, matmul: true}, nil
}

func transpose2(t *graph.Tensor) *graph.Tensor {
	r, c := t.Shape[0], t.Shape[1]
	out := graph.New(c, r)
	for i := range r {
		for j := range c {
			out.Data[j*r+i] = t.Data[i*c+j]
		}
	}
	return out
}

// Type implements graph.Op.
func (g *Gemm) Type() string {
	if g.matmul {
		return "MatMul"
	}
	return "Gemm"
}

// dims returns rows and K of the data operand.
func (g *Gemm) dims(in []int) (rows, k int, err error) {
	switch {
	case g.matmul && len(in) >= 1:
		k = in[len(in)-1]
		rows = graph.NumElements(in[:len(in)-1])
	case !g.matmul && len(in) == 2:
		rows, k = in[0], in[1]
		if g.TransA {
			rows, k = k, rows
		}
	default:
		return 0, 0, fmt.Errorf("input of shape %v is not a matrix", in)
	}
	if k != g.B.Shape[0] {
		return 0, 0, fmt.Errorf("input of shape %v has inner dimension %d, the weight %v expects %d", in, k, g.B.Shape, g.B.Shape[0])
	}
	return rows, k, nil
}

// Infer implements graph.Op.
func (g *Gemm) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	rows, _, err := g.dims(in[0])
	if err != nil {
		return nil, err
	}
	n := g.B.Shape[1]
	if g.C != nil && len(g.cShape) == 2 && g.cShape[0] != 1 && g.cShape[0] != rows {
		return nil, fmt.Errorf("bias C of shape %v does not broadcast to [%d, %d]", g.cShape, rows, n)
	}
	if g.matmul {
		return [][]int{append(append([]int(nil), in[0][:len(in[0])-1]...), n)}, nil
	}
	return [][]int{{rows, n}}, nil
}

// Forward implements graph.Op.
func (g *Gemm) Forward(in, out []*graph.Tensor) error {
	rows, k, err := g.dims(in[0].Shape)
	if err != nil {
		return err
	}
	n := g.B.Shape[1]
	y := out[0].Data
	var beta float32
	if g.C != nil {
		g.fillOffset(y, rows, n)
		beta = 1
	}
	lda := k
	if g.TransA {
		lda = rows
	}
	kernels.Sgemm(g.TransA, false, rows, n, k, g.Alpha, in[0].Data, lda, g.B.Data, n, beta, y, n)
	return nil
}

// fillOffset writes beta·C broadcast to [rows, n] into y.
func (g *Gemm) fillOffset(y []float32, rows, n int) {
	for i := range rows {
		for j := range n {
			var r, c int
			if len(g.cShape) == 2 && g.cShape[0] != 1 {
				r = i
			}
			if len(g.cShape) >= 1 && g.cShape[len(g.cShape)-1] != 1 {
				c = j
			}
			y[i*n+j] = g.C[r*g.cShapeCols()+c]
		}
	}
}

func (g *Gemm) cShapeCols() int {
	if len(g.cShape) == 0 {
		return 1
	}
	return g.cShape[len(g.cShape)-1]
}

// Backward implements graph.Backprop: dx += alpha·dy·op(B)ᵀ (|alpha|·|op(B)|
// for AbsCoef).
func (g *Gemm) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if dy[0] == nil || dx[0] == nil {
		return nil
	}
	if g.TransA {
		return fmt.Errorf("backward through a transposed data operand is not supported")
	}
	k, n := g.B.Shape[0], g.B.Shape[1]
	rows := len(dy[0].Data) / n
	b, alpha := g.B.Data, g.Alpha
	if mode == graph.AbsCoef {
		g.absOnce.Do(func() { g.absB = absOf(g.B.Data) })
		b = g.absB
		if alpha < 0 {
			alpha = -alpha
		}
	}
	kernels.Sgemm(false, true, rows, k, n, alpha, dy[0].Data, n, b, n, 1, dx[0].Data, k)
	return nil
}

// BackwardExc implements graph.ExcBackprop for a matrix data operand (a
// classifier): each row is a 1×1 convolution of K channels into N, whose
// excitation product runs on the same kernel, skipping the outputs with no
// vector (a classifier seeded at one logit has one). It does not apply
// when C varies by row.
func (g *Gemm) BackwardExc(positive bool, x, y, dy, dx []*graph.Tensor, nonNegative []bool, gate *graph.Gate) (bool, []uint32, error) {
	if dy[0] == nil || dx[0] == nil || g.TransA || len(x[0].Shape) != 2 || x[0].Batch() == 0 {
		return false, nil, nil
	}
	bias, ok := g.columnOffset()
	if !ok {
		return false, nil, nil
	}
	k, n := g.B.Shape[0], g.B.Shape[1]
	rows := dy[0].Shape[0]
	p := kernels.ConvParams{N: rows, C: k, H: 1, W: 1, M: n, KH: 1, KW: 1, OH: 1, OW: 1}
	split := nonNegative[0]
	weights := g.pointwise.get(split, k, n, func(in, o int) float32 { return g.Alpha * g.B.Data[in*n+o] })
	top := make([]uint32, rows)
	kernels.Conv2DBackwardExcPointwise(p, rows/x[0].Batch(), dy[0].Data, y[0].Data, bias, weights, split, !positive, kernelGate(gate), x[0].Data, dx[0].Data, top)
	return true, top, nil
}

// columnOffset returns beta·C as one value per output column (nil when
// there is no C) and true, or false when C varies by row.
func (g *Gemm) columnOffset() ([]float32, bool) {
	n := g.B.Shape[1]
	switch {
	case g.C == nil:
		return nil, true
	case len(g.cShape) == 2 && g.cShape[0] != 1:
		return nil, false
	case g.cShapeCols() == n:
		return g.C[:n], true
	}
	c := make([]float32, n) // a scalar, broadcast
	for j := range c {
		c[j] = g.C[0]
	}
	return c, true
}

// Offset implements graph.Backprop: beta·C broadcast to the output.
func (g *Gemm) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	if g.C == nil {
		return nil
	}
	n := g.B.Shape[1]
	t := graph.New(y[0].Shape...)
	g.fillOffset(t.Data, len(t.Data)/n, n)
	return []*graph.Tensor{t}
}

// Terms implements graph.Backprop.
func (g *Gemm) Terms() graph.Terms { return graph.MultiTerm }

// FoldAffine returns the operator followed by the per-output-column affine
// map v ↦ scale·v + shift (a BatchNormalization on its [rows, N] output), or
// nil when C's shape does not allow it.
func (g *Gemm) FoldAffine(scale, shift []float32) graph.Op {
	n := g.B.Shape[1]
	if len(scale) != n || g.TransA || (len(g.cShape) == 2 && g.cShape[0] != 1) {
		return nil
	}
	f := &Gemm{B: graph.New(g.B.Shape...), Alpha: g.Alpha, matmul: g.matmul, cShape: []int{n}, C: make([]float32, n)}
	for i, v := range g.B.Data {
		f.B.Data[i] = v * scale[i%n]
	}
	for j := range n {
		var c float32
		if g.C != nil {
			c = g.C[j%len(g.C)]
		}
		f.C[j] = c*scale[j] + shift[j]
	}
	return f
}
