package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

func TestArithConst(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	k := func(shape ...int) *graph.Const {
		c := &graph.Const{Shape: shape}
		for range graph.NumElements(shape) {
			// Away from 0: the constant may be a divisor.
			c.V = append(c.V, float64(0.5+rng.Float32())*float64(1-2*rng.Intn(2)))
		}
		return c
	}
	for _, typ := range []string{"Add", "Sub", "Mul", "Div"} {
		for _, c := range []struct {
			x      []int
			k      *graph.Const
			kFirst bool
		}{
			{[]int{2, 3, 2}, k(1, 3, 1), false},
			{[]int{2, 3, 2}, k(3, 1), true},
			{[]int{2, 3}, k(), false},
			{[]int{2, 3}, k(), true},
			{[]int{2, 1, 2}, k(3, 1), false}, // the constant broadcasts x
			{[]int{2, 1, 2}, k(2, 3, 1), true},
		} {
			t.Run(typ, func(t *testing.T) {
				x := randT(rng, 2, 0.3, []float32{0}, c.x...)
				s := spec(typ, 14, nil, "x", c.k)
				if c.kFirst {
					s = spec(typ, 14, nil, c.k, "x")
				}
				checkOp(t, opCase{spec: s, in: []*graph.Tensor{x}})
			})
		}
	}
}

func TestArithData(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	for _, typ := range []string{"Add", "Sub", "Mul", "Div"} {
		for _, shapes := range [][2][]int{
			{{2, 3, 2}, {2, 3, 2}},
			{{2, 3, 2}, {2, 3, 1}}, // SE gating
			{{2, 1, 2}, {2, 3, 2}},
			{{2, 1, 2}, {2, 3, 1}},
		} {
			t.Run(typ, func(t *testing.T) {
				x0 := randT(rng, 2, 0, nil, shapes[0]...)
				x1 := randT(rng, 2, 0.3, []float32{0}, shapes[1]...)
				checkOp(t, opCase{spec: spec(typ, 14, nil, "a", "b"), in: []*graph.Tensor{x0, x1}})
			})
		}
	}
}

// TestMulFrozen checks which operand a Mul of two data tensors freezes.
func TestMulFrozen(t *testing.T) {
	x0 := tensor([]int{1, 2}, 2, 3)
	x1 := tensor([]int{1, 2}, 5, 7)
	gate := tensor([]int{1, 1}, 4)
	run := func(frozen int, a, b *graph.Tensor, mode graph.Mode) (d0, d1 *graph.Tensor) {
		op := build(t, spec("Mul", 14, nil, "a", "b")).(*Arith)
		op.SetFrozen(frozen)
		x := []*graph.Tensor{a, b}
		y := forward(t, op, x)
		dx := []*graph.Tensor{graph.New(a.Shape...), graph.New(b.Shape...)}
		dy := graph.New(y[0].Shape...)
		for i := range dy.Data {
			dy.Data[i] = 1
		}
		if err := op.Backward(mode, x, y, []*graph.Tensor{dy}, dx); err != nil {
			t.Fatal(err)
		}
		return dx[0], dx[1]
	}
	// Same size: the second operand is frozen by default.
	d0, d1 := run(FreezeAuto, x0, x1, graph.Coef)
	wantData(t, "auto dx0", d0, x0.Shape, []float32{5, 7}, 0)
	wantData(t, "auto dx1", d1, x1.Shape, []float32{0, 0}, 0)
	d0, d1 = run(0, x0, x1, graph.Coef)
	wantData(t, "frozen 0: dx0", d0, x0.Shape, []float32{0, 0}, 0)
	wantData(t, "frozen 0: dx1", d1, x1.Shape, []float32{2, 3}, 0)
	// The smaller (broadcast) operand is frozen, first or second.
	d0, d1 = run(FreezeAuto, gate, x1, graph.Coef)
	wantData(t, "gate first: dx0", d0, gate.Shape, []float32{0}, 0)
	wantData(t, "gate first: dx1", d1, x1.Shape, []float32{4, 4}, 0)
	d0, d1 = run(FreezeAuto, x0, gate, graph.Coef)
	wantData(t, "gate second: dx0", d0, x0.Shape, []float32{4, 4}, 0)
	wantData(t, "gate second: dx1", d1, gate.Shape, []float32{0}, 0)
	// Grad is the product rule, whatever is frozen.
	d0, d1 = run(0, x0, gate, graph.Grad)
	wantData(t, "grad dx0", d0, x0.Shape, []float32{4, 4}, 0)
	wantData(t, "grad dx1", d1, gate.Shape, []float32{5}, 0)
}

