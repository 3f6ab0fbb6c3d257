package excitation_test

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// lowered imports the model in dir, makes it canonical, runs it on
// test_data_set_0 and lowers the pass.
func lowered(t *testing.T, dir string) (*excitation.Lowered, *importer.Model) {
	t.Helper()
	m, x := testutil.LoadModel(t, dir)
	return lowerPass(t, excitation.Canonical(m.Graph), x), m
}

// lowerPass runs g on x keeping every tensor and lowers the pass.
func lowerPass(t *testing.T, g *graph.Graph, x *graph.Tensor) *excitation.Lowered {
	t.Helper()
	acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		t.Fatal(err)
	}
	l, err := excitation.Lower(g, acts)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func testModelDirs(t *testing.T) []string {
	dirs, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testmodels", "*", "test_data_set_0"))
	for i := range dirs {
		dirs[i] = filepath.Dir(dirs[i])
	}
	if len(dirs) == 0 {
		t.Fatal("no test models found")
	}
	return dirs
}

// TestGradMatchesPyTorch compares Grad mode at the input with the
// gradients PyTorch autograd computed on the original modules
// (testmodels/*/test_data_set_0/grad_input_0.pb, target = argmax per image).
func TestGradMatchesPyTorch(t *testing.T) {
	for _, dir := range testModelDirs(t) {
		golden := filepath.Join(dir, "test_data_set_0", "grad_input_0.pb")
		if _, err := os.Stat(golden); err != nil {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			l, m := lowered(t, dir)
			_, targets, err := importer.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "grad_targets.pb"))
			if err != nil {
				t.Fatal(err)
			}
			_, want, err := importer.ReadTensorFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			out := m.Graph.Outputs[0]
			seeds := oneHot(l.Acts[out], targets.Int64())
			res, err := l.Backward(excitation.Request{Mode: excitation.Grad, SeedTensor: out, Seeds: seeds})
			if err != nil {
				t.Fatal(err)
			}
			got := res.At[m.Graph.Inputs[0]]
			if e := testutil.RelErr(got.T.Data, want.Float32()); e > 1e-4 {
				t.Errorf("gradient differs from PyTorch: relative error %.3g", e)
			}
		})
	}
}

// oneHot returns seeds of y's shape selecting class targets[n] of image n.
func oneHot(y *graph.Tensor, targets []int64) *graph.Tensor {
	s := graph.New(y.Shape...)
	per := len(y.Data) / y.Batch()
	for n, c := range targets {
		s.Data[n*per+int(c)] = 1
	}
	return s
}

// allClasses returns seeds for classes [from, to) of every image: row
// n·(to−from)+k selects class from+k of image n.
func allClasses(y *graph.Tensor, from, to int) *graph.Tensor {
	n, classes := y.Batch(), len(y.Data)/y.Batch()
	k := to - from
	s := graph.New(append([]int{n * k}, y.Shape[1:]...)...)
	for i := range n {
		for j := range k {
			s.Data[(i*k+j)*classes+from+j] = 1
		}
	}
	return s
}

// checkCompleteness runs full PANE for classes [from, to) and checks SPEC
// §5.6: the S reconstruction of every logit within 1e-4 of |logit|, the
// E+/E− split within 1e-4 of |E+| + |E−|, everything finite. It returns the
// largest |E+|/|logit| seen.
func checkCompleteness(t *testing.T, l *excitation.Lowered, logits string, from, to int) float64 {
	ratio, _ := checkCompletenessResidual(t, l, logits, from, to)
	return ratio
}

// checkCompletenessResidual is checkCompleteness, also returning the
// largest residual relative to |logit| alone.
func checkCompletenessResidual(t *testing.T, l *excitation.Lowered, logits string, from, to int) (ratio, plain float64) {
	t.Helper()
	res, err := l.Backward(excitation.Request{Mode: excitation.Full, SeedTensor: logits, Seeds: allClasses(l.Acts[logits], from, to)})
	if err != nil {
		t.Fatal(err)
	}
	y := l.Acts[logits]
	per := len(y.Data) / y.Batch()
	perImage := len(res.Completeness) / y.Batch()
	for b, c := range res.Completeness {
		// Forward and backward vectors are float32: each product rounds to
		// about 1e-7 of the magnitude of its terms, and a logit that is a
		// small difference of large terms (the random-weight DenseNet has
		// a logit of 0.04 next to one of 6.2) cannot be reconstructed to
		// 1e-4 of itself. The scale is therefore at least a tenth of the
		// image's largest |logit| (explain reports the plain residual
		// relative to |logit|).
		scale := math.Max(math.Abs(c.Target), 0.1*maxAbs(y.Data[(b/perImage)*per:(b/perImage+1)*per]))
		if r := math.Abs(c.Target-c.Reconstructed) / scale; !(r <= 1e-4) {
			t.Errorf("row %d (class %d): logit %.6g reconstructed as %.6g (residual %.3g of %.3g)", b, from+b%(to-from), c.Target, c.Reconstructed, r, scale)
		}
		if r := c.SplitResidual(); !(r <= 1e-4) {
			t.Errorf("row %d: E+ %.4g, E− %.4g do not add up to %.6g (residual %.3g)", b, c.EPos, c.ENeg, c.Target, r)
		}
		if math.IsNaN(c.Delta) || math.IsInf(c.Delta, 0) {
			t.Errorf("row %d: Delta is %v", b, c.Delta)
		}
		if c.Target != 0 {
			ratio = math.Max(ratio, math.Abs(c.EPos/c.Target))
		}
		plain = math.Max(plain, c.Residual())
	}
	return ratio, plain
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

func TestCompletenessTestModels(t *testing.T) {
	for _, dir := range testModelDirs(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			l, _ := lowered(t, dir)
			logits := excitation.Logits(l.G)
			classes := len(l.Acts[logits].Data) / l.Images
			ratio := checkCompleteness(t, l, logits, 0, classes)
			t.Logf("max |E+|/|logit| = %.3g", ratio)
		})
	}
}

