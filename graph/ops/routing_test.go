package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func TestRoutingGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	x := func(shape ...int) *graph.Tensor { return randT(rng, 1, 0, nil, shape...) }
	for _, c := range []opCase{
		{spec: spec("Transpose", 13, map[string]graph.Attr{"perm": aInts(0, 2, 3, 1)}, "x"), in: []*graph.Tensor{x(2, 3, 2, 2)}},
		{spec: spec("Transpose", 13, map[string]graph.Attr{"perm": aInts(0, 2, 1)}, "x"), in: []*graph.Tensor{x(2, 1, 3)}},
		{spec: spec("Concat", 13, map[string]graph.Attr{"axis": aInt(1)}, "a", cst([]int{2, 1, 2}, 1, 2, 3, 4), "b"), in: []*graph.Tensor{x(2, 2, 2), x(2, 3, 2)}},
		{spec: spec("Concat", 4, map[string]graph.Attr{"axis": aInt(-1)}, "a", "b"), in: []*graph.Tensor{x(2, 2, 1), x(2, 2, 3)}},
		{spec: spec("Slice", 9, map[string]graph.Attr{"starts": aInts(1, 0), "ends": aInts(1000, -1), "axes": aInts(1, -1)}, "x"), in: []*graph.Tensor{x(2, 4, 3)}},
		{spec: spec("Slice", 13, nil, "x", icst(-1, 1), icst(-1000, 5), icst(1, 2), icst(-2, 2)), in: []*graph.Tensor{x(2, 4, 5)}},
		{spec: spec("Slice", 13, nil, "x", icst(0, 3), icst(1<<62, 0), icst(0, 1), icst(1, -1)), in: []*graph.Tensor{x(2, 4, 5)}},
		{spec: spec("Pad", 13, nil, "x", icst(0, 0, 1, 2, 0, 0, 2, 1)), in: []*graph.Tensor{x(2, 2, 2, 3)}},
		{spec: spec("Pad", 13, nil, "x", icst(0, 1, 0, -1), cst(nil, 1.5)), in: []*graph.Tensor{x(2, 3)}},
		{spec: spec("Pad", 13, map[string]graph.Attr{"mode": aStr("reflect")}, "x", icst(0, 0, 3, 0, 0, 4)), in: []*graph.Tensor{x(2, 2, 3)}},
		{spec: spec("Pad", 11, map[string]graph.Attr{"mode": aStr("edge")}, "x", icst(0, 2, 1, 0, 1, 2)), in: []*graph.Tensor{x(2, 2, 3)}},
		{spec: spec("Pad", 19, map[string]graph.Attr{"mode": aStr("wrap")}, "x", icst(1, 4), cst(nil, 0), icst(-1)), in: []*graph.Tensor{x(2, 2, 3)}},
		{spec: spec("Pad", 9, map[string]graph.Attr{"mode": aStr("reflect"), "pads": aInts(0, 0, -1, 0, 1, 2)}, "x"), in: []*graph.Tensor{x(2, 3, 4)}},
		{spec: spec("Gather", 13, map[string]graph.Attr{"axis": aInt(1)}, "x", &graph.Const{Shape: []int{2, 2}, V: []float64{2, 0, -1, 2}, Int: true}), in: []*graph.Tensor{x(2, 3, 2)}},
		{spec: spec("Gather", 13, map[string]graph.Attr{"axis": aInt(-1)}, "x", &graph.Const{V: []float64{1}, Int: true}), in: []*graph.Tensor{x(2, 3, 2)}},
		{spec: spec("Expand", 13, nil, "x", icst(1, 3, 2)), in: []*graph.Tensor{x(2, 3, 1)}},
		{spec: spec("Expand", 13, nil, "x", icst(1, 3)), in: []*graph.Tensor{x(2, 1)}},
	} {
		t.Run(c.spec.Type, func(t *testing.T) { checkOp(t, c) })
	}
}

func TestSplit(t *testing.T) {
	rng := rand.New(rand.NewSource(10))
	x := randT(rng, 1, 0, nil, 2, 7, 2)
	for _, c := range []struct {
		s     *graph.NodeSpec
		n     int
		sizes []int
	}{
		{spec("Split", 11, map[string]graph.Attr{"axis": aInt(1), "split": aInts(2, 0, 5)}, "x"), 3, []int{2, 0, 5}},
		{spec("Split", 13, map[string]graph.Attr{"axis": aInt(-2)}, "x", icst(3, 4)), 2, []int{3, 4}},
		{spec("Split", 18, map[string]graph.Attr{"axis": aInt(1), "num_outputs": aInt(4)}, "x"), 4, []int{2, 2, 2, 1}},
		{spec("Split", 13, map[string]graph.Attr{"axis": aInt(1)}, "x"), 7, []int{1, 1, 1, 1, 1, 1, 1}},
	} {
		c.s.NumOutputs = c.n
		op := build(t, c.s)
		y := forward(t, op, []*graph.Tensor{x})
		off := 0
		for i, n := range c.sizes {
			var want []float32
			for b := range 2 {
				want = append(want, x.Data[b*14+off*2:b*14+(off+n)*2]...)
			}
			wantData(t, "Split", y[i], []int{2, n, 2}, want, 0)
			off += n
		}
		checkOp(t, opCase{spec: c.s, in: []*graph.Tensor{x}})
	}
	s := spec("Split", 13, map[string]graph.Attr{"axis": aInt(1)}, "x")
	s.NumOutputs = 2
	if _, err := build(t, s).Infer([][]int{{2, 7}}); err == nil {
		t.Error("Split of 7 into 2 equal parts was accepted")
	}
	s = spec("Split", 11, map[string]graph.Attr{"split": aInts(1, 2)}, "x")
	s.NumOutputs = 3
	wantErr(t, s, "for 3 outputs")
}

