package cam

import (
	"fmt"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/saliency"
)

// Names of the methods, as registered with package saliency.
const (
	GradCAM     = "gradcam"
	GradCAMPP   = "gradcam++"
	ScoreCAM    = "scorecam"
	AblationCAM = "ablationcam"
	XGradCAM    = "xgradcam"
	EigenCAM    = "eigencam"
	LayerCAM    = "layercam"
	FullGrad    = "fullgrad"
)

// Names lists the methods in the paper's order.
var Names = []string{GradCAM, GradCAMPP, ScoreCAM, AblationCAM, XGradCAM, EigenCAM, LayerCAM, FullGrad}

// Batch sizes of the extra forward passes, pytorch-grad-cam's defaults:
// masked images per Score-CAM forward, ablated channels per Ablation-CAM
// re-run. They bound memory and do not change the results.
const (
	scoreBatch    = 16
	ablationBatch = 32
)

func init() {
	for _, m := range layerMethods {
		saliency.Register(m)
	}
	saliency.Register(fullGrad{})
}

// target is a target layer's activations A and, for the gradient methods,
// g = ∂logit_t/∂A, both N×K×h×w.
type target struct {
	name       string
	n, k, h, w int
	a, g       *graph.Tensor
}

// image returns image n of t (K·h·w values).
func image(t *graph.Tensor, n int) []float32 {
	per := len(t.Data) / t.Batch()
	return t.Data[n*per : (n+1)*per]
}

// shapes returns the shape of every tensor of the pass.
func shapes(p *saliency.Pass) map[string][]int {
	s := make(map[string][]int, len(p.Acts))
	for name, t := range p.Acts {
		s[name] = t.Shape
	}
	return s
}

// inputSize returns the spatial size of the pass's N×C×H×W input.
func inputSize(p *saliency.Pass) (c, h, w int, err error) {
	s := p.Input.Shape
	if len(s) != 4 {
		return 0, 0, 0, fmt.Errorf("the model input %q has shape %v; CAM methods need an N×C×H×W image", p.G.Inputs[0], s)
	}
	return s[1], s[2], s[3], nil
}

// checkTargets checks that there is one valid logit index per image.
func checkTargets(p *saliency.Pass, targets []int, method string) error {
	if len(targets) != p.Images() {
		return fmt.Errorf("%s: %d targets for %d images", method, len(targets), p.Images())
	}
	y := p.Acts[p.Logits]
	classes := len(y.Data) / y.Batch()
	for n, t := range targets {
		if t < 0 || t >= classes {
			return fmt.Errorf("%s: target %d of image %d is not one of the %d logits of %q", method, t, n, classes, p.Logits)
		}
	}
	return nil
}

// gradients returns ∂logit_{targets[n]}/∂tensor for every image at each of
// the named tensors: a Grad-mode backward pass of l (the pass's lowering or
// a part of it), one seed per image.
func gradients(p *saliency.Pass, l *excitation.Lowered, targets []int, names ...string) (map[string]*graph.Tensor, error) {
	res, err := l.Backward(excitation.Request{Mode: excitation.Grad, SeedTensor: p.Logits, Seeds: p.OneHot(targets), Read: names})
	if err != nil {
		return nil, err
	}
	out := make(map[string]*graph.Tensor, len(names))
	for _, name := range names {
		v, ok := res.At[name]
		if !ok {
			return nil, fmt.Errorf("the backward pass did not reach tensor %q", name)
		}
		out[name] = v.T
	}
	return out, nil
}

// gather resolves the target layer of opt and reads its activations and,
// when grads is set, its gradients.
func gather(p *saliency.Pass, targets []int, opt saliency.Options, grads bool) (*target, error) {
	layer, err := ResolveLayer(p.G, shapes(p), opt.TargetLayer)
	if err != nil {
		return nil, err
	}
	a := p.Acts[layer]
	t := &target{name: layer, n: a.Shape[0], k: a.Shape[1], h: a.Shape[2], w: a.Shape[3], a: a}
	if grads {
		l, err := lowerAfter(p, layer)
		if err != nil {
			return nil, err
		}
		g, err := gradients(p, l, targets, layer)
		if err != nil {
			return nil, err
		}
		t.g = g[layer]
	}
	return t, nil
}

// lowerAfter lowers only the nodes downstream of tensor layer, as a graph
// whose inputs are layer and the tensors those nodes read from elsewhere:
// the backward pass to a target layer then walks the classifier head, not
// the whole network.
func lowerAfter(p *saliency.Pass, layer string) (*excitation.Lowered, error) {
	side, dirty := sideInputs(p.G, layer)
	sub := &graph.Graph{Inputs: append([]string{layer}, side...), Outputs: p.G.Outputs}
	for _, n := range p.G.Nodes {
		for _, o := range n.Outputs {
			if dirty[o] {
				sub.Nodes = append(sub.Nodes, n)
				break
			}
		}
	}
	return excitation.Lower(sub, p.Acts)
}

// finish turns the low-resolution cams (one h·w map per image, before the
// ReLU) into saliency maps: ReLU, min-max, bilinear resize to H×W with
// half-pixel centres, min-max again (pytorch-grad-cam's
// compute_cam_per_layer and aggregate_multi_layers for one layer). Raw keeps
// the map after the ReLU, before normalisation.
func finish(cams [][]float32, h, w, H, W int) []saliency.Map {
	r := newResizer(h, w, H, W, false)
	maps := make([]saliency.Map, len(cams))
	for n, c := range cams {
		for i, v := range c {
			c[i] = max(v, 0)
		}
		raw := append([]float32(nil), c...)
		minMax(c)
		data := r.resize(c)
		minMax(data)
		maps[n] = saliency.Map{C: 1, H: H, W: W, Data: data, Raw: raw, RawShape: []int{1, h, w}}
	}
	return maps
}

// weightedSum returns Σ_k w_k A_k for one image (A: K·hw values).
func weightedSum(a []float32, w []float64, hw int) []float32 {
	acc := make([]float64, hw)
	for k, wk := range w {
		if wk == 0 {
			continue
		}
		for i, v := range a[k*hw : (k+1)*hw] {
			acc[i] += wk * float64(v)
		}
	}
	out := make([]float32, hw)
	for i, v := range acc {
		out[i] = float32(v)
	}
	return out
}

// protocol is what every CAM method records in result files.
func protocol(p *saliency.Pass, opt saliency.Options, method, formula string) map[string]any {
	pr := map[string]any{
		"method":        method,
		"reference":     "pytorch-grad-cam (BaseCAM with one target layer)",
		"target":        "raw logit " + p.Logits + " (one-hot seed), gradients by the Grad-mode backward engine",
		"cam":           formula,
		"relu":          "applied to the low-resolution cam",
		"normalisation": "min-max per image, (x - min) / (1e-7 + max), before and after resizing",
		"resize":        "bilinear to the input size, half-pixel centres (align_corners=false), border clamp: cv2.resize INTER_LINEAR",
		"batchnorm":     "folded into the preceding Conv where it has no other consumer",
	}
	layer, err := ResolveLayer(p.G, shapes(p), opt.TargetLayer)
	if err != nil {
		pr["target_layer_error"] = err.Error()
	} else {
		pr["target_layer"] = layer
		pr["target_layer_shape"] = p.Acts[layer].Shape[1:]
	}
	rule := opt.TargetLayer
	if rule == "" {
		rule = "default (last spatial feature map before the classifier head)"
	}
	pr["target_layer_rule"] = rule
	return pr
}
