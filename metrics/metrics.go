package metrics

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/preprocess"
	"github.com/paneonnx/paneonnx/saliency"
)

// DefaultSteps is the number of deletion and insertion steps (RISE).
const DefaultSteps = 100

// maxBatchValues bounds the input values of one default batch (8 MiB of
// float32), so that large inputs go through the model a few at a time.
const maxBatchValues = 1 << 21

// maxBatch bounds the default batch size for small inputs.
const maxBatch = 128

// Model computes the logits of a batch of model inputs.
type Model interface {
	// Logits returns n·K logits (K classes per input, row-major) for n
	// model-space inputs stored back to back in x.
	Logits(x []float32, n int) ([]float32, error)
}

// GraphModel is a Model that runs a graph. The graph is only read, so one
// GraphModel may serve several goroutines.
type GraphModel struct {
	G *graph.Graph
	// Shape is one input's C, H, W.
	Shape []int
	// Output names the logits tensor (excitation.Logits of G: a trailing
	// Softmax is skipped).
	Output string
}

// NewGraphModel returns a Model for g with inputs of shape chw.
func NewGraphModel(g *graph.Graph, chw []int) *GraphModel {
	return &GraphModel{G: g, Shape: append([]int(nil), chw...), Output: excitation.Logits(g)}
}

// Logits implements Model.
func (m *GraphModel) Logits(x []float32, n int) ([]float32, error) {
	t, err := graph.FromData(append([]int{n}, m.Shape...), x)
	if err != nil {
		return nil, fmt.Errorf("metrics: model input: %w", err)
	}
	acts, err := m.G.Run(graph.RunOptions{Keep: []string{m.Output}}, t)
	if err != nil {
		return nil, err
	}
	y, ok := acts[m.Output]
	if !ok || y.Batch() != n {
		return nil, fmt.Errorf("metrics: the model's logits %q do not have one row per input", m.Output)
	}
	return y.Data, nil
}

// Evaluator scores saliency maps of one model.
type Evaluator struct {
	Model Model
	// Pre maps pixel space to model space; nil makes the perturbations on
	// the model input itself (tensor space).
	Pre *preprocess.Options
	// Steps is the number of deletion and insertion steps (0: DefaultSteps).
	Steps int
	// Batch is the number of perturbed images per forward pass (0: as many
	// as fit 2^21 input values, at most 128).
	Batch int
}

// Image is one input to explain, in the space the perturbations are made in.
type Image struct {
	// X is C×H×W: pixel values in [0,1] (preprocess.Image.Pixels) in pixel
	// space, the model input in tensor space.
	X       []float32
	C, H, W int
	// Target is the class whose probability the metrics follow.
	Target int
}

// Reference holds what every method of one image is compared with.
type Reference struct {
	// Y is p_t(X), the target's softmax probability on the original input.
	Y float64
	// NoHeatmap is p_t(0.5·X), the "No heatmap" explanation map.
	NoHeatmap float64
	// Logit is the target's logit on X.
	Logit float64

	blurred []float32 // the insertion start
}

// Result holds the scores of one map of one image.
type Result struct {
	// Area is the fraction of map elements with S > 0; Value is the mean of
	// S over them (0 when Area is 0).
	Area, Value float64
	// O is p_t(0.5·X + 0.5·S), OProduct is p_t(S ⊙ X), OMasked is p_t(X̂)
	// with the salient part (S > mean S) removed.
	O, OProduct, OMasked float64
	// MaskedFraction is the fraction of input values X̂ sets to zero.
	MaskedFraction float64
	// Fractions[k] is the fraction of input values changed at step k;
	// Deletion[k] and Insertion[k] are p_t there.
	Fractions, Deletion, Insertion []float64
	// DeletionAUC and InsertionAUC integrate the curves over Fractions
	// (trapezoid rule).
	DeletionAUC, InsertionAUC float64
}

func (e *Evaluator) steps() int {
	if e.Steps > 0 {
		return e.Steps
	}
	return DefaultSteps
}

