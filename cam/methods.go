package cam

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"

	"github.com/paneonnx/paneonnx/saliency"
)

// layerMethod is a CAM read at one target layer: cam computes, for every
// image, the low-resolution map before the ReLU; the shared pipeline
// (finish) does the rest.
type layerMethod struct {
	name    string
	formula string
	grads   bool // cam reads t.g
	cam     func(p *saliency.Pass, t *target, targets []int) ([][]float32, error)
}

var layerMethods = []*layerMethod{
	{name: GradCAM, grads: true, cam: channelWeights(gradCAMWeights),
		formula: "ReLU(sum_k w_k A_k), w_k = mean_ij g_kij"},
	{name: GradCAMPP, grads: true, cam: channelWeights(gradCAMPPWeights),
		formula: "ReLU(sum_k w_k A_k), w_k = sum_ij alpha_kij ReLU(g_kij), alpha = g^2 / (2 g^2 + (sum_ab A_kab) g^3 + 1e-6), alpha = 0 where g = 0"},
	{name: ScoreCAM, cam: scoreCAM,
		formula: "ReLU(sum_k w_k A_k), w = softmax_k(logit_t(x * M_k)), M_k = A_k upsampled bilinearly with align_corners=true, (M - min) / (max - min + 1e-8)"},
	{name: AblationCAM, cam: ablationCAM,
		formula: "ReLU(sum_k w_k A_k), w_k = (y - y_k) / y, y_k = logit_t with channel k of A set to 0 (to min(A) - 1e7 when min(A) != 0; one value per image), only the nodes after the target layer re-run"},
	{name: XGradCAM, grads: true, cam: channelWeights(xGradCAMWeights),
		formula: "ReLU(sum_k w_k A_k), w_k = sum_ij g_kij A_kij / (sum_ij A_kij + 1e-7)"},
	{name: EigenCAM, cam: eigenCAM,
		formula: "ReLU(X v), X = A as (h w) x K with centred columns, v = first right singular vector (gonum SVD), sign chosen so that the largest-magnitude value of X v is positive"},
	{name: LayerCAM, grads: true, cam: layerCAM,
		formula: "ReLU(sum_k ReLU(g_k) * A_k), element-wise"},
}

func (m *layerMethod) Name() string { return m.name }