func TestSliceExamples(t *testing.T) {
	x := tensor([]int{2, 5}, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9)
	for _, c := range []struct {
		s     *graph.NodeSpec
		shape []int
		want  []float32
	}{
		// Negative step from the end, ends clamped to -1 ("before 0").
		{spec("Slice", 13, nil, "x", icst(-1), icst(-1<<62), icst(1), icst(-2)), []int{2, 3}, []float32{4, 2, 0, 9, 7, 5}},
		{spec("Slice", 13, nil, "x", icst(3), icst(0), icst(-1), icst(-1)), []int{2, 3}, []float32{3, 2, 1, 8, 7, 6}},
		// INT64_MAX as a constant (held as float64) means the end.
		{spec("Slice", 13, nil, "x", icst(1, 2), &graph.Const{Shape: []int{2}, V: []float64{9223372036854775807, 9223372036854775807}, Int: true}), []int{1, 3}, []float32{7, 8, 9}},
		// Starts beyond the end give an empty slice.
		{spec("Slice", 10, nil, "x", icst(7), icst(9), icst(1)), []int{2, 0}, nil},
		{spec("Slice", 13, nil, "x", icst(10), icst(-10), icst(1), icst(-3)), []int{2, 2}, []float32{4, 1, 9, 6}},
		{spec("Slice", 9, map[string]graph.Attr{"starts": aInts(0, 1), "ends": aInts(-1, 3)}, "x"), []int{1, 2}, []float32{1, 2}},
	} {
		y := forward(t, build(t, c.s), []*graph.Tensor{x})
		wantData(t, "Slice", y[0], c.shape, c.want, 0)
	}
	wantErr(t, spec("Slice", 13, nil, "x", icst(0), icst(1), icst(0), icst(0)), "has a 0")
	wantErr(t, spec("Slice", 13, nil, "x", icst(0, 1), icst(1)), "one length")
}

func TestPadExamples(t *testing.T) {
	x := tensor([]int{1, 2, 3}, 1, 2, 3, 4, 5, 6)
	for _, c := range []struct {
		s     *graph.NodeSpec
		shape []int
		want  []float32
	}{
		{spec("Pad", 13, map[string]graph.Attr{"mode": aStr("reflect")}, "x", icst(0, 0, 2, 0, 0, 3)), []int{1, 2, 8}, []float32{
			3, 2, 1, 2, 3, 2, 1, 2,
			6, 5, 4, 5, 6, 5, 4, 5}},
		{spec("Pad", 13, map[string]graph.Attr{"mode": aStr("edge")}, "x", icst(0, 1, 1, 0, 0, 1)), []int{1, 3, 5}, []float32{
			1, 1, 2, 3, 3,
			1, 1, 2, 3, 3,
			4, 4, 5, 6, 6}},
		{spec("Pad", 2, map[string]graph.Attr{"pads": aInts(0, 1, 0, 0, 0, -2), "value": aFloat(9)}, "x"), []int{1, 3, 1}, []float32{9, 1, 4}},
		{spec("Pad", 18, nil, "x", icst(1, 1), cst([]int{1}, -1), icst(1)), []int{1, 4, 3}, []float32{-1, -1, -1, 1, 2, 3, 4, 5, 6, -1, -1, -1}},
		{spec("Pad", 19, map[string]graph.Attr{"mode": aStr("wrap")}, "x", icst(0, 0, 2, 0, 0, 1)), []int{1, 2, 6}, []float32{2, 3, 1, 2, 3, 1, 5, 6, 4, 5, 6, 4}},
		// Crop the first column, then reflect about the new border.
		{spec("Pad", 13, map[string]graph.Attr{"mode": aStr("reflect")}, "x", icst(0, 0, -1, 0, 0, 1)), []int{1, 2, 3}, []float32{2, 3, 2, 5, 6, 5}},
	} {
		op := build(t, c.s)
		y := forward(t, op, []*graph.Tensor{x})
		wantData(t, "Pad", y[0], c.shape, c.want, 0)
	}
	// The offset holds the padding value on the border only.
	op := build(t, spec("Pad", 13, nil, "x", icst(0, 0, 1, 0, 0, 0), cst(nil, 7))).(*Pad)
	y := forward(t, op, []*graph.Tensor{x})
	wantData(t, "Pad offset", op.Offset([]*graph.Tensor{x}, y)[0], []int{1, 2, 4}, []float32{7, 0, 0, 0, 7, 0, 0, 0}, 0)
	if op := build(t, spec("Pad", 13, nil, "x", icst(0, 0, 1, 0, 0, 0))).(*Pad); op.Offset([]*graph.Tensor{x}, y) != nil {
		t.Error("Pad with value 0 has an offset")
	}
	wantErr(t, spec("Pad", 13, map[string]graph.Attr{"mode": aStr("wrap")}, "x", icst(0, 0)), "opset 19")
	wantErr(t, spec("Pad", 13, map[string]graph.Attr{"mode": aStr("symmetric")}, "x", icst(0, 0)), "not one of")
	wantErr(t, spec("Pad", 13, nil, "x", icst(0, 0, 1)), "begin and an end")
	wantErr(t, spec("Pad", 10, nil, "x"), "pads is missing")
	if _, err := build(t, spec("Pad", 13, nil, "x", icst(0, -3, 0, 0))).Infer([][]int{{1, 2}}); err == nil {
		t.Error("cropping more than a dim was accepted")
	}
}

