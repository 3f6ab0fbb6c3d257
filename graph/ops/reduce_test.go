package ops

import (
	"errors"
	"math"
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func TestReduceGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	x := func(shape ...int) *graph.Tensor { return randT(rng, 1, 0, nil, shape...) }
	for _, c := range []opCase{
		{spec: spec("ReduceMean", 13, map[string]graph.Attr{"axes": aInts(2, 3)}, "x"), in: []*graph.Tensor{x(2, 3, 2, 2)}},
		{spec: spec("ReduceMean", 18, map[string]graph.Attr{"keepdims": aInt(0)}, "x", icst(-1, 1)), in: []*graph.Tensor{x(2, 3, 2, 2)}},
		{spec: spec("ReduceSum", 11, map[string]graph.Attr{"axes": aInts(1), "keepdims": aInt(0)}, "x"), in: []*graph.Tensor{x(2, 3, 2)}},
		{spec: spec("ReduceSum", 13, map[string]graph.Attr{"noop_with_empty_axes": aInt(1)}, "x"), in: []*graph.Tensor{x(2, 3)}},
		{spec: spec("ReduceSum", 13, nil, "x", icst(2)), in: []*graph.Tensor{x(2, 3, 4)}},
		{spec: spec("GlobalAveragePool", 1, nil, "x"), in: []*graph.Tensor{x(2, 3, 2, 3)}},
		{spec: spec("GlobalAveragePool", 1, nil, "x"), in: []*graph.Tensor{x(2, 2, 5)}},
		{spec: spec("GlobalAveragePool", 1, nil, "x"), in: []*graph.Tensor{reluOf(x(2, 3, 2, 3))}},
		{spec: spec("GlobalMaxPool", 1, nil, "x"), in: []*graph.Tensor{x(2, 3, 2, 3)}},
		{spec: spec("Softmax", 13, nil, "x"), in: []*graph.Tensor{x(2, 5)}, noCoef: true},
		{spec: spec("Softmax", 13, map[string]graph.Attr{"axis": aInt(1)}, "x"), in: []*graph.Tensor{x(2, 3, 2)}, noCoef: true},
		{spec: spec("Softmax", 11, nil, "x"), in: []*graph.Tensor{x(2, 3, 2)}, noCoef: true},
		{spec: spec("LogSoftmax", 13, nil, "x"), in: []*graph.Tensor{x(2, 4)}, noCoef: true},
		{spec: spec("LogSoftmax", 11, map[string]graph.Attr{"axis": aInt(2)}, "x"), in: []*graph.Tensor{x(2, 2, 3)}, noCoef: true},
	} {
		t.Run(c.spec.Type, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestReduceExamples(t *testing.T) {
	x := tensor([]int{2, 2, 3}, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)
	for _, c := range []struct {
		s     *graph.NodeSpec
		shape []int
		want  []float32
	}{
		{spec("ReduceSum", 13, nil, "x", icst(-1)), []int{2, 2, 1}, []float32{6, 15, 24, 33}},
		{spec("ReduceSum", 13, map[string]graph.Attr{"keepdims": aInt(0)}, "x"), []int{}, []float32{78}},
		{spec("ReduceSum", 13, map[string]graph.Attr{"noop_with_empty_axes": aInt(1)}, "x", icst()), []int{2, 2, 3}, x.Data},
		{spec("ReduceMean", 11, map[string]graph.Attr{"axes": aInts(0, 2), "keepdims": aInt(0)}, "x"), []int{2}, []float32{5, 8}},
		{spec("ReduceMean", 18, nil, "x", icst(1)), []int{2, 1, 3}, []float32{2.5, 3.5, 4.5, 8.5, 9.5, 10.5}},
		{spec("GlobalAveragePool", 1, nil, "x"), []int{2, 2, 1}, []float32{2, 5, 8, 11}},
		{spec("GlobalMaxPool", 1, nil, "x"), []int{2, 2, 1}, []float32{3, 6, 9, 12}},
	} {
		y := forward(t, build(t, c.s), []*graph.Tensor{x})
		wantData(t, c.s.Type, y[0], c.shape, c.want, 1e-7)
	}
	wantErr(t, spec("ReduceMean", 13, nil, "x", icst(1)), "not defined in opset 13")
	wantErr(t, spec("ReduceSum", 11, map[string]graph.Attr{"noop_with_empty_axes": aInt(1)}, "x"), "unsupported attribute")
}

// TestGlobalMaxPoolTie: the first maximum in row-major order gets the
// coefficient.
func TestGlobalMaxPoolTie(t *testing.T) {
	op := build(t, spec("GlobalMaxPool", 1, nil, "x")).(*GlobalPool)
	x := []*graph.Tensor{tensor([]int{1, 1, 2, 2}, 1, 5, 5, 2)}
	y := forward(t, op, x)
	dx := []*graph.Tensor{graph.New(1, 1, 2, 2)}
	if err := op.Backward(graph.Coef, x, y, []*graph.Tensor{tensor([]int{1, 1, 1, 1}, 3)}, dx); err != nil {
		t.Fatal(err)
	}
	wantData(t, "dx", dx[0], []int{1, 1, 2, 2}, []float32{0, 3, 0, 0}, 0)
}

func TestSoftmaxExamples(t *testing.T) {
	x := tensor([]int{2, 3}, 1, 2, 3, 1000, 1000, 1000)
	y := forward(t, build(t, spec("Softmax", 13, nil, "x")), []*graph.Tensor{x})
	e := []float64{math.Exp(-2), math.Exp(-1), 1}
	s := e[0] + e[1] + e[2]
	wantData(t, "Softmax", y[0], x.Shape, []float32{float32(e[0] / s), float32(e[1] / s), float32(e[2] / s), 1.0 / 3, 1.0 / 3, 1.0 / 3}, 1e-6)
	y = forward(t, build(t, spec("LogSoftmax", 13, nil, "x")), []*graph.Tensor{x})
	l := math.Log(s)
	wantData(t, "LogSoftmax", y[0], x.Shape, []float32{float32(-2 - l), float32(-1 - l), float32(-l), float32(-math.Log(3)), float32(-math.Log(3)), float32(-math.Log(3))}, 1e-6)
	// Opset 11 normalises over all dims from axis together.
	x = tensor([]int{1, 2, 2}, 0, 0, 0, 0)
	y = forward(t, build(t, spec("Softmax", 11, nil, "x")), []*graph.Tensor{x})
	wantData(t, "Softmax-11", y[0], x.Shape, []float32{0.25, 0.25, 0.25, 0.25}, 1e-7)
	y = forward(t, build(t, spec("Softmax", 13, map[string]graph.Attr{"axis": aInt(1)}, "x")), []*graph.Tensor{x})
	wantData(t, "Softmax-13", y[0], x.Shape, []float32{0.5, 0.5, 0.5, 0.5}, 1e-7)

	op := build(t, spec("Softmax", 13, nil, "x")).(*Softmax)
	err := op.Backward(graph.Coef, []*graph.Tensor{x}, y, []*graph.Tensor{x}, []*graph.Tensor{x})
	if !errors.Is(err, ErrNoLinearForm) {
		t.Fatalf("Coef: %v", err)
	}
}