// Maps implements saliency.Method: one 1×H×W map in [0,1] per image at
// the input's resolution, with Raw the 1×h×w cam after the ReLU.
func (m *layerMethod) Maps(p *saliency.Pass, targets []int, opt saliency.Options) ([]saliency.Map, error) {
	if err := checkTargets(p, targets, m.name); err != nil {
		return nil, err
	}
	_, H, W, err := inputSize(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	t, err := gather(p, targets, opt, m.grads)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	cams, err := m.cam(p, t, targets)
	if err != nil {
		return nil, fmt.Errorf("%s at %q: %w", m.name, t.name, err)
	}
	return finish(cams, t.h, t.w, H, W), nil
}

// Protocol implements saliency.Method.
func (m *layerMethod) Protocol(p *saliency.Pass, opt saliency.Options) map[string]any {
	pr := protocol(p, opt, m.name, m.formula)
	switch m.name {
	case ScoreCAM:
		pr["forward_batch"] = scoreBatch
	case AblationCAM:
		pr["forward_batch"] = ablationBatch
		pr["ablation_value_note"] = "pytorch-grad-cam's AblationLayer re-reads min() of the partly ablated batch, so its i-th channel in a batch gets min(A) - (i+1)*1e7; " +
			"here every channel gets min(A) - 1e7 (identical whenever min(A) = 0 or a ReLU/ReLU6 follows the target layer)"
	}
	return pr
}

// channelWeights makes a cam function out of a channel-weight rule: per
// image, w = weights(A, g) and cam = Σ_k w_k A_k.
func channelWeights(weights func(a, g []float32, k, hw int) []float64) func(*saliency.Pass, *target, []int) ([][]float32, error) {
	return func(_ *saliency.Pass, t *target, _ []int) ([][]float32, error) {
		hw := t.h * t.w
		cams := make([][]float32, t.n)
		for n := range cams {
			a := image(t.a, n)
			cams[n] = weightedSum(a, weights(a, image(t.g, n), t.k, hw), hw)
		}
		return cams, nil
	}
}

// gradCAMWeights: w_k = mean_ij g.
func gradCAMWeights(_, g []float32, k, hw int) []float64 {
	w := make([]float64, k)
	for c := range w {
		var s float64
		for _, v := range g[c*hw : (c+1)*hw] {
			s += float64(v)
		}
		w[c] = s / float64(hw)
	}
	return w
}

// gradCAMPPWeights: w_k = Σ_ij α·ReLU(g) with α = g²/(2g² + (Σ_ab A)·g³ +
// 1e-6), α = 0 where g = 0.
func gradCAMPPWeights(a, g []float32, k, hw int) []float64 {
	w := make([]float64, k)
	for c := range w {
		ac, gc := a[c*hw:(c+1)*hw], g[c*hw:(c+1)*hw]
		var sumA float64
		for _, v := range ac {
			sumA += float64(v)
		}
		var s float64
		for _, v := range gc {
			if v <= 0 {
				continue // α·ReLU(g) is 0 for g ≤ 0
			}
			g1 := float64(v)
			g2 := g1 * g1
			s += g2 / (2*g2 + sumA*g2*g1 + 1e-6) * g1
		}
		w[c] = s
	}
	return w
}

// xGradCAMWeights: w_k = Σ_ij g·A / (Σ_ij A + 1e-7).
func xGradCAMWeights(a, g []float32, k, hw int) []float64 {
	w := make([]float64, k)
	for c := range w {
		var sumA, sumGA float64
		for i, v := range a[c*hw : (c+1)*hw] {
			sumA += float64(v)
			sumGA += float64(v) * float64(g[c*hw+i])
		}
		w[c] = sumGA / (sumA + 1e-7)
	}
	return w
}

// layerCAM: cam = Σ_k ReLU(g_k) ⊙ A_k.
func layerCAM(_ *saliency.Pass, t *target, _ []int) ([][]float32, error) {
	hw := t.h * t.w
	cams := make([][]float32, t.n)
	for n := range cams {
		a, g := image(t.a, n), image(t.g, n)
		acc := make([]float64, hw)
		for c := range t.k {
			for i, gv := range g[c*hw : (c+1)*hw] {
				if gv > 0 {
					acc[i] += float64(gv) * float64(a[c*hw+i])
				}
			}
		}
		cams[n] = make([]float32, hw)
		for i, v := range acc {
			cams[n][i] = float32(v)
		}
	}
	return cams, nil
}

// eigenCAM: the projection of the centred activations onto their first
// principal direction. pytorch-grad-cam leaves the SVD's arbitrary sign;
// here the sign makes the largest-magnitude value (the first such in
// row-major order) positive, so the ReLU keeps the dominant component.
func eigenCAM(_ *saliency.Pass, t *target, _ []int) ([][]float32, error) {
	hw := t.h * t.w
	cams := make([][]float32, t.n)
	for n := range cams {
		a := image(t.a, n)
		x := mat.NewDense(hw, t.k, nil)
		for c := range t.k {
			ac := a[c*hw : (c+1)*hw]
			var mean float64
			for _, v := range ac {
				mean += float64(v)
			}
			mean /= float64(hw)
			for i, v := range ac {
				x.Set(i, c, float64(v)-mean)
			}
		}
		var svd mat.SVD
		if !svd.Factorize(x, mat.SVDThinV) {
			return nil, fmt.Errorf("image %d: the SVD of the %d×%d activation matrix did not converge", n, hw, t.k)
		}
		var v mat.Dense
		svd.VTo(&v)
		var proj mat.VecDense
		proj.MulVec(x, v.ColView(0))
		sign, big := 1.0, 0.0
		for i := range hw {
			if e := proj.AtVec(i); math.Abs(e) > big {
				big, sign = math.Abs(e), math.Copysign(1, e)
			}
		}
		cams[n] = make([]float32, hw)
		for i := range hw {
			cams[n][i] = float32(sign * proj.AtVec(i))
		}
	}
	return cams, nil
}
