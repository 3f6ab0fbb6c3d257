package ops

import (
	"math/rand"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
)

// Benchmarks of the element-wise and routing operators on a ResNet-sized
// activation (64×56×56).
func benchForward(b *testing.B, s *graph.NodeSpec, in ...*graph.Tensor) {
	op, err := graph.Build(s)
	if err != nil {
		b.Fatal(err)
	}
	shapes := make([][]int, len(in))
	for i, x := range in {
		shapes[i] = x.Shape
	}
	os, err := op.Infer(shapes)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]*graph.Tensor, len(os))
	for i, sh := range os {
		out[i] = graph.New(sh...)
	}
	b.SetBytes(int64(4 * (in[0].Len() + out[0].Len())))
	b.ResetTimer()
	for range b.N {
		if err := op.Forward(in, out); err != nil {
			b.Fatal(err)
		}
	}
}

func benchBackward(b *testing.B, mode graph.Mode, s *graph.NodeSpec, seeds int, in ...*graph.Tensor) {
	op, err := graph.Build(s)
	if err != nil {
		b.Fatal(err)
	}
	shapes := make([][]int, len(in))
	for i, x := range in {
		shapes[i] = x.Shape
	}
	os, _ := op.Infer(shapes)
	y := []*graph.Tensor{graph.New(os[0]...)}
	if err := op.Forward(in, y); err != nil {
		b.Fatal(err)
	}
	dy := []*graph.Tensor{graph.New(withSeeds(y[0].Shape, seeds)...)}
	dx := make([]*graph.Tensor, len(in))
	for i, x := range in {
		dx[i] = graph.New(withSeeds(x.Shape, seeds)...)
	}
	bp := op.(graph.Backprop)
	b.SetBytes(int64(4 * (dy[0].Len() + dx[0].Len())))
	b.ResetTimer()
	for range b.N {
		if err := bp.Backward(mode, in, y, dy, dx); err != nil {
			b.Fatal(err)
		}
	}
}

func benchInput(shape ...int) *graph.Tensor {
	return randT(rand.New(rand.NewSource(1)), 3, 0, nil, shape...)
}

func BenchmarkRelu(b *testing.B) {
	benchForward(b, spec("Relu", 14, nil, "x"), benchInput(1, 64, 56, 56))
}

func BenchmarkSigmoid(b *testing.B) {
	benchForward(b, spec("Sigmoid", 13, nil, "x"), benchInput(1, 64, 56, 56))
}

func BenchmarkAddResidual(b *testing.B) {
	benchForward(b, spec("Add", 14, nil, "a", "b"), benchInput(1, 64, 56, 56), benchInput(1, 64, 56, 56))
}

func BenchmarkMulGate(b *testing.B) {
	benchForward(b, spec("Mul", 14, nil, "a", "b"), benchInput(1, 64, 56, 56), benchInput(1, 64, 1, 1))
}

func BenchmarkConcat(b *testing.B) {
	benchForward(b, spec("Concat", 13, map[string]graph.Attr{"axis": aInt(1)}, "a", "b"), benchInput(1, 64, 56, 56), benchInput(1, 64, 56, 56))
}

func BenchmarkTranspose(b *testing.B) {
	benchForward(b, spec("Transpose", 13, map[string]graph.Attr{"perm": aInts(0, 2, 3, 1)}, "x"), benchInput(1, 64, 56, 56))
}

func BenchmarkReluBackward8Seeds(b *testing.B) {
	benchBackward(b, graph.Coef, spec("Relu", 14, nil, "x"), 8, benchInput(1, 64, 56, 56))
}

func BenchmarkSigmoidBackward8Seeds(b *testing.B) {
	benchBackward(b, graph.Coef, spec("Sigmoid", 13, nil, "x"), 8, benchInput(1, 64, 56, 56))
}

func BenchmarkMulGateBackward8Seeds(b *testing.B) {
	benchBackward(b, graph.Coef, spec("Mul", 14, nil, "a", "b"), 8, benchInput(1, 64, 56, 56), benchInput(1, 64, 1, 1))
}
