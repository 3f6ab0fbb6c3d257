// Package iom builds the paper's IOM saliency maps (SPEC §6) and the other
// per-pixel, per-channel maps paneonnx offers, from the backward engine's
// vectors read at the model input (or at any tensor).
//
// IOM_t = Norm(Box_k(r-Exc+_t)): the relative positive excitation of target
// t at the input, a k×k mean filter per channel, and division by max|·|.
package iom

import (
	"fmt"
	"math"
	"strings"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
)

// Method names a map.
type Method string

// The maps explain offers.
const (
	IOM        Method = "iom"        // r-Exc+ coefficients (the paper's IOM)
	IOMNeg     Method = "iom-neg"    // r-Exc− coefficients
	PANE       Method = "pane"       // full PANE P (all sign paths with an even number of negative steps)
	PANENeg    Method = "pane-neg"   // full PANE M (odd number of negative steps)
	IOMInput   Method = "iomxinput"  // r-Exc+ ⊙ input: contributions
	Grad       Method = "grad"       // ∂target/∂input
	GradxInput Method = "gradxinput" // gradient ⊙ input
)

// Methods lists every method, in display order.
var Methods = []Method{IOM, IOMNeg, PANE, PANENeg, IOMInput, Grad, GradxInput}

// ParseMethods parses a comma-separated list of method names.
func ParseMethods(s string) ([]Method, error) {
	var out []Method
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(strings.ToLower(name))
		if name == "" {
			continue
		}
		found := false
		for _, m := range Methods {
			if string(m) == name {
				out, found = append(out, m), true
			}
		}
		if !found {
			return nil, fmt.Errorf("unknown method %q (known: %s)", name, methodList())
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no method given (known: %s)", methodList())
	}
	return out, nil
}

func methodList() string {
	var names []string
	for _, m := range Methods {
		names = append(names, string(m))
	}
	return strings.Join(names, ", ")
}

func (m Method) mode() excitation.Mode {
	switch m {
	case IOM, IOMInput:
		return excitation.ExcPos
	case IOMNeg:
		return excitation.RelNeg
	case PANE, PANENeg:
		return excitation.Full
	}
	return excitation.Grad
}

func (m Method) timesInput() bool { return m == IOMInput || m == GradxInput }

// Raw holds the raw maps of one method: one C×H×W map per seed row (image
// × target), before smoothing and normalisation; for iom exactly r-Exc+ at
// the read tensor, at true scale where float32 allows (see Log2Scale).
type Raw struct {
	Method Method
	// Maps[b] is the map of seed row b.
	Maps [][]float32
	// Shape is the map shape (the read tensor without the batch).
	Shape []int
	// Log2Scale[b] is the power of two Maps[b] must be multiplied by for the
	// true values (0 unless the values left float32's range).
	Log2Scale []float64
	// Completeness has one entry per seed row for the full-PANE methods.
	Completeness []excitation.Completeness
}

// Compute runs the backward pass of method m for the given seeds and reads
// the maps at tensor at (the model input when empty).
func Compute(l *excitation.Lowered, m Method, seedTensor string, seeds *graph.Tensor, at string) (*Raw, error) {
	if at == "" {
		at = l.G.Inputs[0]
	}
	x, ok := l.Acts[at]
	if !ok {
		return nil, fmt.Errorf("tensor %q is not a tensor of the model, or one folded away (see `paneonnx layers`)", at)
	}
	res, err := l.Backward(excitation.Request{Mode: m.mode(), SeedTensor: seedTensor, Seeds: seeds, Read: []string{at}})
	if err != nil {
		return nil, err
	}
	v := res.At[at]
	rows := v.Rows()
	raw := &Raw{Method: m, Shape: x.Shape[1:], Maps: make([][]float32, rows), Log2Scale: make([]float64, rows), Completeness: res.Completeness}
	perImage := rows / x.Batch()
	per := len(x.Data) / x.Batch()
	for b := range rows {
		switch m {
		case PANE, PANENeg:
			raw.Maps[b], raw.Log2Scale[b] = pathSums(v, res.D[at], b, m == PANE)
		default:
			raw.Maps[b] = append([]float32(nil), v.Row(b)...)
			raw.Log2Scale[b] = v.Log2Scale[b]
		}
		if m.timesInput() {
			img := x.Data[(b/perImage)*per : (b/perImage+1)*per]
			for i := range raw.Maps[b] {
				raw.Maps[b][i] *= img[i]
			}
		}
	}
	return raw, nil
}

// pathSums returns P = (S + D)/2 (or M = (S − D)/2) for row b as float32
// values times 2^scale.
func pathSums(s, d *excitation.Vec, b int, even bool) ([]float32, float64) {
	sv, dv := s.Float64(b), d.Row(b)
	scale := d.Log2Scale[b]
	out := make([]float32, len(sv))
	sign := 1.0
	if !even {
		sign = -1
	}
	for i := range out {
		// (S + sign·D·2^scale)/2, expressed in units of 2^scale.
		out[i] = float32((math.Ldexp(sv[i], -int(scale)) + sign*float64(dv[i])) / 2)
	}
	return out, scale
}

// Box applies a k×k mean filter to each channel of a C×H×W map; at the
// borders it averages the in-bounds neighbours only. k ≤ 1 returns a copy.
func Box(m []float32, c, h, w, k int) []float32 {
	out := make([]float32, len(m))
	if k <= 1 {
		copy(out, m)
		return out
	}
	lo, hi := (k-1)/2, k/2
	for ch := range c {
		plane := m[ch*h*w : (ch+1)*h*w]
		dst := out[ch*h*w : (ch+1)*h*w]
		for i := range h {
			for j := range w {
				var sum float64
				var n int
				for y := max(i-lo, 0); y <= min(i+hi, h-1); y++ {
					for x := max(j-lo, 0); x <= min(j+hi, w-1); x++ {
						sum += float64(plane[y*w+x])
						n++
					}
				}
				dst[i*w+j] = float32(sum / float64(n))
			}
		}
	}
	return out
}

// Normalize divides m by its max-abs value in place (an all-zero map stays
// zero) and returns it.
func Normalize(m []float32) []float32 {
	var top float32
	for _, v := range m {
		top = max(top, float32(math.Abs(float64(v))))
	}
	if top == 0 || math.IsInf(float64(top), 0) || math.IsNaN(float64(top)) {
		return m
	}
	for i := range m {
		m[i] /= top
	}
	return m
}

// Final returns the finished map of row b: Box_k then Norm, over the map's
// trailing C×H×W (a map of another rank is only normalised).
func (r *Raw) Final(b, k int) []float32 {
	if len(r.Shape) != 3 {
		return Normalize(append([]float32(nil), r.Maps[b]...))
	}
	return Normalize(Box(r.Maps[b], r.Shape[0], r.Shape[1], r.Shape[2], k))
}
