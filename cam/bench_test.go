package cam_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/cam"
	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/testutil"
	"github.com/paneonnx/paneonnx/saliency"
)

// benchPass imports dir/model.onnx, runs it on the first image of
// test_data_set_0 and returns the pass and the argmax target.
func benchPass(b *testing.B, dir string) (*saliency.Pass, []int) {
	b.Helper()
	m, x := testutil.LoadModel(b, dir)
	per := len(x.Data) / x.Batch()
	x1, err := graph.FromData(append([]int{1}, x.Shape[1:]...), x.Data[:per])
	if err != nil {
		b.Fatal(err)
	}
	p, err := saliency.NewPass(excitation.Canonical(m.Graph), x1)
	if err != nil {
		b.Fatal(err)
	}
	y := p.Acts[p.Logits].Data
	best := 0
	for i, v := range y {
		if v > y[best] {
			best = i
		}
	}
	return p, []int{best}
}

// BenchmarkCAM times every method on one image (the forward pass and its
// lowering, shared by the methods, as "pass") of the shared MobileNetV2
// (224×224, 1280-channel target layer) and of the full-size ResNet-18 built
// by testmodels/export.py --full (512 channels at 7×7; skipped when absent).
func BenchmarkCAM(b *testing.B) {
	dirs := map[string]string{"mobilenet_v2": filepath.Join(testutil.SharedDir(b), "models", "mobilenet_v2_1.0_224_quant")}
	if d := filepath.Join(testutil.RepoRoot(b), "testmodels", "cache", "resnet18_full_op13"); exists(d) {
		dirs["resnet18"] = d
	} else {
		b.Logf("%s absent (testmodels/export.py --full --out testmodels/cache): ResNet-18 skipped", d)
	}
	for _, model := range []string{"mobilenet_v2", "resnet18"} {
		dir, ok := dirs[model]
		if !ok {
			continue
		}
		b.Run(model, func(b *testing.B) {
			p, targets := benchPass(b, dir)
			b.Run("pass", func(b *testing.B) {
				for b.Loop() {
					if _, err := saliency.NewPass(p.G, p.Input); err != nil {
						b.Fatal(err)
					}
				}
			})
			for _, name := range cam.Names {
				m, err := saliency.Lookup(name)
				if err != nil {
					b.Fatal(err)
				}
				b.Run(name, func(b *testing.B) {
					for b.Loop() {
						if _, err := m.Maps(p, targets, saliency.Options{}); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
