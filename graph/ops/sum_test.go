package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func TestSum(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	for _, typ := range []string{"Sum", "Mean"} {
		checkOp(t, opCase{spec: spec(typ, 13, nil, "a", "b", "c"), in: []*graph.Tensor{
			randT(rng, 1, 0, nil, 2, 3, 2), randT(rng, 1, 0, nil, 2, 1, 2), randT(rng, 1, 0, nil, 2, 3, 1)}})
		checkOp(t, opCase{spec: spec(typ, 13, nil, "a", cst([]int{3, 1}, 1, 2, 3), "b", cst(nil, 0.5)), in: []*graph.Tensor{
			randT(rng, 1, 0, nil, 2, 3, 2), randT(rng, 1, 0, nil, 2, 3, 2)}})
		checkOp(t, opCase{spec: spec(typ, 8, nil, "a"), in: []*graph.Tensor{randT(rng, 1, 0, nil, 2, 3)}})
	}
	y := forward(t, build(t, spec("Mean", 13, nil, "a", cst([]int{2}, 1, 2), "b")), []*graph.Tensor{tensor([]int{2, 1}, 3, 6), tensor([]int{2, 2}, 2, 4, 6, 8)})
	wantData(t, "Mean", y[0], []int{2, 2}, []float32{2, 3, 13.0 / 3, 16.0 / 3}, 1e-7)
	wantErr(t, spec("Sum", 13, nil, cst(nil, 1)), "no data input")
}
