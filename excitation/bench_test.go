package excitation_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// benchModels are the models the explanation benchmarks time: a folder
// under the shared models, or under testmodels/cache (full-size exports
// made by `make fullmodels`).
var benchModels = []struct{ name, shared, cache string }{
	{name: "MobileNetV2", shared: "mobilenet_v2_1.0_224_quant"},
	{name: "ResNet8", shared: "cifar10_resnet8_mlperf_tiny"},
	{name: "ResNet18", cache: "resnet18_full_op13"},
}

func benchModelDir(b *testing.B, shared, cache string) string {
	if shared != "" {
		return filepath.Join(testutil.SharedDir(b), "models", shared)
	}
	dir := filepath.Join(testutil.RepoRoot(b), "testmodels", "cache", cache)
	if _, err := os.Stat(filepath.Join(dir, "model.onnx")); err != nil {
		b.Skipf("%s not available (run `make fullmodels`): %v", dir, err)
	}
	return dir
}

// BenchmarkExplain times what `paneonnx explain --method iom` computes for
// one image: the forward pass keeping activations, the lowering and the
// r-Exc+ backward pass to the input (Forward alone for comparison).
func BenchmarkExplain(b *testing.B) {
	for _, bm := range benchModels {
		dir := benchModelDir(b, bm.shared, bm.cache)
		m, x := testutil.LoadModel(b, dir)
		x.Shape[0], x.Data = 1, x.Data[:len(x.Data)/x.Shape[0]]
		g := excitation.Canonical(m.Graph)
		logits := excitation.Logits(g)
		b.Run(bm.name+"/Forward", func(b *testing.B) {
			for b.Loop() {
				acts, err := g.Run(graph.RunOptions{}, x)
				if err != nil {
					b.Fatal(err)
				}
				g.Release(acts)
			}
		})
		for _, mode := range []excitation.Mode{excitation.ExcPos, excitation.Grad, excitation.Full} {
			b.Run(bm.name+"/Explain-"+mode.String(), func(b *testing.B) {
				for b.Loop() {
					acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
					if err != nil {
						b.Fatal(err)
					}
					l, err := excitation.Lower(g, acts)
					if err != nil {
						b.Fatal(err)
					}
					y := acts[logits]
					seeds := graph.New(y.Shape...)
					seeds.Data[0] = 1
					if _, err := l.Backward(excitation.Request{Mode: mode, SeedTensor: logits, Seeds: seeds}); err != nil {
						b.Fatal(err)
					}
					g.Release(acts)
				}
			})
		}
	}
}
