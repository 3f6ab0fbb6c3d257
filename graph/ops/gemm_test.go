package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

// TestGemmGeneric runs the generic operator checks (Jacobian, local linear
// form, excitation products against the definitions) on Gemm and MatMul,
// with every form of C and inputs of both signs or none negative.
func TestGemmGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(21))
	b := func(shape ...int) *graph.Const { return randConst(rng, shape...) }
	cases := []struct {
		name string
		spec *graph.NodeSpec
		in   *graph.Tensor
	}{
		{"no C", spec("Gemm", 13, nil, "x", b(4, 3)), randT(rng, 1, 0, nil, 2, 4)},
		{"C per column, transB, alpha", spec("Gemm", 13, map[string]graph.Attr{"transB": aInt(1), "alpha": aFloat(0.5)}, "x", b(5, 4), b(5)), randT(rng, 1, 0, nil, 3, 4)},
		{"C scalar, beta", spec("Gemm", 13, map[string]graph.Attr{"beta": aFloat(2)}, "x", b(4, 3), b(1)), randT(rng, 1, 0, nil, 2, 4)},
		{"C per row", spec("Gemm", 13, nil, "x", b(4, 3), b(2, 3)), randT(rng, 1, 0, nil, 2, 4)},
		{"after a ReLU", spec("Gemm", 13, nil, "x", b(6, 5), b(1, 5)), reluOf(randT(rng, 1, 0, nil, 2, 6))},
		{"matmul", spec("MatMul", 13, nil, "x", b(4, 3)), reluOf(randT(rng, 1, 0, nil, 2, 4))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkOp(t, opCase{spec: c.spec, in: []*graph.Tensor{c.in}}) })
	}
}
