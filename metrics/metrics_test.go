package metrics

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	_ "github.com/paneonnx/paneonnx/iom"
	"github.com/paneonnx/paneonnx/preprocess"
	"github.com/paneonnx/paneonnx/saliency"
)

// linear is a fake model with two logits: Σ_j w_j x_j and 0, so that
// p_0 = σ(w·x). It records every input it sees.
type linear struct {
	w    []float32
	seen [][]float32
}

func (l *linear) Logits(x []float32, n int) ([]float32, error) {
	size := len(x) / n
	out := make([]float32, 0, 2*n)
	for i := range n {
		in := x[i*size : (i+1)*size]
		l.seen = append(l.seen, append([]float32(nil), in...))
		var s float32
		for j, v := range in {
			s += l.w[j] * v
		}
		out = append(out, s, 0)
	}
	return out, nil
}

func sigmoid(v float64) float64 { return 1 / (1 + math.Exp(-v)) }

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("%s = %.9g, want %.9g", what, got, want)
	}
}

// TestHandWorked checks every per-image quantity on a 1×2×2 image in tensor
// space with four steps, all worked out by hand:
//
//	X = [0.2 0.4 0.6 0.8], w = [1 2 −1 0.5], logit(X) = 0.8
//	map = [0.5 −1 1 0.5] → S = [0.5 0 1 0.5], mean(S) = 0.5
//	E = 0.5X + 0.5S = [0.35 0.2 0.8 0.65]   → logit 0.275
//	S⊙X = [0.1 0 0.6 0.4]                   → logit −0.3
//	X̂ (S > 0.5 removed) = [0.2 0.4 0 0.8]   → logit 1.4
//	order (S desc, index tie-break): 2, 0, 3, 1
//	deletion logits: 0.8, 1.4, 1.2, 0.8, 0
//	insertion from [0.5 0.5 0.5 0.5]: 1.25, 1.15, 0.85, 1.0, 0.8
func TestHandWorked(t *testing.T) {
	model := &linear{w: []float32{1, 2, -1, 0.5}}
	e := &Evaluator{Model: model, Steps: 4}
	img := &Image{X: []float32{0.2, 0.4, 0.6, 0.8}, C: 1, H: 2, W: 2, Target: 0}
	ref, err := e.Reference(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Y", ref.Y, sigmoid(0.8))
	near(t, "logit", ref.Logit, 0.8)
	near(t, "no heatmap", ref.NoHeatmap, sigmoid(0.4))
	ref.blurred = []float32{0.5, 0.5, 0.5, 0.5}
	r, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 1, H: 2, W: 2, Data: []float32{0.5, -1, 1, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "area", r.Area, 0.75)
	near(t, "value", r.Value, 2.0/3)
	near(t, "O", r.O, sigmoid(0.275))
	near(t, "O (S⊙X)", r.OProduct, sigmoid(-0.3))
	near(t, "O (X̂)", r.OMasked, sigmoid(1.4))
	near(t, "masked fraction", r.MaskedFraction, 0.25)
	if want := []float64{0, 0.25, 0.5, 0.75, 1}; !slices.Equal(r.Fractions, want) {
		t.Errorf("fractions %v, want %v", r.Fractions, want)
	}
	del := []float64{0.8, 1.4, 1.2, 0.8, 0}
	ins := []float64{1.25, 1.15, 0.85, 1.0, 0.8}
	var delAUC, insAUC float64
	for k := range del {
		near(t, "deletion", r.Deletion[k], sigmoid(del[k]))
		near(t, "insertion", r.Insertion[k], sigmoid(ins[k]))
		wgt := 0.25
		if k == 0 || k == 4 {
			wgt = 0.125
		}
		delAUC += wgt * sigmoid(del[k])
		insAUC += wgt * sigmoid(ins[k])
	}
	near(t, "deletion AUC", r.DeletionAUC, delAUC)
	near(t, "insertion AUC", r.InsertionAUC, insAUC)
}

// TestElements checks what a map element is: a pixel with all its channels
// for a one-channel (CAM) map, one channel of one pixel for a per-channel
// (IOM) map, on a 3×1×2 image.
func TestElements(t *testing.T) {
	x := []float32{0.1, 0.2, 0.3, 0.4, 0.5, 0.6} // R0 R1 G0 G1 B0 B1
	img := &Image{X: x, C: 3, H: 1, W: 2}
	model := &linear{w: make([]float32, 6)}
	e := &Evaluator{Model: model, Steps: 2}
	ref, err := e.Reference(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	model.seen = nil
	// CAM: pixel 0 first; step 1 deletes it in every channel.
	if _, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 1, H: 1, W: 2, Data: []float32{1, 0.5}}); err != nil {
		t.Fatal(err)
	}
	// Inputs: E, S⊙X, X̂, deletion 0..2, insertion 0..2.
	if want := []float32{0.55, 0.35, 0.65, 0.45, 0.75, 0.55}; !close32(model.seen[0], want) {
		t.Errorf("CAM E = %v, want %v", model.seen[0], want)
	}
	if want := []float32{0, 0.2, 0, 0.4, 0, 0.6}; !close32(model.seen[2], want) { // S > mean 0.75: pixel 0
		t.Errorf("CAM X̂ = %v, want %v", model.seen[2], want)
	}
	if want := []float32{0, 0.2, 0, 0.4, 0, 0.6}; !close32(model.seen[4], want) {
		t.Errorf("CAM deletion step 1 = %v, want %v", model.seen[4], want)
	}
	// IOM: elements ordered 1 (0.9), 2, 3 (0.3 each, index order), 0, 4, 5;
	// with 6 elements and 3 steps, steps delete 0, 2, 4, 6 elements.
	model.seen = nil
	e.Steps = 3
	if _, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 3, H: 1, W: 2, Data: []float32{0.1, 0.9, 0.3, 0.3, 0, -1}}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{0.1, 0, 0, 0.4, 0.5, 0.6}; !close32(model.seen[4], want) {
		t.Errorf("IOM deletion step 1 = %v, want %v", model.seen[4], want)
	}
	if want := []float32{0, 0, 0, 0, 0.5, 0.6}; !close32(model.seen[5], want) {
		t.Errorf("IOM deletion step 2 = %v, want %v", model.seen[5], want)
	}
	// X̂: mean(S) = 1.6/6; S > mean for elements 1, 2, 3.
	if want := []float32{0.1, 0, 0, 0, 0.5, 0.6}; !close32(model.seen[2], want) {
		t.Errorf("IOM X̂ = %v, want %v", model.seen[2], want)
	}
	// A map of another channel count or size is refused.
	if _, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 2, H: 1, W: 2, Data: make([]float32, 4)}); err == nil {
		t.Error("a 2-channel map for a 3-channel image was accepted")
	}
	if _, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 1, H: 1, W: 2, Data: []float32{float32(math.NaN()), 0}}); err == nil {
		t.Error("a NaN map was accepted")
	}
}