// TestCompletenessSharedModels checks every class of the small shared
// models and, for models with more than 100 classes, the first 64 classes
// (every class with PANEONNX_ALL_CLASSES=1, which takes minutes).
func TestCompletenessSharedModels(t *testing.T) {
	dirs, _ := filepath.Glob(filepath.Join(testutil.SharedDir(t), "models", "*", "model.onnx"))
	for _, path := range dirs {
		dir := filepath.Dir(path)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			l, _ := lowered(t, dir)
			logits := excitation.Logits(l.G)
			classes := len(l.Acts[logits].Data) / l.Images
			chunk := max(1, 64/l.Images)
			if classes > 100 && os.Getenv("PANEONNX_ALL_CLASSES") == "" {
				classes = chunk
			}
			var ratio, plain float64
			for from := 0; from < classes; from += chunk {
				r, p := checkCompletenessResidual(t, l, logits, from, min(from+chunk, classes))
				ratio, plain = math.Max(ratio, r), math.Max(plain, p)
			}
			t.Logf("%d classes, max |E+|/|logit| = %.3g, max residual relative to |logit| alone = %.3g", classes, ratio, plain)
		})
	}
}

// TestCompletenessFullSize checks full PANE on the full-size torchvision
// exports of `make fullmodels` (skipped when they are absent), where E+ and
// E− reach 1e50 and more times the logit: the per-seed scale must keep
// everything finite and the decomposition exact.
func TestCompletenessFullSize(t *testing.T) {
	for _, name := range []string{"resnet18_full_op13", "resnet50_full_op13", "densenet121_full_op13", "mobilenet_v2_full_op13"} {
		dir := filepath.Join(testutil.RepoRoot(t), "testmodels", "cache", name)
		t.Run(name, func(t *testing.T) {
			if _, err := os.Stat(filepath.Join(dir, "test_data_set_0", "input_0.pb")); err != nil {
				t.Skipf("%s not exported (make fullmodels): %v", dir, err)
			}
			l, _ := lowered(t, dir)
			ratio := checkCompleteness(t, l, excitation.Logits(l.G), 0, 4)
			t.Logf("max |E+|/|logit| = %.3g", ratio)
		})
	}
}

// TestGatedProducts checks that taking a ReLU's or Clip's product into the
// excitation product of its one consumer changes nothing: the vectors at
// the input equal those of a pass that reads every tensor, where each
// node makes its own product (a read tensor's vector must be its own).
func TestGatedProducts(t *testing.T) {
	dirs := testModelDirs(t)
	for _, name := range []string{"mobilenet_v2_1.0_224_quant", "cifar10_resnet8_mlperf_tiny"} {
		dirs = append(dirs, filepath.Join(testutil.SharedDir(t), "models", name))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			l, m := lowered(t, dir)
			logits := excitation.Logits(l.G)
			seeds := oneHot(l.Acts[logits], make([]int64, l.Images))
			var all []string
			for _, n := range l.G.Nodes {
				all = append(all, n.Outputs...)
			}
			in := m.Graph.Inputs[0]
			for _, mode := range []excitation.Mode{excitation.ExcPos, excitation.ExcNeg, excitation.RelNeg} {
				gated, err := l.Backward(excitation.Request{Mode: mode, SeedTensor: logits, Seeds: seeds})
				if err != nil {
					t.Fatal(err)
				}
				plain, err := l.Backward(excitation.Request{Mode: mode, SeedTensor: logits, Seeds: seeds, Read: all})
				if err != nil {
					t.Fatal(err)
				}
				for b := range l.Images {
					if e := relErr64(gated.At[in].Float64(b), plain.At[in].Float64(b)); !(e <= 1e-6) {
						t.Errorf("%s, image %d: the gated pass differs (relative error %g)", mode, b, e)
					}
				}
			}
		})
	}
}