func (e *Evaluator) batch(size int) int {
	if e.Batch > 0 {
		return e.Batch
	}
	return max(1, min(maxBatch, maxBatchValues/max(size, 1)))
}

// BlurSigma returns the insertion blur's σ in pixels for an H×W input:
// 5 px at 224 px, proportional to the shorter side.
func BlurSigma(h, w int) float64 { return 5 * float64(min(h, w)) / 224 }

// Protocol describes the evaluator's settings for an input of h×w pixels,
// for result files.
func (e *Evaluator) Protocol(h, w int) map[string]any {
	space := "pixel: perturbations on p/255 in [0,1], then preprocess.Options.Normalize"
	if e.Pre == nil {
		space = "tensor: perturbations on the model input"
	}
	sigma := BlurSigma(h, w)
	return map[string]any{
		"space":            space,
		"y":                "softmax probability of the target on the original input",
		"saliency":         "S = max(map, 0); 1-channel maps broadcast over the colour channels, C-channel maps per channel",
		"avg_drop":         "mean max(0, Y - O)/Y, O = p(0.5*X + 0.5*S)",
		"avg_drop_product": "mean max(0, Y - O)/Y, O = p(S * X) (Grad-CAM++ protocol)",
		"no_heatmap":       "O = p(0.5*X)",
		"win":              "smallest (Y - O)/Y with E = 0.5*X + 0.5*S; equal O share the win; No heatmap does not compete",
		"increase":         "mean 1[O > Y], E = 0.5*X + 0.5*S",
		"confidence_drop":  "mean (Y - p(Xhat))/Y, S' = S where S > mean(S) else 0, Xhat = (1 - 1[S' > 0]) * X",
		"area_value":       "area: fraction of map elements with S > 0; value: mean S over them (images with no such element left out)",
		"order":            "decreasing S, stable, lower flat C*H*W index first; 1-channel map element = pixel, C-channel element = one channel of one pixel",
		"deletion":         "changed values set to 0",
		"insertion":        "start from X blurred (Gaussian, taps to ceil(3 sigma), renormalised at borders), restore original values",
		"steps":            e.steps(),
		"step_elements":    "n_k = floor(k*E/steps), abscissa n_k/E; AUC by the trapezoid rule",
		"blur_sigma_px":    sigma,
		"blur_radius_px":   blurRadius(sigma),
		"batch":            e.batch(3 * h * w),
	}
}

func (e *Evaluator) check(img *Image) error {
	if img.C < 1 || img.H < 1 || img.W < 1 || len(img.X) != img.C*img.H*img.W {
		return fmt.Errorf("metrics: image of %dx%dx%d with %d values", img.C, img.H, img.W, len(img.X))
	}
	if img.Target < 0 {
		return fmt.Errorf("metrics: target class %d", img.Target)
	}
	return nil
}

// Reference computes Y, the "No heatmap" probability and the insertion
// start of an image.
func (e *Evaluator) Reference(ctx context.Context, img *Image) (*Reference, error) {
	if err := e.check(img); err != nil {
		return nil, err
	}
	var logit float64
	// Input 0 is 0.5·X, input 1 is X (last, so that logit is X's).
	probs, err := e.probs(ctx, img, 2, func(i int, dst []float32) {
		if i == 1 {
			copy(dst, img.X)
			return
		}
		for j, v := range img.X {
			dst[j] = 0.5 * v
		}
	}, &logit)
	if err != nil {
		return nil, err
	}
	return &Reference{Y: probs[1], NoHeatmap: probs[0], Logit: logit,
		blurred: Blur(img.X, img.C, img.H, img.W, BlurSigma(img.H, img.W))}, nil
}