func close32(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > 1e-6 {
			return false
		}
	}
	return true
}

// TestZeroMap: an all-zero map has no area, leaves X̂ = X, makes E the
// "No heatmap" map and deletes in index order.
func TestZeroMap(t *testing.T) {
	model := &linear{w: []float32{1, 2, -1, 0.5}}
	e := &Evaluator{Model: model, Steps: 4}
	img := &Image{X: []float32{0.2, 0.4, 0.6, 0.8}, C: 1, H: 2, W: 2}
	ref, err := e.Reference(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 1, H: 2, W: 2, Data: make([]float32, 4)})
	if err != nil {
		t.Fatal(err)
	}
	if r.Area != 0 || r.Value != 0 || r.MaskedFraction != 0 {
		t.Errorf("area %g value %g masked %g, want 0", r.Area, r.Value, r.MaskedFraction)
	}
	near(t, "O", r.O, ref.NoHeatmap)
	near(t, "O (X̂)", r.OMasked, ref.Y)
	near(t, "O (S⊙X)", r.OProduct, 0.5)
	for k, l := range []float64{0.8, 0.6, -0.2, 0.4, 0} { // deletes 0, 1, 2, 3 in turn
		near(t, "deletion", r.Deletion[k], sigmoid(l))
	}
	sum, err := Aggregate([]string{"zero"}, []Sample{{Y: ref.Y, NoHeatmap: ref.NoHeatmap, Results: map[string]*Result{"zero": r}}})
	if err != nil {
		t.Fatal(err)
	}
	row := sum.Rows[0]
	if row.ValueImages != 0 || row.AvgValue != 0 || row.ConfDrop != 0 || row.Win != 1 {
		t.Errorf("zero-map row %+v", row)
	}
	near(t, "avg drop", row.AvgDrop, sum.NoHeatmapDrop)
}

