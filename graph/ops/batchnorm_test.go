package ops

import (
	"math"
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func bnSpec(opset int, attrs map[string]graph.Attr) *graph.NodeSpec {
	return spec("BatchNormalization", opset, attrs, "x",
		cst([]int{3}, 1.5, -2, 0.5),   // scale, one negative
		cst([]int{3}, 0.1, 0.2, -0.3), // B
		cst([]int{3}, 0.5, -1, 0),     // mean
		cst([]int{3}, 4, 0.25, 1))     // var
}

func TestBatchNorm(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	checkOp(t, opCase{spec: bnSpec(15, nil), in: []*graph.Tensor{randT(rng, 2, 0, nil, 2, 3, 2, 1)}})
	checkOp(t, opCase{spec: bnSpec(9, map[string]graph.Attr{"epsilon": aFloat(0.1), "momentum": aFloat(0.9)}), in: []*graph.Tensor{randT(rng, 2, 0, nil, 2, 3)}})

	x := tensor([]int{1, 3, 2}, 1, 2, 3, 4, 5, 6)
	y := forward(t, build(t, bnSpec(14, map[string]graph.Attr{"training_mode": aInt(0)})), []*graph.Tensor{x})
	scale, b, mean, vr := []float64{1.5, -2, 0.5}, []float64{0.1, 0.2, -0.3}, []float64{0.5, -1, 0}, []float64{4, 0.25, 1}
	want := make([]float32, 6)
	for i, v := range x.Data {
		c := i / 2
		want[i] = float32((float64(v)-mean[c])/math.Sqrt(vr[c]+1e-5)*scale[c] + b[c])
	}
	wantData(t, "BatchNormalization", y[0], x.Shape, want, 1e-6)

	wantErr(t, bnSpec(15, map[string]graph.Attr{"training_mode": aInt(1)}), "training_mode")
	s := bnSpec(15, nil)
	s.NumOutputs = 3
	wantErr(t, s, "training outputs")
	s = bnSpec(15, nil)
	s.Inputs[4] = graph.Input{Name: "v"}
	wantErr(t, s, "expects 1 data input")
	wantErr(t, spec("BatchNormalization", 15, nil, "x", cst([]int{2}, 1, 1), cst([]int{2}, 0, 0), cst([]int{2}, 0, 0), cst([]int{3}, 1, 1, 1)), "one length")
}
