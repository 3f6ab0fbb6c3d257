package importer_test

import (
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/importer/onnxpb"
)

// TestGateOperandFrozen checks that sigmoid(x)·x, written with the gate
// first, gets the local linear form of SiLU: the coefficient sigmoid(x) on x
// (the secant (f(x) − f(0))/x), with nothing flowing through the gate.
func TestGateOperandFrozen(t *testing.T) {
	m := model([]*onnxpb.NodeProto{
		node("Sigmoid", "sig", []string{"x"}, "s"),
		node("Mul", "gate", []string{"s", "x"}, "y"),
	})
	data, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := importer.Decode(data, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	x := graph.New(1, 3, 4, 4)
	for i := range x.Data {
		x.Data[i] = float32(i%7) - 3
	}
	acts, err := mod.Graph.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		t.Fatal(err)
	}
	l, err := excitation.Lower(mod.Graph, acts)
	if err != nil {
		t.Fatal(err)
	}
	seeds := graph.New(1, 3, 4, 4)
	for i := range seeds.Data {
		seeds.Data[i] = 1
	}
	res, err := l.Backward(excitation.Request{Mode: excitation.Coef, SeedTensor: "y", Seeds: seeds})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range res.At["x"].T.Data {
		want := 1 / (1 + math.Exp(-float64(x.Data[i])))
		if math.Abs(float64(v)-want) > 1e-6 {
			t.Fatalf("element %d (x = %g): coefficient %g, want sigmoid(x) = %g", i, x.Data[i], v, want)
		}
	}
}
