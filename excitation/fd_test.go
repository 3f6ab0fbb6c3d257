package excitation_test

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// TestGradFiniteDifferences compares Grad mode with central finite
// differences of the float32 forward pass at random input elements, on
// models with smooth activations (SiLU, sigmoid and hard-swish gates). ReLU
// and max-pooling networks are piecewise linear: a step large enough to rise
// above float32 rounding crosses kinks and arg-max switches, so they are
// checked against PyTorch's autograd instead (TestGradMatchesPyTorch), and
// each operator against finite differences in graph/ops. The step 1e-2
// keeps float32 rounding of the logits (about 1e-5) well below the
// tolerance of 1e-2 of the largest gradient entry.
func TestGradFiniteDifferences(t *testing.T) {
	for _, name := range []string{"efficientnet_b0_op13", "mobilenet_v3_small_op13", "mobilenet_v3_small_op17"} {
		t.Run(name, func(t *testing.T) {
			l, m := lowered(t, filepath.Join(testutil.RepoRoot(t), "testmodels", name))
			logits := excitation.Logits(l.G)
			x := l.Acts[m.Graph.Inputs[0]]
			y := l.Acts[logits]
			target := make([]int64, y.Batch())
			res, err := l.Backward(excitation.Request{Mode: excitation.Grad, SeedTensor: logits, Seeds: oneHot(y, target)})
			if err != nil {
				t.Fatal(err)
			}
			grad := res.At[m.Graph.Inputs[0]].T.Data
			var top float64
			for _, g := range grad {
				top = math.Max(top, math.Abs(float64(g)))
			}
			f := func(i int, step float64) float64 {
				xs := x.Clone()
				xs.Data[i] += float32(step)
				acts, err := l.G.Run(graph.RunOptions{Keep: []string{logits}}, xs)
				if err != nil {
					t.Fatal(err)
				}
				var sum float64 // Σ over images of logit 0
				per := len(acts[logits].Data) / acts[logits].Batch()
				for n := range acts[logits].Batch() {
					sum += float64(acts[logits].Data[n*per])
				}
				return sum
			}
			rng := rand.New(rand.NewPCG(3, 4))
			const eps = 1e-2
			for range 20 {
				i := rng.IntN(len(x.Data))
				fd := (f(i, eps) - f(i, -eps)) / (2 * eps)
				if math.Abs(fd-float64(grad[i])) > 1e-2*top {
					t.Errorf("input element %d: finite difference %.6g, gradient %.6g (max |gradient| %.3g)", i, fd, grad[i], top)
				}
			}
		})
	}
}
