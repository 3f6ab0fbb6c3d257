package cam_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paneonnx/paneonnx/cam"
	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
	"github.com/paneonnx/paneonnx/saliency"
)

// goldenModels have CAM goldens written by testmodels/cam_golden.py: a
// ResNet, a VGG and a MobileNetV2 with every BatchNormalization folded, and
// a net whose BatchNormalizations on the input, after a ReLU and after a
// pool stay (FullGrad uses their biases; its default layer is such a
// normalisation, whose negative minimum exercises Ablation-CAM's
// min(A) − 1e7 through a linear path to the logits).
var goldenModels = []string{"resnet_basic_op13", "vgg_bn_op13", "mobilenet_v2_op13", "bn_standalone_op13"}

// testPass runs the model in dir on test_data_set_0 and returns the pass
// and the argmax targets.
func testPass(t testing.TB, dir string) (*saliency.Pass, []int) {
	t.Helper()
	m, x := testutil.LoadModel(t, dir)
	p, err := saliency.NewPass(excitation.Canonical(m.Graph), x)
	if err != nil {
		t.Fatal(err)
	}
	_, tg, err := importer.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "grad_targets.pb"))
	if err != nil {
		t.Fatal(err)
	}
	var targets []int
	for _, v := range tg.Int64() {
		targets = append(targets, int(v))
	}
	return p, targets
}

// TestGoldens compares every method with the PyTorch reference of
// testmodels/cam_golden.py (pytorch-grad-cam's semantics on the original
// module): final maps within 1e-4 (max-abs error; the maps lie in [0,1])
// and the raw low-resolution cams within 1e-3 relative to their largest
// value. The raw cams are unnormalised and more sensitive to the float32
// forward pass: XGrad-CAM divides by Σ_ij A_k, which for one channel of
// VGG's penultimate (pre-activation) convolution is 0.02 against Σ|A_k| ≈
// 10, so float32 rounding of the activations grows 500-fold there (2e-4).
func TestGoldens(t *testing.T) {
	for _, model := range goldenModels {
		dir := filepath.Join(testutil.RepoRoot(t), "testmodels", model)
		files, _ := filepath.Glob(filepath.Join(dir, "cam_golden", "*.pb"))
		if len(files) < 16 {
			t.Fatalf("%s: %d golden files; run /usr/bin/python3 testmodels/cam_golden.py", model, len(files))
		}
		t.Run(model, func(t *testing.T) {
			p, targets := testPass(t, dir)
			seen := map[string]bool{}
			for _, f := range files {
				base := strings.TrimSuffix(filepath.Base(f), ".pb")
				if strings.HasSuffix(base, "_raw") {
					continue
				}
				rule, name, _ := strings.Cut(base, "_")
				seen[name] = true
				t.Run(base, func(t *testing.T) {
					m, err := saliency.Lookup(name)
					if err != nil {
						t.Fatal(err)
					}
					opt := saliency.Options{}
					if rule == cam.PenultimateConvName {
						opt.TargetLayer = rule
					}
					maps, err := m.Maps(p, targets, opt)
					if err != nil {
						t.Fatal(err)
					}
					_, want, err := importer.ReadTensorFile(f)
					if err != nil {
						t.Fatal(err)
					}
					var got []float32
					for _, mp := range maps {
						if mp.C != 1 || mp.H != want.Shape[1] || mp.W != want.Shape[2] {
							t.Fatalf("map of shape %d×%d×%d, golden %v", mp.C, mp.H, mp.W, want.Shape)
						}
						got = append(got, mp.Data...)
					}
					e := maxAbsDiff(got, want.Float32())
					t.Logf("max |diff| %.2g", e)
					if e > 1e-4 {
						t.Errorf("map differs from the reference: max |diff| %.3g", e)
					}
					rawFile := strings.TrimSuffix(f, ".pb") + "_raw.pb"
					if _, err := os.Stat(rawFile); err != nil {
						return
					}
					_, wantRaw, err := importer.ReadTensorFile(rawFile)
					if err != nil {
						t.Fatal(err)
					}
					var raw []float32
					for _, mp := range maps {
						raw = append(raw, mp.Raw...)
					}
					e = testutil.RelErr(raw, wantRaw.Float32())
					t.Logf("raw relative error %.2g", e)
					if e > 1e-3 {
						t.Errorf("raw cam differs from the reference: relative error %.3g", e)
					}
				})
			}
			for _, name := range cam.Names {
				if !seen[name] {
					t.Errorf("no golden for %s", name)
				}
			}
		})
	}
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return 1e30
	}
	var d float64
	for i := range a {
		d = max(d, float64(abs32(a[i]-b[i])))
	}
	return d
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
