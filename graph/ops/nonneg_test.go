package ops

import (
	"math"
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

// TestNonNegativeOutputs checks the operators' claims that their outputs
// have no element below zero: whenever a claim is made for inputs drawn
// to match it (non-negative where marked, mixed elsewhere), the forward
// pass must bear it out; and each case makes the claim it should.
func TestNonNegativeOutputs(t *testing.T) {
	rng := rand.New(rand.NewSource(13))
	for _, c := range []struct {
		name  string
		spec  *graph.NodeSpec
		shape []int
		in    bool // the data input is non-negative
		want  bool
	}{
		{"relu of mixed", spec("Relu", 14, nil, "x"), []int{2, 3, 4}, false, true},
		{"relu6", spec("Clip", 13, nil, "x", cst(nil, 0), cst(nil, 6)), []int{2, 3, 4}, false, true},
		{"clip below zero", spec("Clip", 13, nil, "x", cst(nil, -1), cst(nil, 1)), []int{2, 3, 4}, false, false},
		{"clip below zero of non-negative", spec("Clip", 13, nil, "x", cst(nil, -1), cst(nil, 1)), []int{2, 3, 4}, true, true},
		{"clip with max below min", spec("Clip", 13, nil, "x", cst(nil, 1), cst(nil, -2)), []int{2, 3, 4}, true, false},
		{"leaky relu", spec("LeakyRelu", 16, nil, "x"), []int{2, 3, 4}, true, false},
		{"max pool", spec("MaxPool", 12, map[string]graph.Attr{"kernel_shape": aInts(2, 2)}, "x"), []int{2, 2, 4, 4}, true, true},
		{"max pool of mixed", spec("MaxPool", 12, map[string]graph.Attr{"kernel_shape": aInts(2, 2)}, "x"), []int{2, 2, 4, 4}, false, false},
		{"global average", spec("GlobalAveragePool", 1, nil, "x"), []int{2, 2, 3, 3}, true, true},
		{"zero pad", spec("Pad", 13, nil, "x", icst(0, 0, 1, 1, 0, 0, 1, 1)), []int{2, 2, 3, 3}, true, true},
		{"negative pad value", spec("Pad", 13, nil, "x", icst(0, 0, 1, 1, 0, 0, 1, 1), cst(nil, -1)), []int{2, 2, 3, 3}, true, false},
		{"flatten", spec("Flatten", 13, nil, "x"), []int{2, 2, 3}, true, true},
		{"concat with a negative constant", spec("Concat", 13, map[string]graph.Attr{"axis": aInt(1)}, "x", cst([]int{2, 1}, 1, -1)), []int{2, 3}, true, false},
		{"concat", spec("Concat", 13, map[string]graph.Attr{"axis": aInt(1)}, "x", cst([]int{2, 1}, 1, 0)), []int{2, 3}, true, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			op := build(t, c.spec)
			nn, ok := op.(graph.NonNegativeOp)
			claim := ok && nn.NonNegativeOutputs([]bool{c.in})
			if claim != c.want {
				t.Fatalf("claims %v, want %v", claim, c.want)
			}
			x := randT(rng, 2, 0, nil, c.shape...)
			if c.in {
				reluOf(x)
			}
			for _, y := range forward(t, op, []*graph.Tensor{x}) {
				for _, v := range y.Data {
					if claim && v < 0 {
						t.Fatalf("output %v below zero", v)
					}
				}
			}
		})
	}
}

// TestOutputWindow checks the window claims of element-wise operators: in
// every mode, the product must keep dy exactly where the forward output
// lies in the window, including at the bounds, at ±0 and for NaN inputs.
func TestOutputWindow(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	for _, c := range []struct {
		name string
		spec *graph.NodeSpec
		want bool
	}{
		{"relu", spec("Relu", 14, nil, "x"), true},
		{"relu6", spec("Clip", 13, nil, "x", cst(nil, 0), cst(nil, 6)), true},
		{"clip", spec("Clip", 13, nil, "x", cst(nil, -0.5), cst(nil, 0.25)), true},
		{"clip with max below min", spec("Clip", 13, nil, "x", cst(nil, 1), cst(nil, -2)), true},
		{"leaky relu", spec("LeakyRelu", 16, nil, "x"), false},
		{"sigmoid", spec("Sigmoid", 13, nil, "x"), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			op := build(t, c.spec)
			wb, ok := op.(graph.WindowBackprop)
			var window graph.Window
			if ok {
				window, ok = wb.OutputWindow()
			}
			if ok != c.want {
				t.Fatalf("claims a window: %v, want %v", ok, c.want)
			}
			if !ok {
				return
			}
			x := randT(rng, 2, 0, nil, 2, 40)
			copy(x.Data, []float32{0, float32(math.Copysign(0, -1)), 6, -0.5, 0.25, 1, -2, float32(math.NaN()), 7})
			y := forward(t, op, []*graph.Tensor{x})[0]
			bp := op.(graph.Backprop)
			dy := randT(rng, 1, 0, nil, 2, 40)
			for _, mode := range []graph.Mode{graph.Grad, graph.Coef, graph.AbsCoef} {
				dx := graph.New(2, 40)
				if err := bp.Backward(mode, []*graph.Tensor{x}, []*graph.Tensor{y}, []*graph.Tensor{dy}, []*graph.Tensor{dx}); err != nil {
					t.Fatal(err)
				}
				for i, v := range dx.Data {
					want := float32(0)
					if window.Contains(y.Data[i]) {
						want = dy.Data[i]
					}
					if v != want {
						t.Fatalf("%v: x %v, y %v: dx %v, want %v", mode, x.Data[i], y.Data[i], v, want)
					}
				}
			}
		})
	}
}
