package cam

import (
	"fmt"
	"math"

	"github.com/paneonnx/paneonnx/saliency"
)

// channelBiaser is implemented by the operators whose bias FullGrad uses:
// Conv (its bias) and BatchNormalization (β − γ·mean/√(var+ε)).
type channelBiaser interface {
	ChannelBias() []float32
}

// fullGrad is FullGrad (pytorch-grad-cam's FullGrad, which takes the bias of
// every Conv2d and BatchNorm2d and ignores the target layer): the sum of
// |x ⊙ ∂y/∂x| min-max scaled per colour channel, and for every Conv or
// BatchNormalization node with a bias b and a 4-D output z, Σ_k of
// |b_k · ∂y/∂z_k| min-max scaled per channel and resized bilinearly to the
// input; the total is min-max scaled once more. Linear layers (Gemm,
// MatMul) and 1-D normalisations are left out, as pytorch-grad-cam leaves
// out nn.Linear and BatchNorm1d: their outputs have no spatial extent. The
// biases are those of the graph the pass ran on, where BatchNormalization
// is folded into its Conv: one term with the folded bias, as the
// exported model has.
type fullGrad struct{}

func (fullGrad) Name() string { return FullGrad }

// biasLayer is one bias term of FullGrad.
type biasLayer struct {
	tensor string
	bias   []float32
}

// biasLayers lists the Conv and BatchNormalization outputs with a bias and
// a 4-D shape, in graph order.
func biasLayers(p *saliency.Pass) []biasLayer {
	var out []biasLayer
	for _, n := range p.G.Nodes {
		cb, ok := n.Op.(channelBiaser)
		if !ok || len(n.Outputs) != 1 {
			continue
		}
		b := cb.ChannelBias()
		z := p.Acts[n.Outputs[0]]
		if b == nil || z == nil || len(z.Shape) != 4 || z.Shape[1] != len(b) {
			continue
		}
		out = append(out, biasLayer{tensor: n.Outputs[0], bias: b})
	}
	return out
}

// Maps implements saliency.Method: one 1×H×W map in [0,1] per image, with
// Raw the 1×H×W sum before the last min-max.
func (fullGrad) Maps(p *saliency.Pass, targets []int, _ saliency.Options) ([]saliency.Map, error) {
	if err := checkTargets(p, targets, FullGrad); err != nil {
		return nil, err
	}
	c, H, W, err := inputSize(p)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FullGrad, err)
	}
	layers := biasLayers(p)
	input := p.G.Inputs[0]
	read := []string{input}
	for _, l := range layers {
		read = append(read, l.tensor)
	}
	grads, err := gradients(p, p.L, targets, read...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", FullGrad, err)
	}
	HW := H * W
	maps := make([]saliency.Map, p.Images())
	for n := range maps {
		total := make([]float64, HW)
		// |x ⊙ ∂y/∂x|, min-max per colour channel.
		x, gx := image(p.Input, n), image(grads[input], n)
		term := make([]float32, HW)
		for ch := range c {
			for i := range term {
				term[i] = float32(math.Abs(float64(x[ch*HW+i] * gx[ch*HW+i])))
			}
			minMax(term)
			for i, v := range term {
				total[i] += float64(v)
			}
		}
		// Σ_k minmax(|b_k ∂y/∂z_k|) per bias layer; the bilinear resize is
		// linear, so the channels are summed before it.
		resized := make([]float64, HW)
		for _, l := range layers {
			g := grads[l.tensor]
			h, w := g.Shape[2], g.Shape[3]
			hw := h * w
			gn := image(g, n)
			sum := make([]float64, hw)
			ch := make([]float32, hw)
			for k, b := range l.bias {
				for i, v := range gn[k*hw : (k+1)*hw] {
					ch[i] = float32(math.Abs(float64(b * v)))
				}
				minMax(ch)
				for i, v := range ch {
					sum[i] += float64(v)
				}
			}
			sum32 := make([]float32, hw)
			for i, v := range sum {
				sum32[i] = float32(v)
			}
			newResizer(h, w, H, W, false).resize64(sum32, resized, make([]float64, w*H))
			for i, v := range resized {
				total[i] += v
			}
		}
		raw := make([]float32, HW)
		for i, v := range total {
			raw[i] = float32(v)
		}
		data := append([]float32(nil), raw...)
		minMax(data)
		maps[n] = saliency.Map{C: 1, H: H, W: W, Data: data, Raw: raw, RawShape: []int{1, H, W}}
	}
	return maps, nil
}

// Protocol implements saliency.Method.
func (fullGrad) Protocol(p *saliency.Pass, _ saliency.Options) map[string]any {
	var names []string
	for _, l := range biasLayers(p) {
		names = append(names, l.tensor)
	}
	return map[string]any{
		"method":        FullGrad,
		"reference":     "pytorch-grad-cam FullGrad (target layer ignored)",
		"target":        "raw logit " + p.Logits + " (one-hot seed), gradients by the Grad-mode backward engine",
		"cam":           "minmax(sum_c minmax(|x_c * dy/dx_c|) + sum_layers resize(sum_k minmax(|b_k * dy/dz_k|)))",
		"bias_layers":   names,
		"bias_rule":     "Conv and BatchNormalization nodes with a bias and a 4-D output, after BatchNormalization folding; Gemm/MatMul and 1-D outputs left out",
		"normalisation": "min-max (x - min) / (1e-7 + max) per (image, channel) for every term and once for the sum",
		"resize":        "bilinear to the input size, half-pixel centres (align_corners=false), border clamp: cv2.resize INTER_LINEAR",
	}
}
