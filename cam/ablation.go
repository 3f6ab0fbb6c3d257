package cam

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/saliency"
)

// ablationValue is what pytorch-grad-cam's AblationLayer subtracts from
// the minimum when the activations are not all ≥ 0 with minimum 0.
const ablationValue = 1e7

// ablationCAM computes Ablation-CAM (pytorch-grad-cam's AblationCAM with
// ratio_channels_to_ablate = 1): channel k of image n's target activation is
// replaced by 0, or by min(A_n) − 1e7 when min(A_n) ≠ 0, only the nodes
// downstream of the target layer re-run (graph.RunFrom, ablationBatch
// channels per run), and w_k = (y − y_k)/y with y the target logit.
// A channel already equal to the replacement everywhere has y_k = y and
// is not re-run.
func ablationCAM(p *saliency.Pass, t *target, targets []int) ([][]float32, error) {
	y := p.Acts[p.Logits]
	perY := len(y.Data) / y.Batch()
	hw := t.h * t.w
	per := t.k * hw
	shared, dirty := sideInputs(p.G, t.name)
	if !dirty[p.Logits] {
		return nil, fmt.Errorf("the logits %q do not depend on the target layer", p.Logits)
	}
	cams := make([][]float32, t.n)
	for n := range cams {
		a := image(t.a, n)
		lo := a[0]
		for _, v := range a {
			lo = min(lo, v)
		}
		var value float32
		if lo != 0 {
			value = lo - ablationValue
		}
		base := float64(y.Data[n*perY+targets[n]])
		if base == 0 {
			return nil, fmt.Errorf("image %d: the target logit is exactly 0, so the weights (y - y_k)/y are undefined", n)
		}
		var run []int
		for k := range t.k {
			if !allEqual(a[k*hw:(k+1)*hw], value) {
				run = append(run, k)
			}
		}
		w := make([]float64, t.k)
		for start := 0; start < len(run); start += ablationBatch {
			chunk := run[start:min(start+ablationBatch, len(run))]
			b := len(chunk)
			ablated := graph.New(b, t.k, t.h, t.w)
			for i, k := range chunk {
				dst := ablated.Data[i*per : (i+1)*per]
				copy(dst, a)
				for j := range hw {
					dst[k*hw+j] = value
				}
			}
			acts := p.Acts
			if len(shared) > 0 {
				acts = make(graph.Activations, len(p.Acts))
				for name, v := range p.Acts {
					acts[name] = v
				}
				for _, name := range shared {
					acts[name] = repeatImage(p.Acts[name], n, b)
				}
			}
			out, err := p.G.RunFrom(acts, t.name, ablated)
			if err != nil {
				return nil, fmt.Errorf("image %d, re-running after the target layer: %w", n, err)
			}
			yk := out[p.Logits]
			for i, k := range chunk {
				w[k] = (base - float64(yk.Data[i*perY+targets[n]])) / base
			}
		}
		cams[n] = weightedSum(a, w, hw)
	}
	return cams, nil
}

// sideInputs returns the tensors that nodes downstream of name read
// without themselves depending on name (the shortcut of a residual block
// after a target inside it): a re-run with a batch of ablated copies needs
// them repeated to that batch. dirty holds the tensors that depend on name,
// name included.
func sideInputs(g *graph.Graph, name string) (side []string, dirty map[string]bool) {
	dirty = map[string]bool{name: true}
	seen := map[string]bool{}
	for _, n := range g.Nodes {
		hit := false
		for _, in := range n.Inputs {
			hit = hit || dirty[in]
		}
		if !hit {
			continue
		}
		for _, in := range n.Inputs {
			if !dirty[in] && !seen[in] {
				seen[in] = true
				side = append(side, in)
			}
		}
		for _, o := range n.Outputs {
			dirty[o] = true
		}
	}
	return side, dirty
}

// repeatImage returns image n of t repeated b times along the batch.
func repeatImage(t *graph.Tensor, n, b int) *graph.Tensor {
	src := image(t, n)
	out := graph.New(append([]int{b}, t.Shape[1:]...)...)
	for i := range b {
		copy(out.Data[i*len(src):], src)
	}
	return out
}
