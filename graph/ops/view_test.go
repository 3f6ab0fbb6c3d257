package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func TestViews(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	x := randT(rng, 1, 0, nil, 2, 3, 1, 2)
	for _, c := range []struct {
		s     *graph.NodeSpec
		shape []int
	}{
		{spec("Identity", 19, nil, "x"), []int{2, 3, 1, 2}},
		{spec("Dropout", 10, map[string]graph.Attr{"ratio": aFloat(0.3)}, "x"), []int{2, 3, 1, 2}},
		{spec("Dropout", 13, map[string]graph.Attr{"seed": aInt(3)}, "x", cst(nil, 0.5), &graph.Const{V: []float64{0}, Int: true}), []int{2, 3, 1, 2}},
		{spec("Cast", 19, map[string]graph.Attr{"to": aInt(1), "saturate": aInt(1)}, "x"), []int{2, 3, 1, 2}},
		{spec("Flatten", 13, nil, "x"), []int{2, 6}},
		{spec("Flatten", 13, map[string]graph.Attr{"axis": aInt(-1)}, "x"), []int{6, 2}},
		{spec("Reshape", 13, nil, "x", icst(0, -1, 3)), []int{2, 2, 3}},
		{spec("Reshape", 14, map[string]graph.Attr{"allowzero": aInt(0)}, "x", icst(0, 0, 2)), []int{2, 3, 2}},
		{spec("Squeeze", 11, map[string]graph.Attr{"axes": aInts(-2)}, "x"), []int{2, 3, 2}},
		{spec("Squeeze", 13, nil, "x"), []int{2, 3, 2}},
		{spec("Squeeze", 13, nil, "x", icst(2)), []int{2, 3, 2}},
		{spec("Unsqueeze", 11, map[string]graph.Attr{"axes": aInts(1, -1)}, "x"), []int{2, 1, 3, 1, 2, 1}},
		{spec("Unsqueeze", 13, nil, "x", icst(4, 2)), []int{2, 3, 1, 1, 1, 2}},
	} {
		op := build(t, c.s)
		y := forward(t, op, []*graph.Tensor{x})
		wantData(t, c.s.Type, y[0], c.shape, x.Data, 0)
		checkOp(t, opCase{spec: c.s, in: []*graph.Tensor{x}, unbatched: c.shape[0] != 2})
	}
}

func TestViewShapes(t *testing.T) {
	for _, c := range []struct {
		s         *graph.NodeSpec
		in, shape []int
	}{
		{spec("Flatten", 9, map[string]graph.Attr{"axis": aInt(0)}, "x"), []int{2, 3, 4}, []int{1, 24}},
		{spec("Flatten", 11, map[string]graph.Attr{"axis": aInt(3)}, "x"), []int{2, 3, 4}, []int{24, 1}},
		{spec("Reshape", 13, nil, "x", icst(-1)), []int{2, 3, 4}, []int{24}},
		{spec("Reshape", 13, nil, "x", icst(4, 0, -1)), []int{2, 3, 4}, []int{4, 3, 2}},
		{spec("Reshape", 14, map[string]graph.Attr{"allowzero": aInt(1)}, "x", icst(0, 3)), []int{0, 4}, []int{0, 3}},
		{spec("Reshape", 13, nil, "x", icst(2, 0, -1)), []int{0, 4}, []int{2, 4, 0}},
		{spec("Squeeze", 13, nil, "x", icst()), []int{1, 3, 1}, []int{3}},
		{spec("Unsqueeze", 13, nil, "x", icst(0)), []int{}, []int{1}},
		{spec("Unsqueeze", 13, nil, "x", icst(-1, 0)), []int{3}, []int{1, 3, 1}},
	} {
		got, err := build(t, c.s).Infer([][]int{c.in})
		if err != nil || !graph.SameShape(got[0], c.shape) {
			t.Errorf("%s of %v: %v, %v; want %v", c.s.Type, c.in, got, err, c.shape)
		}
	}
	for _, c := range []struct {
		s  *graph.NodeSpec
		in []int
	}{
		{spec("Reshape", 13, nil, "x", icst(5, -1)), []int{2, 3}},
		{spec("Reshape", 13, nil, "x", icst(0, 0, 0)), []int{6}},
		{spec("Squeeze", 13, nil, "x", icst(1)), []int{2, 3}},
		{spec("Squeeze", 13, nil, "x", icst(2)), []int{2, 1}},
		{spec("Unsqueeze", 13, nil, "x", icst(1, 1)), []int{2}},
		{spec("Flatten", 13, map[string]graph.Attr{"axis": aInt(4)}, "x"), []int{2, 3, 4}},
	} {
		if got, err := build(t, c.s).Infer([][]int{c.in}); err == nil {
			t.Errorf("%s of %v gave %v, want an error", c.s.Type, c.in, got)
		}
	}
	wantErr(t, spec("Reshape", 13, nil, "x", icst(-1, -1)), "more than one -1")
	wantErr(t, spec("Reshape", 13, nil, "x", "shape"), "must be a constant")
	wantErr(t, spec("Reshape", 14, map[string]graph.Attr{"allowzero": aInt(1)}, "x", icst(0, -1)), "both 0 and -1")
	wantErr(t, spec("Cast", 13, map[string]graph.Attr{"to": aInt(7)}, "x"), "not supported")
	wantErr(t, spec("Dropout", 13, nil, "x", cst(nil, 0.5), &graph.Const{V: []float64{1}, Int: true}), "training_mode")
	s := spec("Dropout", 13, nil, "x")
	s.NumOutputs = 2
	wantErr(t, s, "mask")
	wantErr(t, spec("Unsqueeze", 13, nil, "x"), "axes are missing")
	wantErr(t, spec("Squeeze", 11, nil, "x", icst(0)), "not defined in opset 11")
	wantErr(t, spec("Dropout", 11, nil, "x", cst(nil, 0.5)), "not defined in opset 11")
}

// TestViewBatchMoved: backward refuses a view that moves the batch.
func TestViewBatchMoved(t *testing.T) {
	op := build(t, spec("Flatten", 13, map[string]graph.Attr{"axis": aInt(0)}, "x")).(*View)
	x := []*graph.Tensor{graph.New(2, 3)}
	y := forward(t, op, x)
	if err := op.Backward(graph.Coef, x, y, []*graph.Tensor{graph.New(1, 6)}, []*graph.Tensor{graph.New(2, 3)}); err == nil {
		t.Fatal("backward through Flatten(axis 0) was accepted")
	}
}