// Evaluate scores map m of image img (Reference ref). m must have the
// image's H×W and one channel or the image's C.
func (e *Evaluator) Evaluate(ctx context.Context, img *Image, ref *Reference, m saliency.Map) (*Result, error) {
	if err := e.check(img); err != nil {
		return nil, err
	}
	s, err := positive(img, m)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	plane := img.H * img.W
	// expand returns the index of the map element of input value j.
	expand := func(j int) int {
		if m.C == 1 {
			return j % plane
		}
		return j
	}

	var sum, mean float64
	n := 0
	for _, v := range s {
		if v > 0 {
			n++
			sum += float64(v)
		}
		mean += float64(v)
	}
	res.Area = float64(n) / float64(len(s))
	if n > 0 {
		res.Value = sum / float64(n)
	}
	mean /= float64(len(s))
	removed := make([]bool, len(s)) // 1[S' > 0]: S > mean(S) (and so S > 0)
	var nRemoved int
	for i, v := range s {
		if float64(v) > mean && v > 0 {
			removed[i] = true
			nRemoved++
		}
	}
	res.MaskedFraction = float64(nRemoved) / float64(len(s))

	// Ordering for deletion and insertion.
	order := make([]int, len(s))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case s[a] > s[b]:
			return -1
		case s[a] < s[b]:
			return 1
		}
		return 0
	})
	// rank[i] is the position of map element i in the order.
	rank := make([]int, len(s))
	for pos, i := range order {
		rank[i] = pos
	}
	steps := e.steps()
	counts := make([]int, steps+1)
	res.Fractions = make([]float64, steps+1)
	for k := range counts {
		counts[k] = k * len(s) / steps
		res.Fractions[k] = float64(counts[k]) / float64(len(s))
	}

	// Perturbed inputs: 0 explanation, 1 product, 2 masked, then the
	// deletion steps, then the insertion steps.
	total := 3 + 2*(steps+1)
	probs, err := e.probs(ctx, img, total, func(i int, dst []float32) {
		switch {
		case i == 0:
			for j, x := range img.X {
				dst[j] = 0.5*x + 0.5*s[expand(j)]
			}
		case i == 1:
			for j, x := range img.X {
				dst[j] = s[expand(j)] * x
			}
		case i == 2:
			for j, x := range img.X {
				if removed[expand(j)] {
					dst[j] = 0
				} else {
					dst[j] = x
				}
			}
		case i < 3+steps+1:
			c := counts[i-3]
			for j, x := range img.X {
				if rank[expand(j)] < c {
					dst[j] = 0
				} else {
					dst[j] = x
				}
			}
		default:
			c := counts[i-3-(steps+1)]
			for j, x := range img.X {
				if rank[expand(j)] < c {
					dst[j] = x
				} else {
					dst[j] = ref.blurred[j]
				}
			}
		}
	}, nil)
	if err != nil {
		return nil, err
	}
	res.O, res.OProduct, res.OMasked = probs[0], probs[1], probs[2]
	res.Deletion = probs[3 : 3+steps+1]
	res.Insertion = probs[3+steps+1:]
	res.DeletionAUC = Trapezoid(res.Fractions, res.Deletion)
	res.InsertionAUC = Trapezoid(res.Fractions, res.Insertion)
	return res, nil
}

// positive returns S = max(map, 0) after checking the map against the image.
func positive(img *Image, m saliency.Map) ([]float32, error) {
	if m.H != img.H || m.W != img.W || (m.C != 1 && m.C != img.C) {
		return nil, fmt.Errorf("metrics: map of %dx%dx%d for an image of %dx%dx%d (want %d or 1 channels at the same size)",
			m.C, m.H, m.W, img.C, img.H, img.W, img.C)
	}
	if len(m.Data) != m.C*m.H*m.W {
		return nil, fmt.Errorf("metrics: map of %dx%dx%d holds %d values", m.C, m.H, m.W, len(m.Data))
	}
	s := make([]float32, len(m.Data))
	plane := m.H * m.W
	for i, v := range m.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, fmt.Errorf("metrics: map has %g at channel %d, row %d, column %d", v, i/plane, i%plane/m.W, i%m.W)
		}
		s[i] = max(v, 0)
	}
	return s, nil
}

