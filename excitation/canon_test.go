package excitation_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// TestFoldPaddingRules builds paddings that may and may not be folded: a
// zero spatial padding before a convolution is; a non-zero value, a
// padding of the channels, a second consumer and auto_pad are not.
func TestFoldPaddingRules(t *testing.T) {
	zero := func(pads ...int64) *graph.NodeSpec {
		return &graph.NodeSpec{Type: "Pad", Opset: 13, NumOutputs: 1, Inputs: []graph.Input{{Name: "x"},
			{Name: "p", Const: &graph.Const{Shape: []int{len(pads)}, V: toF(pads), Int: true}}}}
	}
	valued := zero(0, 0, 1, 1, 0, 0, 1, 1)
	valued.Inputs = append(valued.Inputs, graph.Input{Name: "v", Const: &graph.Const{V: []float64{0.5}}})
	conv := func(attrs map[string]graph.Attr) *graph.NodeSpec {
		w := &graph.Const{Shape: []int{2, 2, 3, 3}}
		for i := range 36 {
			w.V = append(w.V, float64(i%7)-3)
		}
		return &graph.NodeSpec{Type: "Conv", Opset: 13, NumOutputs: 1, Attrs: attrs, Inputs: []graph.Input{{Name: "x"}, {Name: "w", Const: w}}}
	}
	strided := map[string]graph.Attr{"strides": specInts(2, 2)}
	same := map[string]graph.Attr{"auto_pad": {Kind: graph.AttrString, S: "SAME_UPPER"}}
	for _, c := range []struct {
		name   string
		pad    *graph.NodeSpec
		conv   map[string]graph.Attr
		second bool // the padded tensor is also a graph output
		folded bool
	}{
		{"zero spatial", zero(0, 0, 1, 0, 0, 0, 2, 1), strided, false, true},
		{"non-zero value", valued, strided, false, false},
		{"channels", zero(0, 1, 0, 0, 0, 0, 0, 0), nil, false, false},
		{"two consumers", zero(0, 0, 1, 1, 0, 0, 1, 1), nil, true, false},
		{"auto_pad", zero(0, 0, 1, 1, 0, 0, 1, 1), same, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			pad, err := graph.Build(c.pad)
			if err != nil {
				t.Fatal(err)
			}
			cv := conv(c.conv)
			if c.name == "channels" {
				cv.Inputs[1].Const.Shape = []int{2, 3, 3, 3}
				cv.Inputs[1].Const.V = append(cv.Inputs[1].Const.V, cv.Inputs[1].Const.V[:18]...)
			}
			op, err := graph.Build(cv)
			if err != nil {
				t.Fatal(err)
			}
			g := &graph.Graph{Inputs: []string{"x"}, InputShapes: [][]int{{-1, 2, 6, 5}}, Outputs: []string{"y"},
				Nodes: []*graph.Node{{Name: "pad", Op: pad, Inputs: []string{"x"}, Outputs: []string{"p"}},
					{Name: "conv", Op: op, Inputs: []string{"p"}, Outputs: []string{"y"}}}}
			if c.second {
				g.Outputs = append(g.Outputs, "p")
			}
			f := excitation.FoldPadding(g)
			if got := len(f.Nodes) == 1; got != c.folded {
				t.Fatalf("folded %v, want %v", got, c.folded)
			}
			x := graph.New(2, 2, 6, 5)
			for i := range x.Data {
				x.Data[i] = float32(math.Sin(float64(i)))
			}
			want, err := g.Run(graph.RunOptions{}, x)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Run(graph.RunOptions{}, x)
			if err != nil {
				t.Fatal(err)
			}
			if e := graph.RelativeError(got["y"].Data, want["y"].Data); e > 1e-6 {
				t.Fatalf("output differs after folding (relative error %g)", e)
			}
		})
	}
}

