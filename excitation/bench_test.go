package excitation_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/stats"
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

// BenchmarkExplain times, per model, one forward pass (as `paneonnx run`)
// and what `paneonnx explain` computes per image for the IOM (the forward
// pass keeping activations, the lowering and the r-Exc+ pass to the input),
// for the gradient and for full PANE with its completeness sums. The four
// run in turn in every iteration, so that a shared machine's changing load
// hits all of them alike, and each is reported as its median in ms
// (forward-ms, iom-ms, grad-ms, full-ms). iom-per-forward is the median of
// each iteration's iom time over its own forward time: paired in time, it
// is the ratio least moved by the load drifting between iterations.
func BenchmarkExplain(b *testing.B) {
	for _, bm := range benchModels {
		dir := benchModelDir(b, bm.shared, bm.cache)
		m, x := testutil.LoadModel(b, dir)
		x.Shape[0], x.Data = 1, x.Data[:len(x.Data)/x.Shape[0]]
		g := excitation.Canonical(m.Graph)
		logits := excitation.Logits(g)
		forward := func() {
			acts, err := g.Run(graph.RunOptions{}, x)
			if err != nil {
				b.Fatal(err)
			}
			g.Release(acts)
		}
		explain := func(mode excitation.Mode) func() {
			return func() {
				acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
				if err != nil {
					b.Fatal(err)
				}
				l, err := excitation.Lower(g, acts)
				if err != nil {
					b.Fatal(err)
				}
				seeds := graph.New(acts[logits].Shape...)
				seeds.Data[0] = 1
				if _, err := l.Backward(excitation.Request{Mode: mode, SeedTensor: logits, Seeds: seeds}); err != nil {
					b.Fatal(err)
				}
				g.Release(acts)
			}
		}
		runs := []struct {
			unit string
			run  func()
		}{{"forward-ms", forward}, {"iom-ms", explain(excitation.ExcPos)}, {"grad-ms", explain(excitation.Grad)}, {"full-ms", explain(excitation.Full)}}
		b.Run(bm.name, func(b *testing.B) {
			times := make([][]float64, len(runs))
			for b.Loop() {
				for i, r := range runs {
					t0 := time.Now()
					r.run()
					times[i] = append(times[i], float64(time.Since(t0).Nanoseconds())/1e6)
				}
			}
			for i, r := range runs {
				b.ReportMetric(stats.Median(times[i]), r.unit)
			}
			paired := make([]float64, len(times[0]))
			for k := range paired {
				paired[k] = times[1][k] / times[0][k]
			}
			b.ReportMetric(stats.Median(paired), "iom-per-forward")
		})
	}
}
