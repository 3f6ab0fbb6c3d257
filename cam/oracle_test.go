package cam_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/paneonnx/paneonnx/cam"
	"github.com/paneonnx/paneonnx/graph"
	_ "github.com/paneonnx/paneonnx/graph/ops"
	"github.com/paneonnx/paneonnx/saliency"
)

// gapNet is a network with Zhou et al.'s CAM head: x (N×3×8×8) → Conv 3×3
// stride 2 pad 1 (K = 5) → Relu → GlobalAveragePool → Flatten → Gemm
// (5 → 4 classes, weight Wfc[class][k]).
type gapNet struct {
	g  *graph.Graph
	fc [][]float64 // [class][k]
	x  *graph.Tensor
}

const (
	gapK       = 5
	gapClasses = 4
)

// node builds one node with data input in (position 0) followed by the
// constant operands consts.
func node(t *testing.T, name, typ string, attrs map[string]graph.Attr, in, out string, consts ...*graph.Const) *graph.Node {
	t.Helper()
	s := &graph.NodeSpec{Name: name, Type: typ, Opset: 13, Attrs: attrs, NumOutputs: 1, Inputs: []graph.Input{{Name: in}}}
	for i, c := range consts {
		s.Inputs = append(s.Inputs, graph.Input{Name: fmt.Sprintf("%s_const%d", name, i), Const: c})
	}
	op, err := graph.Build(s)
	if err != nil {
		t.Fatal(err)
	}
	return &graph.Node{Name: name, Op: op, Inputs: []string{in}, Outputs: []string{out}}
}

func randConst(rng *rand.Rand, shape ...int) *graph.Const {
	c := &graph.Const{Shape: shape, V: make([]float64, graph.NumElements(shape))}
	for i := range c.V {
		c.V[i] = float64(float32(rng.NormFloat64()))
	}
	return c
}

func newGapNet(t *testing.T, images int) *gapNet {
	rng := rand.New(rand.NewPCG(1, 2))
	ints := func(v ...int64) graph.Attr { return graph.Attr{Kind: graph.AttrInts, Ints: v} }
	w := randConst(rng, gapK, 3, 3, 3)
	b := randConst(rng, gapK)
	fc := randConst(rng, gapK, gapClasses) // Gemm B as [K, classes]
	fcb := randConst(rng, gapClasses)
	g := &graph.Graph{
		Inputs:      []string{"x"},
		InputShapes: [][]int{{-1, 3, 8, 8}},
		Outputs:     []string{"y"},
		Nodes: []*graph.Node{
			node(t, "conv", "Conv", map[string]graph.Attr{"strides": ints(2, 2), "pads": ints(1, 1, 1, 1)}, "x", "a", w, b),
			node(t, "relu", "Relu", nil, "a", "r"),
			node(t, "gap", "GlobalAveragePool", nil, "r", "p"),
			node(t, "flat", "Flatten", nil, "p", "f"),
			node(t, "fc", "Gemm", nil, "f", "y", fc, fcb),
		},
	}
	if err := g.Sort(); err != nil {
		t.Fatal(err)
	}
	n := &gapNet{g: g, x: graph.New(images, 3, 8, 8)}
	for i := range n.x.Data {
		n.x.Data[i] = float32(rng.NormFloat64())
	}
	n.fc = make([][]float64, gapClasses)
	for c := range n.fc {
		n.fc[c] = make([]float64, gapK)
		for k := range gapK {
			n.fc[c][k] = fc.V[k*gapClasses+c]
		}
	}
	return n
}

// bilinear is an independent half-pixel bilinear resize (cv2.resize's
// INTER_LINEAR), written from the formula.
func bilinear(src []float64, h, w, H, W int) []float64 {
	coord := func(d, in, out int) (int, int, float64) {
		s := (float64(d)+0.5)*float64(in)/float64(out) - 0.5
		if s < 0 {
			s = 0
		}
		i0 := int(math.Floor(s))
		if i0 >= in-1 {
			return in - 1, in - 1, 0
		}
		return i0, i0 + 1, s - float64(i0)
	}
	out := make([]float64, H*W)
	for y := range H {
		y0, y1, fy := coord(y, h, H)
		for x := range W {
			x0, x1, fx := coord(x, w, W)
			top := src[y0*w+x0]*(1-fx) + src[y0*w+x1]*fx
			bot := src[y1*w+x0]*(1-fx) + src[y1*w+x1]*fx
			out[y*W+x] = top*(1-fy) + bot*fy
		}
	}
	return out
}

func minMax64(x []float64) {
	lo, hi := math.Inf(1), 0.0
	for _, v := range x {
		lo = min(lo, v)
	}
	for i := range x {
		x[i] -= lo
		hi = max(hi, x[i])
	}
	for i := range x {
		x[i] /= 1e-7 + hi
	}
}