func TestPRelu(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for _, slope := range []*graph.Const{cst([]int{3, 1}, 0.25, -0.5, 2), cst([]int{1}, 0.1), cst([]int{2, 3, 2}, 1, 2, 3, 4, 5, 6, -1, -2, -3, -4, -5, -6)} {
		x := randT(rng, 2, 0.05, []float32{0}, 2, 3, 2)
		checkOp(t, opCase{spec: spec("PRelu", 16, nil, "x", slope), in: []*graph.Tensor{x}})
	}
	y := forward(t, build(t, spec("PRelu", 9, nil, "x", cst([]int{2, 1}, 0.5, -1))), []*graph.Tensor{tensor([]int{1, 2, 2}, -2, 3, -4, 5)})
	wantData(t, "PRelu", y[0], []int{1, 2, 2}, []float32{-1, 3, 4, 5}, 0)
	wantErr(t, spec("PRelu", 16, nil, "x", "slope"), "slope: operand must be a constant")
	_, err := build(t, spec("PRelu", 16, nil, "x", cst([]int{3}, 1, 2, 3))).Infer([][]int{{1, 3, 1}})
	if err == nil {
		t.Fatal("PRelu: a slope that broadcasts the input was accepted")
	}
}

func TestArithForward(t *testing.T) {
	x := tensor([]int{2, 3}, 1, 2, 3, 4, 5, 6)
	for _, c := range []struct {
		typ    string
		inputs []any
		in     []*graph.Tensor
		shape  []int
		want   []float32
	}{
		{"Sub", []any{cst([]int{3}, 10, 20, 30), "x"}, []*graph.Tensor{x}, []int{2, 3}, []float32{9, 18, 27, 6, 15, 24}},
		{"Div", []any{"x", cst([]int{2, 1}, 2, 4)}, []*graph.Tensor{x}, []int{2, 3}, []float32{0.5, 1, 1.5, 1, 1.25, 1.5}},
		{"Add", []any{"x", "y"}, []*graph.Tensor{x, tensor([]int{2, 1, 1}, 100, 200)}, []int{2, 2, 3}, []float32{101, 102, 103, 104, 105, 106, 201, 202, 203, 204, 205, 206}},
		{"Mul", []any{"x", "y"}, []*graph.Tensor{tensor(nil, 3), x}, []int{2, 3}, []float32{3, 6, 9, 12, 15, 18}},
	} {
		op := build(t, spec(c.typ, 14, nil, c.inputs...))
		wantData(t, c.typ, forward(t, op, c.in)[0], c.shape, c.want, 1e-7)
	}
	if _, err := build(t, spec("Add", 14, nil, "x", "y")).Infer([][]int{{2, 3}, {2}}); err == nil {
		t.Fatal("Add of [2 3] and [2] was accepted")
	}
	wantErr(t, spec("Add", 14, nil, "x"), "expects 2 inputs")
	wantErr(t, spec("Add", 6, map[string]graph.Attr{"broadcast": aInt(1)}, "x", "y"), "unsupported attribute")
}

// TestArithBatchBroadcast: backward refuses a data operand broadcast along
// the batch (it would mix images).
func TestArithBatchBroadcast(t *testing.T) {
	op := build(t, spec("Add", 14, nil, "x", "y")).(*Arith)
	x := []*graph.Tensor{graph.New(2, 3), graph.New(1, 3)}
	y := forward(t, op, x)
	err := op.Backward(graph.Grad, x, y, []*graph.Tensor{graph.New(2, 3)}, []*graph.Tensor{graph.New(2, 3), graph.New(1, 3)})
	if err == nil {
		t.Fatal("backward through a batch broadcast was accepted")
	}
}

// TestAddSubExcEdges runs the excitation check on terms that are zero and
// outputs exactly at zero, where the sign conventions decide.
func TestAddSubExcEdges(t *testing.T) {
	x0 := tensor([]int{2, 3}, 1, 0, 2, -3, 1.5, 0)
	for _, c := range []struct {
		typ string
		x1  []float32
	}{
		{"Add", []float32{-1, 0, 1, 3, -0.5, 2}},
		{"Sub", []float32{1, 0, -1, -3, 0.5, -2}},
	} {
		t.Run(c.typ, func(t *testing.T) {
			checkOp(t, opCase{spec: spec(c.typ, 14, nil, "a", "b"), in: []*graph.Tensor{x0, tensor([]int{2, 3}, c.x1...)}, noGrad: true})
		})
	}
}