func TestConcatExamples(t *testing.T) {
	a := tensor([]int{2, 1}, 1, 2)
	b := tensor([]int{2, 2}, 3, 4, 5, 6)
	op := build(t, spec("Concat", 13, map[string]graph.Attr{"axis": aInt(1)}, cst([]int{2, 1}, 7, 8), "a", "b", cst([]int{2, 1}, 0, 9))).(*Concat)
	y := forward(t, op, []*graph.Tensor{a, b})
	wantData(t, "Concat", y[0], []int{2, 5}, []float32{7, 1, 3, 4, 0, 8, 2, 5, 6, 9}, 0)
	wantData(t, "Concat offset", op.Offset([]*graph.Tensor{a, b}, y)[0], []int{2, 5}, []float32{7, 0, 0, 0, 0, 8, 0, 0, 0, 9}, 0)
	y = forward(t, build(t, spec("Concat", 13, map[string]graph.Attr{"axis": aInt(0)}, "a", cst([]int{1, 1}, 5))), []*graph.Tensor{a})
	wantData(t, "Concat axis 0", y[0], []int{3, 1}, []float32{1, 2, 5}, 0)
	wantErr(t, spec("Concat", 13, nil, "a", "b"), "axis is missing")
	if _, err := build(t, spec("Concat", 13, map[string]graph.Attr{"axis": aInt(1)}, "a", "b")).Infer([][]int{{2, 1}, {3, 2}}); err == nil {
		t.Error("Concat of mismatched shapes was accepted")
	}
}

func TestGatherExpandExamples(t *testing.T) {
	x := tensor([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	y := forward(t, build(t, spec("Gather", 13, map[string]graph.Attr{"axis": aInt(1)}, "x", &graph.Const{Shape: []int{2, 2}, V: []float64{-1, 0, 1, 1}, Int: true})), []*graph.Tensor{x})
	wantData(t, "Gather", y[0], []int{2, 2, 2}, []float32{3, 1, 2, 2, 6, 4, 5, 5}, 0)
	y = forward(t, build(t, spec("Gather", 13, nil, "x", &graph.Const{V: []float64{1}, Int: true})), []*graph.Tensor{x})
	wantData(t, "Gather scalar index", y[0], []int{3}, []float32{4, 5, 6}, 0)
	if _, err := build(t, spec("Gather", 13, nil, "x", icst(2))).Infer([][]int{{2, 3}}); err == nil {
		t.Error("Gather with an index out of range was accepted")
	}
	y = forward(t, build(t, spec("Expand", 13, nil, "x", icst(2, 1, 1))), []*graph.Tensor{x})
	wantData(t, "Expand", y[0], []int{2, 2, 3}, append(append([]float32(nil), x.Data...), x.Data...), 0)
}

func TestTransposeExamples(t *testing.T) {
	x := tensor([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	y := forward(t, build(t, spec("Transpose", 13, nil, "x")), []*graph.Tensor{x})
	wantData(t, "Transpose", y[0], []int{3, 2}, []float32{1, 4, 2, 5, 3, 6}, 0)
	wantErr(t, spec("Transpose", 13, map[string]graph.Attr{"perm": aInts(0, 0)}, "x"), "not a permutation")
	wantErr(t, spec("Transpose", 13, map[string]graph.Attr{"perm": aInts(0, 2)}, "x"), "not a permutation")
	op := build(t, spec("Transpose", 13, map[string]graph.Attr{"perm": aInts(1, 0)}, "x")).(*Transpose)
	y = forward(t, op, []*graph.Tensor{x})
	if err := op.Backward(graph.Grad, []*graph.Tensor{x}, y, []*graph.Tensor{graph.New(3, 2)}, []*graph.Tensor{graph.New(2, 3)}); err == nil {
		t.Error("backward through a transpose of the batch dim was accepted")
	}
}
