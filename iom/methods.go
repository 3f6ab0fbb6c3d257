package iom

import (
	"fmt"

	"github.com/paneonnx/paneonnx/saliency"
)

func init() {
	for _, m := range Methods {
		saliency.Register(method{m})
	}
}

// method adapts a Method to saliency.Method: maps at the model input for a
// one-hot logit seed per image.
type method struct{ m Method }

func (m method) Name() string { return string(m.m) }

func (m method) Maps(p *saliency.Pass, targets []int, opt saliency.Options) ([]saliency.Map, error) {
	if len(targets) != p.Images() {
		return nil, fmt.Errorf("%s: %d targets for %d images", m.m, len(targets), p.Images())
	}
	raw, err := Compute(p.L, m.m, p.Logits, p.OneHot(targets), "")
	if err != nil {
		return nil, err
	}
	if len(raw.Shape) != 3 {
		return nil, fmt.Errorf("%s: the model input has shape %v, not C×H×W", m.m, raw.Shape)
	}
	maps := make([]saliency.Map, len(raw.Maps))
	for b := range maps {
		maps[b] = saliency.Map{C: raw.Shape[0], H: raw.Shape[1], W: raw.Shape[2], Data: raw.Final(b, opt.Smooth),
			Raw: raw.Maps[b], RawShape: raw.Shape}
	}
	return maps, nil
}

func (m method) Protocol(p *saliency.Pass, opt saliency.Options) map[string]any {
	return map[string]any{"method": string(m.m), "mode": m.m.mode().String(), "smooth_k": opt.Smooth,
		"read_at": p.G.Inputs[0], "seed": p.Logits + " (one-hot logit)", "sign_at_zero": "+1", "normalisation": "max-abs"}
}