func toF(v []int64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// TestFoldPaddingSharedModels folds the explicit paddings of the shared
// models exported from TensorFlow and checks that the logits and every
// mode's vector at the input are those of the unfolded graph.
func TestFoldPaddingSharedModels(t *testing.T) {
	for _, name := range []string{"mobilenet_v2_1.0_224_quant", "cifar10_resnet8_mlperf_tiny"} {
		t.Run(name, func(t *testing.T) {
			m, x := testutil.LoadModel(t, filepath.Join(testutil.SharedDir(t), "models", name))
			g := excitation.FoldBatchNorm(m.Graph)
			f := excitation.FoldPadding(g)
			if len(f.Nodes) >= len(g.Nodes) {
				t.Fatalf("no padding folded (%d nodes)", len(g.Nodes))
			}
			for _, n := range f.Nodes {
				if n.Op.Type() == "Pad" {
					t.Errorf("padding %s was not folded", n.Name)
				}
			}
			logits := excitation.Logits(g)
			ref, got := explainAll(t, g, x, logits), explainAll(t, f, x, logits)
			for k := range ref {
				if e := relErr64(got[k], ref[k]); !(e <= 1e-5) {
					t.Errorf("%s differs after folding (relative error %g)", k, e)
				}
			}
		})
	}
}

// explainAll returns the logits and the vectors at the input of every
// mode, seeded at the top logit of image 0.
func explainAll(t *testing.T, g *graph.Graph, x *graph.Tensor, logits string) map[string][]float64 {
	t.Helper()
	l := lowerPass(t, g, x)
	y := l.Acts[logits]
	out := map[string][]float64{"logits": (&excitation.Vec{T: y, Log2Scale: make([]float64, y.Batch())}).Float64(0)}
	seeds := graph.New(y.Shape...)
	top := 0
	for k, v := range y.Data[:len(y.Data)/y.Batch()] {
		if v > y.Data[top] {
			top = k
		}
	}
	seeds.Data[top] = 1
	for _, mode := range []excitation.Mode{excitation.Grad, excitation.ExcPos, excitation.ExcNeg, excitation.Full} {
		res, err := l.Backward(excitation.Request{Mode: mode, SeedTensor: logits, Seeds: seeds})
		if err != nil {
			t.Fatal(err)
		}
		out[mode.String()] = res.At[g.Inputs[0]].Float64(0)
	}
	return out
}

// relErr64 is max |got − want| / max |want| (the absolute error when want
// is zero).
func relErr64(got, want []float64) float64 {
	var d, m float64
	for i := range want {
		d = math.Max(d, math.Abs(got[i]-want[i]))
		m = math.Max(m, math.Abs(want[i]))
	}
	if m == 0 {
		return d
	}
	return d / m
}

// TestFoldPaddingEmptyPads keeps a Pad with no pads at all (an identity,
// which ONNX allows) before a convolution, without failing.
func TestFoldPaddingEmptyPads(t *testing.T) {
	pad, err := graph.Build(&graph.NodeSpec{Type: "Pad", Opset: 13, NumOutputs: 1, Inputs: []graph.Input{{Name: "x"},
		{Name: "p", Const: &graph.Const{Shape: []int{0}, Int: true}}}})
	if err != nil {
		t.Skipf("an empty pads input is refused at import: %v", err)
	}
	conv, err := graph.Build(&graph.NodeSpec{Type: "Conv", Opset: 13, NumOutputs: 1, Inputs: []graph.Input{{Name: "p"},
		{Name: "w", Const: &graph.Const{Shape: []int{1, 1, 1, 1}, V: []float64{2}}}}})
	if err != nil {
		t.Fatal(err)
	}
	g := &graph.Graph{Inputs: []string{"x"}, InputShapes: [][]int{{-1, 1, 2, 2}}, Outputs: []string{"y"},
		Nodes: []*graph.Node{{Name: "pad", Op: pad, Inputs: []string{"x"}, Outputs: []string{"p"}},
			{Name: "conv", Op: conv, Inputs: []string{"p"}, Outputs: []string{"y"}}}}
	if f := excitation.FoldPadding(g); len(f.Nodes) != 2 {
		t.Fatalf("%d nodes after folding, want both kept", len(f.Nodes))
	}
}