// TestGAPHeadOracle: with a GAP → FC head, ∂y_t/∂A_k = W_tk/(h·w) wherever
// the ReLU passes, so Grad-CAM and XGrad-CAM both equal the CAM of Zhou et
// al., Σ_k W_tk A_k (A the ReLU output), after ReLU and min-max; Layer-CAM
// equals the same sum over the positive W_tk only. The expected maps are
// built here from the activations and the FC weights, resized by an
// independent bilinear implementation.
func TestGAPHeadOracle(t *testing.T) {
	net := newGapNet(t, 3)
	p, err := saliency.NewPass(net.g, net.x)
	if err != nil {
		t.Fatal(err)
	}
	if layer, err := cam.DefaultLayer(net.g, shapesOf(p)); err != nil || layer != "r" {
		t.Fatalf("default layer %q (%v), want the ReLU output r", layer, err)
	}
	targets := []int{0, 3, 1}
	a := p.Acts["r"]
	const h, w, hw = 4, 4, 16
	expected := func(img int, keep func(float64) bool) (raw, final []float64) {
		raw = make([]float64, hw)
		for k := range gapK {
			wk := net.fc[targets[img]][k]
			if !keep(wk) {
				continue
			}
			for i := range hw {
				raw[i] += wk * float64(a.Data[(img*gapK+k)*hw+i])
			}
		}
		for i := range raw {
			raw[i] = max(raw[i], 0)
		}
		low := append([]float64(nil), raw...)
		minMax64(low)
		final = bilinear(low, h, w, 8, 8)
		minMax64(final)
		return raw, final
	}
	all := func(float64) bool { return true }
	positive := func(v float64) bool { return v > 0 }
	for _, c := range []struct {
		method string
		keep   func(float64) bool
		scale  float64 // raw cam = scale × Σ_k W_tk A_k
	}{{cam.GradCAM, all, 1.0 / hw}, {cam.XGradCAM, all, 1.0 / hw}, {cam.LayerCAM, positive, 1.0 / hw}} {
		m, err := saliency.Lookup(c.method)
		if err != nil {
			t.Fatal(err)
		}
		maps, err := m.Maps(p, targets, saliency.Options{})
		if err != nil {
			t.Fatal(err)
		}
		for img, mp := range maps {
			if mp.C != 1 || mp.H != 8 || mp.W != 8 || len(mp.RawShape) != 3 || mp.RawShape[1] != h || mp.RawShape[2] != w {
				t.Fatalf("%s: map %d×%d×%d raw %v", c.method, mp.C, mp.H, mp.W, mp.RawShape)
			}
			raw, final := expected(img, c.keep)
			for i := range final {
				if d := math.Abs(float64(mp.Data[i]) - final[i]); d > 1e-5 {
					t.Fatalf("%s image %d: map[%d] = %g, CAM gives %g", c.method, img, i, mp.Data[i], final[i])
				}
			}
			for i := range raw {
				if d := math.Abs(float64(mp.Raw[i]) - c.scale*raw[i]); d > 1e-5*(1+c.scale*raw[i]) {
					t.Fatalf("%s image %d: raw[%d] = %g, want %g", c.method, img, i, mp.Raw[i], c.scale*raw[i])
				}
			}
		}
	}
}

func shapesOf(p *saliency.Pass) map[string][]int {
	s := map[string][]int{}
	for name, t := range p.Acts {
		s[name] = t.Shape
	}
	return s
}

// TestEigenCAMRankOne: activations A_k(ij) = u_k·s(ij) + c_k have the
// centred matrix (s − mean s)·uᵀ, whose projection on the first right
// singular vector is ±|u|·(s − mean s); the sign rule makes its
// largest-magnitude value positive.
func TestEigenCAMRankOne(t *testing.T) {
	net := newGapNet(t, 1)
	p, err := saliency.NewPass(net.g, net.x)
	if err != nil {
		t.Fatal(err)
	}
	// Overwrite the target activations with a rank-one pattern.
	a := p.Acts["r"]
	s := []float64{0, 1, 2, 3, 1, -4, 2, 0, 0.5, 1, 1, 1, 2, 2, -1, 0}
	u := []float64{1, -2, 0.5, 3, 1.5}
	for k := range gapK {
		for i := range s {
			a.Data[k*16+i] = float32(u[k]*s[i] + float64(k))
		}
	}
	m, _ := saliency.Lookup(cam.EigenCAM)
	maps, err := m.Maps(p, []int{0}, saliency.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var mean float64
	for _, v := range s {
		mean += v / 16
	}
	var norm float64
	for _, v := range u {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	// The largest |s − mean| is at s = −4: negative, so the sign flips.
	for i, v := range s {
		want := max(-(v-mean)*norm, 0)
		if d := math.Abs(float64(maps[0].Raw[i]) - want); d > 1e-4*norm {
			t.Fatalf("raw[%d] = %g, want %g", i, maps[0].Raw[i], want)
		}
	}
}

// TestTargetsChecked: a wrong number of targets or an index outside the
// logits is an error naming the method, for every method.
func TestTargetsChecked(t *testing.T) {
	net := newGapNet(t, 2)
	p, err := saliency.NewPass(net.g, net.x)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range cam.Names {
		m, err := saliency.Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, targets := range [][]int{{0}, {0, gapClasses}, {-1, 0}} {
			if _, err := m.Maps(p, targets, saliency.Options{}); err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s with targets %v: error %v", name, targets, err)
			}
		}
		if _, err := m.Maps(p, []int{0, 1}, saliency.Options{TargetLayer: "nope"}); name != cam.FullGrad && (err == nil || !strings.Contains(err.Error(), `"nope"`)) {
			t.Errorf("%s with an unknown target layer: error %v", name, err)
		}
		if _, err := m.Maps(p, []int{0, 1}, saliency.Options{TargetLayer: "f"}); name != cam.FullGrad && err == nil {
			t.Errorf("%s with a 2-D target layer: no error", name)
		}
	}
}
