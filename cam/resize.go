package cam

import "math"

// axis holds, for each output position along one axis, the two source
// indices and the weight of the second.
type axis struct {
	lo, hi []int
	frac   []float64
}

// halfPixelAxis maps out positions onto in with half-pixel centres
// (align_corners = false), clamping at the borders: src = (dst + ½)·in/out −
// ½, negative sources read position 0 and the last source position is not
// interpolated past. This is OpenCV's INTER_LINEAR rule (cv2.resize, which
// pytorch-grad-cam's scale_cam_image uses) and PyTorch's bilinear
// interpolate with align_corners=False.
func halfPixelAxis(in, out int) axis {
	a := axis{lo: make([]int, out), hi: make([]int, out), frac: make([]float64, out)}
	scale := float64(in) / float64(out)
	for d := range out {
		src := (float64(d)+0.5)*scale - 0.5
		if src < 0 {
			src = 0
		}
		a.set(d, src, in)
	}
	return a
}

// cornerAxis maps out positions onto in with the corners aligned
// (align_corners = true): src = dst·(in−1)/(out−1), as torch's
// UpsamplingBilinear2d, which pytorch-grad-cam's Score-CAM uses.
func cornerAxis(in, out int) axis {
	a := axis{lo: make([]int, out), hi: make([]int, out), frac: make([]float64, out)}
	var scale float64
	if out > 1 {
		scale = float64(in-1) / float64(out-1)
	}
	for d := range out {
		a.set(d, float64(d)*scale, in)
	}
	return a
}

func (a axis) set(d int, src float64, in int) {
	lo := min(int(math.Floor(src)), in-1)
	a.lo[d], a.hi[d] = lo, min(lo+1, in-1)
	if a.hi[d] != lo {
		a.frac[d] = src - float64(lo)
	}
}

// resizer resamples h×w maps to H×W bilinearly.
type resizer struct {
	h, w, H, W int
	ys, xs     axis
}

func newResizer(h, w, H, W int, alignCorners bool) *resizer {
	r := &resizer{h: h, w: w, H: H, W: W}
	if alignCorners {
		r.ys, r.xs = cornerAxis(h, H), cornerAxis(w, W)
	} else {
		r.ys, r.xs = halfPixelAxis(h, H), halfPixelAxis(w, W)
	}
	return r
}

// resize64 writes the resampled src (h·w values) into dst (H·W values),
// computing in float64. row is scratch of w·H values.
func (r *resizer) resize64(src []float32, dst, row []float64) {
	// Columns first: for every output row, interpolate the two source rows.
	for y := range r.H {
		lo, hi, f := r.ys.lo[y], r.ys.hi[y], r.ys.frac[y]
		a, b := src[lo*r.w:(lo+1)*r.w], src[hi*r.w:(hi+1)*r.w]
		out := row[y*r.w : (y+1)*r.w]
		for x := range r.w {
			out[x] = float64(a[x])*(1-f) + float64(b[x])*f
		}
	}
	for y := range r.H {
		in := row[y*r.w : (y+1)*r.w]
		out := dst[y*r.W : (y+1)*r.W]
		for x := range r.W {
			f := r.xs.frac[x]
			out[x] = in[r.xs.lo[x]]*(1-f) + in[r.xs.hi[x]]*f
		}
	}
}

// resize returns the resampled src as float32.
func (r *resizer) resize(src []float32) []float32 {
	d64 := make([]float64, r.H*r.W)
	r.resize64(src, d64, make([]float64, r.w*r.H))
	out := make([]float32, len(d64))
	for i, v := range d64 {
		out[i] = float32(v)
	}
	return out
}

// minMax scales x in place as pytorch-grad-cam's scale_cam_image does, in
// float32: x − min, then divided by 1e-7 + the new max (max − min: float32
// subtraction is monotonic, so this is the largest shifted value). A
// constant map becomes all zero.
func minMax(x []float32) {
	if len(x) == 0 {
		return
	}
	lo, hi := x[0], x[0]
	for _, v := range x {
		if v < lo {
			lo = v
		}
		if v > hi {
			hi = v
		}
	}
	inv := 1 / (1e-7 + (hi - lo))
	for i, v := range x {
		x[i] = (v - lo) * inv
	}
}