// probs runs n perturbed versions of img through the model in batches and
// returns p_t of each. fill(i, dst) writes perturbed image i (in the
// perturbation space) to dst. When logit is not nil it receives the
// target's logit of the last image.
func (e *Evaluator) probs(ctx context.Context, img *Image, n int, fill func(i int, dst []float32), logit *float64) ([]float64, error) {
	size := len(img.X)
	b := e.batch(size)
	out := make([]float64, n)
	buf := make([]float32, min(b, n)*size)
	for start := 0; start < n; start += b {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cnt := min(b, n-start)
		x := buf[:cnt*size]
		for i := range cnt {
			fill(start+i, x[i*size:(i+1)*size])
		}
		if e.Pre != nil {
			var err error
			if x, err = e.Pre.Normalize(x, img.C, img.H, img.W); err != nil {
				return nil, fmt.Errorf("metrics: %w", err)
			}
		}
		y, err := e.Model.Logits(x, cnt)
		if err != nil {
			return nil, err
		}
		if len(y)%cnt != 0 || len(y)/cnt <= img.Target {
			return nil, fmt.Errorf("metrics: the model gave %d logits for %d inputs; target class %d", len(y), cnt, img.Target)
		}
		k := len(y) / cnt
		for i := range cnt {
			row := y[i*k : (i+1)*k]
			out[start+i] = Softmax(row, img.Target)
			if logit != nil {
				*logit = float64(row[img.Target])
			}
		}
	}
	return out, nil
}

// Softmax returns the softmax probability of class t of a logit row, in
// float64.
func Softmax(row []float32, t int) float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	var sum float64
	for _, v := range row {
		sum += math.Exp(float64(v) - m)
	}
	return math.Exp(float64(row[t])-m) / sum
}

// Trapezoid integrates y over the abscissae x with the trapezoid rule.
func Trapezoid(x, y []float64) float64 {
	var a float64
	for k := 1; k < len(x) && k < len(y); k++ {
		a += (x[k] - x[k-1]) * (y[k] + y[k-1]) / 2
	}
	return a
}

// blurRadius is the number of taps on each side of a Gaussian of σ.
func blurRadius(sigma float64) int { return int(math.Ceil(3 * sigma)) }

// Blur filters each channel of a C×H×W image with a separable Gaussian of
// σ pixels, taps to ⌈3σ⌉ on each side, the weights renormalised over the
// in-bounds taps at the borders. σ ≤ 0 returns a copy.
func Blur(x []float32, c, h, w int, sigma float64) []float32 {
	out := append([]float32(nil), x...)
	if sigma <= 0 {
		return out
	}
	r := blurRadius(sigma)
	k := make([]float64, 2*r+1)
	for i := range k {
		d := float64(i - r)
		k[i] = math.Exp(-d * d / (2 * sigma * sigma))
	}
	tmp := make([]float64, h*w)
	for ch := range c {
		p := out[ch*h*w : (ch+1)*h*w]
		for y := range h { // along rows
			for xx := range w {
				var s, n float64
				for t := max(xx-r, 0); t <= min(xx+r, w-1); t++ {
					s += k[t-xx+r] * float64(p[y*w+t])
					n += k[t-xx+r]
				}
				tmp[y*w+xx] = s / n
			}
		}
		for y := range h { // along columns
			for xx := range w {
				var s, n float64
				for t := max(y-r, 0); t <= min(y+r, h-1); t++ {
					s += k[t-y+r] * tmp[t*w+xx]
					n += k[t-y+r]
				}
				p[y*w+xx] = float32(s / n)
			}
		}
	}
	return out
}

// Completeness returns, for every image of the pass, the full-PANE
// decomposition (SPEC §5.6) of the logit targets[n]: the residual of the
// reconstruction and the E+/E− split.
func Completeness(p *saliency.Pass, targets []int) ([]excitation.Completeness, error) {
	if len(targets) != p.Images() {
		return nil, fmt.Errorf("metrics: %d targets for %d images", len(targets), p.Images())
	}
	res, err := p.L.Backward(excitation.Request{Mode: excitation.Full, SeedTensor: p.Logits, Seeds: p.OneHot(targets)})
	if err != nil {
		return nil, fmt.Errorf("metrics: completeness: %w", err)
	}
	return res.Completeness, nil
}
