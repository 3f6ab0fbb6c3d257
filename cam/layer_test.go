package cam_test

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/paneonnx/paneonnx/cam"
	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// foldedShapes imports a model, folds its BatchNormalizations and infers
// its shapes at batch 1.
func foldedShapes(t *testing.T, path string) (*graph.Graph, map[string][]int) {
	t.Helper()
	m, err := importer.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := m.Graph.InputShape(0, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	shapes, err := m.Graph.Shapes(in)
	if err != nil {
		t.Fatal(err)
	}
	return excitation.Canonical(m.Graph), shapes
}

// TestLayerRules pins the default and penultimate-convolution layers of
// architectures whose pytorch-grad-cam layers are known: the last block's
// output after its ReLU (ResNet), the last ReLU6 (MobileNetV2), the
// Hardswish after the last conv (MobileNetV3, exported as HardSigmoid + Mul),
// the adaptive pool that equals features[-1] (VGG); the penultimate
// convolution is the first conv of ResNet's last block (not the 1×1
// shortcut), and the projection of MobileNetV2's last inverted residual.
func TestLayerRules(t *testing.T) {
	for _, c := range []struct {
		model, def, penult string
	}{
		{"resnet_basic_op13", "/layer4/layer4.0/relu_1/Relu_output_0", "/layer4/layer4.0/conv1/Conv_output_0"},
		{"resnet_basic_bnkeep_op13", "/layer4/layer4.0/relu_1/Relu_output_0", "/layer4/layer4.0/bn1/BatchNormalization_output_0"},
		{"resnet_bottleneck_op13", "/layer4/layer4.0/relu_2/Relu_output_0", "/layer4/layer4.0/conv2/Conv_output_0"},
		{"mobilenet_v2_op13", "/features/features.11/features.11.2/Clip_output_0", "/features/features.10/conv/conv.2/Conv_output_0"},
		{"mobilenet_v3_small_op13", "/features/features.12/features.12.2/Mul_output_0", "/features/features.11/block/block.3/block.3.0/Conv_output_0"},
		{"vgg_bn_op13", "/avgpool/AveragePool_output_0", "/features/features.15/Conv_output_0"},
		{"alexnet_op13", "/features/features.11/Relu_output_0", "/features/features.8/Conv_output_0"},
	} {
		g, shapes := foldedShapes(t, filepath.Join(testutil.RepoRoot(t), "testmodels", c.model, "model.onnx"))
		cands, def, err := cam.Candidates(g, shapes)
		if err != nil || def != c.def {
			t.Errorf("%s: default %q (%v), want %q", c.model, def, err, c.def)
		}
		penult, err := cam.PenultimateConv(g, shapes)
		if err != nil || penult != c.penult {
			t.Errorf("%s: penultimate conv %q (%v), want %q", c.model, penult, err, c.penult)
		}
		if !slices.Contains(cands, def) || !slices.Contains(cands, penult) {
			t.Errorf("%s: candidates %v lack the default or the penultimate conv", c.model, cands)
		}
		for _, name := range cands {
			s := shapes[name]
			if len(s) != 4 || s[2]*s[3] < 2 || name == g.Inputs[0] {
				t.Errorf("%s: candidate %q of shape %v", c.model, name, s)
			}
		}
		if got, err := cam.ResolveLayer(g, shapes, ""); got != def || err != nil {
			t.Errorf("%s: ResolveLayer(\"\") = %q, %v", c.model, got, err)
		}
		if got, err := cam.ResolveLayer(g, shapes, cam.PenultimateConvName); got != penult || err != nil {
			t.Errorf("%s: ResolveLayer(penultimate-conv) = %q, %v", c.model, got, err)
		}
	}
}

// TestLayerRulesShared: the TF-slim MobileNetV2 classifies with a 1×1 Conv
// after the global pool; the walk passes it and stops at the last ReLU6.
func TestLayerRulesShared(t *testing.T) {
	path := filepath.Join(testutil.SharedDir(t), "models", "mobilenet_v2_1.0_224_quant", "model.onnx")
	g, shapes := foldedShapes(t, path)
	if def, err := cam.DefaultLayer(g, shapes); err != nil || def != "/Clip_34_output_0" {
		t.Errorf("default %q (%v), want the last ReLU6 output /Clip_34_output_0", def, err)
	}
	if p, err := cam.PenultimateConv(g, shapes); err != nil || p != "/Conv_50_output_0" {
		t.Errorf("penultimate conv %q (%v), want the last projection /Conv_50_output_0", p, err)
	}
}