// TestPixelSpace: perturbations are made on pixels and normalised for the
// model: deletion to pixel 0 reaches the model as (0 − 0.5)/0.5 = −1.
func TestPixelSpace(t *testing.T) {
	opt := preprocess.Options{Size: [2]int{1, 2}, Scale: 1.0 / 255, Mean: [3]float32{0.5}, Std: [3]float32{0.5}, Channels: 1}
	model := &linear{w: []float32{1, 1}}
	e := &Evaluator{Model: model, Pre: &opt, Steps: 2}
	img := &Image{X: []float32{0.25, 1}, C: 1, H: 1, W: 2}
	ref, err := e.Reference(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Y", ref.Y, sigmoid(-0.5+1))
	model.seen = nil
	if _, err := e.Evaluate(context.Background(), img, ref, saliency.Map{C: 1, H: 1, W: 2, Data: []float32{0, 1}}); err != nil {
		t.Fatal(err)
	}
	if want := []float32{-0.5, -1}; !close32(model.seen[4], want) { // deletion step 1 deletes pixel 1
		t.Errorf("deletion step 1 reached the model as %v, want %v", model.seen[4], want)
	}
}

// TestWinTies: two images, three methods; on image 1 methods a and b tie.
//
//	image 1: Y = 0.8, O = a 0.6, b 0.6, c 0.4 → a, b win ½ each
//	image 2: Y = 0.5, O = a 0.1, b 0.2, c 0.7 → c wins
//	Win = a 0.25, b 0.25, c 0.5; Avg Drop a = (0.25 + 0.8)/2, c = (0.5 + 0)/2
func TestWinTies(t *testing.T) {
	res := func(o float64) *Result { return &Result{O: o, OProduct: o, OMasked: o} }
	samples := []Sample{
		{Y: 0.8, NoHeatmap: 0.4, Results: map[string]*Result{"a": res(0.6), "b": res(0.6), "c": res(0.4)}},
		{Y: 0.5, NoHeatmap: 0.6, Results: map[string]*Result{"a": res(0.1), "b": res(0.2), "c": res(0.7)}},
		{Y: 0.9, NoHeatmap: 0.6, Results: map[string]*Result{"a": res(0.1)}}, // incomplete: no win
	}
	sum, err := Aggregate([]string{"a", "b", "c"}, samples)
	if err != nil {
		t.Fatal(err)
	}
	if sum.WinImages != 2 || sum.Images != 3 {
		t.Fatalf("win images %d, images %d", sum.WinImages, sum.Images)
	}
	var total float64
	for i, want := range []float64{0.25, 0.25, 0.5} {
		near(t, "win "+sum.Rows[i].Method, sum.Rows[i].Win, want)
		total += sum.Rows[i].Win
	}
	near(t, "win column", total, 1)
	near(t, "avg drop a", sum.Rows[0].AvgDrop, (0.25+0.8+(0.8/0.9))/3)
	near(t, "avg drop c", sum.Rows[2].AvgDrop, 0.25)
	near(t, "increase c", sum.Rows[2].Increase, 0.5)
	near(t, "conf drop c", sum.Rows[2].ConfDrop, (0.5-0.4)/2)
	near(t, "no heatmap drop", sum.NoHeatmapDrop, (0.5+0+(0.3/0.9))/3)
	near(t, "no heatmap increase", sum.NoHeatmapIncrease, 1.0/3)
}

// TestBlur: a unit impulse spreads into the normalised Gaussian, and the
// weights are renormalised at the border (a constant image stays constant).
func TestBlur(t *testing.T) {
	x := make([]float32, 13*13)
	x[6*13+6] = 1
	b := Blur(x, 1, 13, 13, 1)
	g := func(d float64) float64 { return math.Exp(-d * d / 2) }
	var z float64
	for d := -3; d <= 3; d++ {
		z += g(float64(d))
	}
	near(t, "centre", float64(b[6*13+6]), 1/(z*z))
	near(t, "(1,2) off", float64(b[7*13+8]), g(1)*g(2)/(z*z))
	c := Blur([]float32{0.5, 0.5, 0.5, 0.5}, 1, 2, 2, 3)
	for _, v := range c {
		near(t, "constant", float64(v), 0.5)
	}
	near(t, "sigma at 224", BlurSigma(224, 224), 5)
	near(t, "sigma at 28", BlurSigma(28, 28), 0.625)
}

// TestDefaultModel runs the metrics through a real graph: the embedded MNIST
// CNN on its digit, with the IOM map.
func TestDefaultModel(t *testing.T) {
	m, err := importer.Load("../testmodels/default/model.onnx", nil)
	if err != nil {
		t.Fatal(err)
	}
	sidecar, err := preprocess.LoadSidecar(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	opt, _, err := preprocess.Resolve([3]int{1, 28, 28}, sidecar)
	if err != nil {
		t.Fatal(err)
	}
	pi, err := preprocess.Load("../testmodels/default/digit.png", opt)
	if err != nil {
		t.Fatal(err)
	}
	g := excitation.Canonical(m.Graph)
	x, err := graph.FromData([]int{1, 1, 28, 28}, pi.Tensor)
	if err != nil {
		t.Fatal(err)
	}
	pass, err := saliency.NewPass(g, x)
	if err != nil {
		t.Fatal(err)
	}
	logits := pass.Acts[pass.Logits].Data
	target := 0
	for i, v := range logits {
		if v > logits[target] {
			target = i
		}
	}
	meth, err := saliency.Lookup("iom")
	if err != nil {
		t.Fatal(err)
	}
	maps, err := meth.Maps(pass, []int{target}, saliency.Options{Smooth: 3})
	if err != nil {
		t.Fatal(err)
	}
	e := &Evaluator{Model: NewGraphModel(g, []int{1, 28, 28}), Pre: &opt}
	img := &Image{X: pi.Pixels, C: 1, H: 28, W: 28, Target: target}
	ref, err := e.Reference(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	if want := Softmax(logits, target); math.Abs(ref.Y-want) > 1e-6 {
		t.Errorf("Y = %g, the forward pass gives %g", ref.Y, want)
	}
	r, err := e.Evaluate(context.Background(), img, ref, maps[0])
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Deletion) != 101 || len(r.Insertion) != 101 {
		t.Fatalf("curves of %d and %d points", len(r.Deletion), len(r.Insertion))
	}
	if math.Abs(r.Insertion[100]-ref.Y) > 1e-6 || math.Abs(r.Deletion[0]-ref.Y) > 1e-6 {
		t.Errorf("curve ends %g, %g; Y = %g", r.Deletion[0], r.Insertion[100], ref.Y)
	}
	if !(r.Area > 0 && r.Area < 1 && r.DeletionAUC < r.InsertionAUC) {
		t.Errorf("implausible scores for the IOM map of a correctly classified digit: %+v", r)
	}
	cs, err := Completeness(pass, []int{target})
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Residual() > 1e-4 {
		t.Errorf("completeness residual %g", cs[0].Residual())
	}
	// Cancelled contexts stop the evaluation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Evaluate(ctx, img, ref, maps[0]); err == nil {
		t.Error("a cancelled evaluation succeeded")
	}
}
