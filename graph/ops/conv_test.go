package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

// TestConvGeneric runs the generic operator oracle on convolutions whose
// backward products take each kernel path: unit stride, strides that leave
// input positions no tap reaches, groups, depthwise, 1-D, and inputs with
// no negative value (the one-product excitation path).
func TestConvGeneric(t *testing.T) {
	rng := rand.New(rand.NewSource(11))
	x := func(shape ...int) *graph.Tensor { return randT(rng, 1, 0, nil, shape...) }
	w := func(shape ...int) *graph.Const { return randConst(rng, shape...) }
	attrs := func(kv ...any) map[string]graph.Attr {
		m := map[string]graph.Attr{}
		for i := 0; i < len(kv); i += 2 {
			switch v := kv[i+1].(type) {
			case int:
				m[kv[i].(string)] = aInt(int64(v))
			case []int64:
				m[kv[i].(string)] = aInts(v...)
			}
		}
		return m
	}
	for _, c := range []struct {
		name string
		c    opCase
	}{
		{"3x3 same", opCase{spec: spec("Conv", 13, attrs("pads", []int64{1, 1, 1, 1}), "x", w(4, 3, 3, 3), w(4)), in: []*graph.Tensor{x(2, 3, 5, 6)}}},
		{"pointwise", opCase{spec: spec("Conv", 13, nil, "x", w(5, 3, 1, 1), w(5)), in: []*graph.Tensor{x(2, 3, 4, 5)}}},
		{"pointwise after a ReLU", opCase{spec: spec("Conv", 13, nil, "x", w(4, 3, 1, 1), w(4)), in: []*graph.Tensor{reluOf(x(2, 3, 3, 5))}}},
		{"stem", opCase{spec: spec("Conv", 13, attrs("strides", []int64{2, 2}, "pads", []int64{3, 3, 3, 3}), "x", w(4, 3, 7, 7), w(4)), in: []*graph.Tensor{x(2, 3, 9, 8)}}},
		{"1x1 stride 2", opCase{spec: spec("Conv", 13, attrs("strides", []int64{2, 2}), "x", w(3, 2, 1, 1)), in: []*graph.Tensor{x(2, 2, 5, 4)}}},
		{"3x3 stride 2", opCase{spec: spec("Conv", 13, attrs("strides", []int64{2, 2}, "pads", []int64{1, 0, 1, 1}), "x", w(2, 3, 3, 3), w(2)), in: []*graph.Tensor{x(2, 3, 6, 5)}}},
		{"grouped", opCase{spec: spec("Conv", 13, attrs("group", 2, "pads", []int64{1, 1, 1, 1}), "x", w(4, 2, 3, 3)), in: []*graph.Tensor{x(2, 4, 4, 4)}}},
		{"depthwise stride 2", opCase{spec: spec("Conv", 13, attrs("group", 3, "strides", []int64{2, 2}, "pads", []int64{0, 0, 1, 1}), "x", w(3, 1, 3, 3), w(3)), in: []*graph.Tensor{x(2, 3, 6, 6)}}},
		{"input after a ReLU", opCase{spec: spec("Conv", 13, attrs("pads", []int64{1, 1, 1, 1}), "x", w(3, 2, 3, 3), w(3)), in: []*graph.Tensor{reluOf(x(2, 2, 4, 5))}}},
		{"depthwise after a ReLU", opCase{spec: spec("Conv", 13, attrs("group", 3, "pads", []int64{1, 0, 1, 1}), "x", w(3, 1, 3, 3), w(3)), in: []*graph.Tensor{reluOf(x(2, 3, 5, 4))}}},
		{"1-D dilated", opCase{spec: spec("Conv", 13, attrs("dilations", []int64{2}), "x", w(2, 2, 3)), in: []*graph.Tensor{x(2, 2, 9)}}},
	} {
		t.Run(c.name, func(t *testing.T) { checkOp(t, c.c) })
	}
}
