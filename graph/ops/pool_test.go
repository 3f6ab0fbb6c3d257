package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

// TestPoolGeneric runs the generic operator oracle on max and average
// pooling: overlapping strided windows with padding, dilation, and the
// count_include_pad divisor. Max pooling skips finite differences (a step
// can change which element is the maximum).
func TestPoolGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	x := func(shape ...int) *graph.Tensor { return randT(rng, 1, 0, nil, shape...) }
	for _, c := range []struct {
		name string
		c    opCase
	}{
		{"max 3x3 stride 2", opCase{spec: spec("MaxPool", 12, map[string]graph.Attr{"kernel_shape": aInts(3, 3), "strides": aInts(2, 2), "pads": aInts(1, 1, 1, 1)}, "x"), in: []*graph.Tensor{x(2, 2, 5, 6)}, noGrad: true}},
		{"max dilated", opCase{spec: spec("MaxPool", 12, map[string]graph.Attr{"kernel_shape": aInts(2, 2), "dilations": aInts(2, 1)}, "x"), in: []*graph.Tensor{x(2, 1, 5, 4)}, noGrad: true}},
		{"average 2x2", opCase{spec: spec("AveragePool", 11, map[string]graph.Attr{"kernel_shape": aInts(2, 2), "strides": aInts(2, 2)}, "x"), in: []*graph.Tensor{x(2, 2, 4, 5)}}},
		{"average padded", opCase{spec: spec("AveragePool", 11, map[string]graph.Attr{"kernel_shape": aInts(3, 3), "pads": aInts(1, 1, 1, 1), "count_include_pad": aInt(1)}, "x"), in: []*graph.Tensor{x(2, 2, 3, 4)}}},
	} {
		t.Run(c.name, func(t *testing.T) { checkOp(t, c.c) })
	}
}
