package ops

import (
	"math"
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func TestUnaryGeneric(t *testing.T) {
	cases := []struct {
		typ   string
		opset int
		attrs map[string]graph.Attr
		extra []any // constant inputs after x
		kinks []float32
		lo    float32 // inputs in (lo, scale) when lo > 0 (Sqrt)
	}{
		{typ: "Relu", kinks: []float32{0}},
		{typ: "LeakyRelu", attrs: map[string]graph.Attr{"alpha": aFloat(-0.3)}, kinks: []float32{0}},
		{typ: "LeakyRelu", kinks: []float32{0}},
		{typ: "Clip", opset: 9, attrs: map[string]graph.Attr{"min": aFloat(-0.5), "max": aFloat(0.7)}, kinks: []float32{-0.5, 0.7}},
		{typ: "Clip", opset: 9, kinks: nil},
		{typ: "Clip", extra: []any{cst(nil, 0), cst([]int{1}, 1)}, kinks: []float32{0, 1}},
		{typ: "Clip", extra: []any{cst(nil, 0.5)}, kinks: []float32{0.5}},
		{typ: "Clip", extra: []any{"", cst(nil, -0.25)}, kinks: []float32{-0.25}},
		{typ: "Neg"},
		{typ: "Abs", kinks: []float32{0}},
		{typ: "HardSigmoid", kinks: []float32{-2.5, 2.5}},
		{typ: "HardSigmoid", attrs: map[string]graph.Attr{"alpha": aFloat(1.0 / 6), "beta": aFloat(0.5)}, kinks: []float32{-3, 3}},
		{typ: "HardSigmoid", attrs: map[string]graph.Attr{"alpha": aFloat(-0.5), "beta": aFloat(1.2)}, kinks: []float32{0.4, 2.4}},
		{typ: "HardSwish", kinks: []float32{-3, 3}},
		{typ: "Sigmoid"},
		{typ: "Tanh"},
		{typ: "Erf"},
		{typ: "Gelu", opset: 20},
		{typ: "Gelu", opset: 20, attrs: map[string]graph.Attr{"approximate": aStr("tanh")}},
		{typ: "Elu", kinks: []float32{0}},
		{typ: "Elu", attrs: map[string]graph.Attr{"alpha": aFloat(0.5)}, kinks: []float32{0}},
		{typ: "Selu", kinks: []float32{0}},
		{typ: "Softplus"},
		{typ: "Softsign", kinks: []float32{0}},
		{typ: "Exp"},
		{typ: "Sqrt", lo: 0.3},
		{typ: "Reciprocal", lo: 0.3},
	}
	rng := rand.New(rand.NewSource(1))
	for _, c := range cases {
		opset := c.opset
		if opset == 0 {
			opset = 13
		}
		t.Run(c.typ, func(t *testing.T) {
			x := randT(rng, 4, 0.05, c.kinks, 2, 3, 2)
			if c.lo > 0 {
				for i, v := range x.Data {
					x.Data[i] = c.lo + float32(math.Abs(float64(v)))
				}
			}
			// One exact zero exercises the x = 0 branches of the secants.
			if c.lo == 0 && len(c.kinks) == 0 {
				x.Data[3] = 0
			}
			checkOp(t, opCase{spec: spec(c.typ, opset, c.attrs, append([]any{"x"}, c.extra...)...), in: []*graph.Tensor{x}})
		})
	}
}

func TestUnaryForward(t *testing.T) {
	x := tensor([]int{1, 7}, -4, -3, -1, 0, 1, 3, 4)
	for _, c := range []struct {
		typ   string
		opset int
		attrs map[string]graph.Attr
		extra []any
		want  []float32
	}{
		{"Relu", 14, nil, nil, []float32{0, 0, 0, 0, 1, 3, 4}},
		{"LeakyRelu", 16, map[string]graph.Attr{"alpha": aFloat(0.1)}, nil, []float32{-0.4, -0.3, -0.1, 0, 1, 3, 4}},
		// The bounds themselves are reached from both sides.
		{"Clip", 13, nil, []any{cst(nil, -1), cst(nil, 3)}, []float32{-1, -1, -1, 0, 1, 3, 3}},
		{"Clip", 6, map[string]graph.Attr{"max": aFloat(0)}, nil, []float32{-4, -3, -1, 0, 0, 0, 0}},
		// min > max: every value becomes max, as numpy.clip.
		{"Clip", 13, nil, []any{cst(nil, 2), cst(nil, 1)}, []float32{1, 1, 1, 1, 1, 1, 1}},
		{"HardSigmoid", 6, nil, nil, []float32{0, 0, 0.3, 0.5, 0.7, 1, 1}},
		{"HardSwish", 14, nil, nil, []float32{0, 0, -1.0 / 3, 0, 2.0 / 3, 3, 4}},
		{"Abs", 13, nil, nil, []float32{4, 3, 1, 0, 1, 3, 4}},
		{"Neg", 13, nil, nil, []float32{4, 3, 1, 0, -1, -3, -4}},
		{"Softsign", 1, nil, nil, []float32{-0.8, -0.75, -0.5, 0, 0.5, 0.75, 0.8}},
		{"Elu", 6, map[string]graph.Attr{"alpha": aFloat(2)}, nil, []float32{2 * float32(math.Expm1(-4)), 2 * float32(math.Expm1(-3)), 2 * float32(math.Expm1(-1)), 0, 1, 3, 4}},
		{"Gelu", 20, nil, nil, []float32{-1.2668e-4, -4.0499e-3, -0.158655, 0, 0.841345, 2.99595, 3.99987}},
		{"Gelu", 20, map[string]graph.Attr{"approximate": aStr("tanh")}, nil, []float32{-7.0214e-05, -3.6374e-3, -0.158808, 0, 0.841192, 2.99636, 3.99993}},
	} {
		op := build(t, spec(c.typ, c.opset, c.attrs, append([]any{"x"}, c.extra...)...))
		wantData(t, c.typ, forward(t, op, []*graph.Tensor{x})[0], x.Shape, c.want, 2e-5)
	}
}

// TestClipBoundary pins the local form at the bounds: A = 0 and c = bound.
func TestClipBoundary(t *testing.T) {
	op := build(t, spec("Clip", 13, nil, "x", cst(nil, 0), cst(nil, 6))).(*Unary)
	x := tensor([]int{1, 4}, 0, 6, 3, 7)
	y := forward(t, op, []*graph.Tensor{x})
	c := op.Offset([]*graph.Tensor{x}, y)
	wantData(t, "c", c[0], x.Shape, []float32{0, 6, 0, 6}, 0)
	for _, mode := range []graph.Mode{graph.Grad, graph.Coef} {
		dx := graph.New(1, 4)
		if err := op.Backward(mode, []*graph.Tensor{x}, y, []*graph.Tensor{tensor([]int{1, 4}, 1, 1, 1, 1)}, []*graph.Tensor{dx}); err != nil {
			t.Fatal(err)
		}
		wantData(t, mode.String(), dx, x.Shape, []float32{0, 0, 1, 0}, 0)
	}
}

// TestHardSwishGradBoundary pins PyTorch's hardswish_backward at ±3.
func TestHardSwishGradBoundary(t *testing.T) {
	op := build(t, spec("HardSwish", 14, nil, "x")).(*Unary)
	x := tensor([]int{1, 4}, -3, 3, -3.01, 3.01)
	y := forward(t, op, []*graph.Tensor{x})
	dx := graph.New(1, 4)
	if err := op.Backward(graph.Grad, []*graph.Tensor{x}, y, []*graph.Tensor{tensor([]int{1, 4}, 1, 1, 1, 1)}, []*graph.Tensor{dx}); err != nil {
		t.Fatal(err)
	}
	wantData(t, "grad", dx, x.Shape, []float32{-0.5, 1.5, 0, 1}, 1e-7)
}

func TestUnaryErrors(t *testing.T) {
	wantErr(t, spec("Relu", 13, map[string]graph.Attr{"alpha": aFloat(1)}, "x"), "unsupported attribute")
	wantErr(t, spec("Clip", 13, nil, "x", "lo"), "must be a constant")
	wantErr(t, spec("Clip", 13, nil, "x", cst([]int{2}, 0, 1)), "must be a scalar")
	wantErr(t, spec("Gelu", 20, map[string]graph.Attr{"approximate": aStr("erf")}, "x"), "approximate")
	wantErr(t, spec("Relu", 13, nil, cst(nil, 1)), "expects 1 data input")
	wantErr(t, spec("Relu", 13, nil, "x", cst(nil, 1)), "not defined in opset 13")
	wantErr(t, spec("Clip", 9, nil, "x", cst(nil, 1)), "not defined in opset 9")
}

// TestSecantAtZero checks A at x = 0, which y = A·x + c cannot see: it is
// f'(0), the gradient there (Sqrt and Reciprocal have none).
func TestSecantAtZero(t *testing.T) {
	for _, typ := range []string{"Relu", "LeakyRelu", "Neg", "Abs", "HardSigmoid", "HardSwish", "Sigmoid", "Tanh", "Erf", "Gelu", "Elu", "Selu", "Softplus", "Softsign", "Exp"} {
		op := build(t, spec(typ, 20, nil, "x")).(*Unary)
		x := []*graph.Tensor{tensor([]int{1, 1}, 0)}
		y := forward(t, op, x)
		var got [2]float32
		for i, mode := range []graph.Mode{graph.Grad, graph.Coef} {
			dx := []*graph.Tensor{graph.New(1, 1)}
			if err := op.Backward(mode, x, y, []*graph.Tensor{tensor([]int{1, 1}, 1)}, dx); err != nil {
				t.Fatal(err)
			}
			got[i] = dx[0].Data[0]
		}
		if got[0] != got[1] {
			t.Errorf("%s: A(0) = %g, f'(0) = %g", typ, got[1], got[0])
		}
	}
}
