package cam

import (
	"fmt"
	"math"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/saliency"
)

// scoreCAM computes Score-CAM (pytorch-grad-cam's ScoreCAM): every channel
// A_k is upsampled to the input (bilinear, align_corners = true) and
// min-max scaled to a mask M_k = (u − min)/(max − min + 1e-8); the model runs
// on x ⊙ M_k (scoreBatch masked images per forward pass), s_k is the target
// logit, w = softmax(s) and cam = Σ_k w_k A_k. Channels that are all zero
// give the all-zero mask, so they share one forward pass.
func scoreCAM(p *saliency.Pass, t *target, targets []int) ([][]float32, error) {
	if len(p.G.Inputs) != 1 {
		return nil, fmt.Errorf("the model has %d inputs; Score-CAM masks a single image input", len(p.G.Inputs))
	}
	c, H, W, err := inputSize(p)
	if err != nil {
		return nil, err
	}
	hw, HW := t.h*t.w, H*W
	up := newResizer(t.h, t.w, H, W, true)
	cams := make([][]float32, t.n)
	for n := range cams {
		a, x := image(t.a, n), image(p.Input, n)
		// Channels to run: every non-zero channel, and the first zero one
		// standing for all zero channels.
		var run []int
		zero := -1
		for k := range t.k {
			if allEqual(a[k*hw:(k+1)*hw], 0) {
				if zero >= 0 {
					continue
				}
				zero = k
			}
			run = append(run, k)
		}
		scores := make([]float64, t.k)
		mask := make([]float64, HW)
		scratch := make([]float64, t.w*H)
		for lo := 0; lo < len(run); lo += scoreBatch {
			chunk := run[lo:min(lo+scoreBatch, len(run))]
			batch := graph.New(len(chunk), c, H, W)
			for b, k := range chunk {
				up.resize64(a[k*hw:(k+1)*hw], mask, scratch)
				scaleMask(mask)
				dst := batch.Data[b*c*HW : (b+1)*c*HW]
				for ch := range c {
					xs, ds := x[ch*HW:(ch+1)*HW], dst[ch*HW:(ch+1)*HW]
					for i, m := range mask {
						ds[i] = float32(float64(xs[i]) * m)
					}
				}
			}
			acts, err := p.G.Run(graph.RunOptions{Keep: []string{p.Logits}}, batch)
			if err != nil {
				return nil, fmt.Errorf("image %d, masked forward pass: %w", n, err)
			}
			y := acts[p.Logits]
			per := len(y.Data) / y.Batch()
			for b, k := range chunk {
				scores[k] = float64(y.Data[b*per+targets[n]])
			}
		}
		if zero >= 0 {
			for k := range t.k {
				if allEqual(a[k*hw:(k+1)*hw], 0) {
					scores[k] = scores[zero]
				}
			}
		}
		cams[n] = weightedSum(a, softmax(scores), hw)
	}
	return cams, nil
}

// scaleMask applies (u − min)/(max − min + 1e-8) in place.
func scaleMask(u []float64) {
	lo, hi := u[0], u[0]
	for _, v := range u {
		lo, hi = min(lo, v), max(hi, v)
	}
	d := hi - lo + 1e-8
	for i, v := range u {
		u[i] = (v - lo) / d
	}
}

// allEqual reports whether every value of x equals v.
func allEqual(x []float32, v float32) bool {
	for _, e := range x {
		if e != v {
			return false
		}
	}
	return true
}

// softmax returns exp(s − max s) normalised to sum 1.
func softmax(s []float64) []float64 {
	top := math.Inf(-1)
	for _, v := range s {
		top = max(top, v)
	}
	out := make([]float64, len(s))
	var sum float64
	for i, v := range s {
		out[i] = math.Exp(v - top)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
