package preprocess

import "math"

// Resampling follows Pillow's Image.resize(..., BILINEAR), which is what
// torchvision's Resize applies to PIL images: a separable triangle filter
// with half-pixel centres whose support grows with the reduction factor when
// downsampling (antialiasing) and is one source pixel when upsampling (then
// it equals plain bilinear interpolation with edge clamping, PyTorch's
// interpolate(mode="bilinear", align_corners=False)). The horizontal pass
// runs first, then the vertical one.
//
// 8-bit sources take Pillow's 8-bit path: weights in fixed point with 22
// fractional bits and each pass rounded to uint8, so the result is the same
// byte image Pillow produces. Deeper sources are resampled in floating point
// (Pillow's mode "F" arithmetic).

// precisionBits is the number of fractional bits of 8-bit path weights.
const precisionBits = 32 - 8 - 2

// taps are the filter weights of one axis for a window of output indices.
type taps struct {
	start, count []int     // first source index and number of weights per output
	n            int       // row length of w and fixed (the most weights any output has)
	w            []float64 // normalised weights, output j's in w[j·n : j·n+count[j]]
	fixed        []int32   // w in fixed point with precisionBits fractional bits
}

// newTaps computes the triangle-filter weights that resample an axis of
// length in to length out, for the outputs from, from+1, …, from+count−1.
// Outputs outside [0,out) (padding of a centre crop larger than the resized
// image) get no weights and so the value 0.
func newTaps(in, out, from, count int) taps {
	scale := float64(in) / float64(out)
	filterScale := math.Max(scale, 1)
	support := filterScale // the triangle filter's support is 1
	t := taps{start: make([]int, count), count: make([]int, count), n: int(math.Ceil(support))*2 + 1}
	t.w = make([]float64, count*t.n)
	t.fixed = make([]int32, count*t.n)
	for j := 0; j < count; j++ {
		xx := from + j
		if xx < 0 || xx >= out {
			continue
		}
		center := (float64(xx) + 0.5) * scale
		lo := max(int(center-support+0.5), 0)
		hi := min(int(center+support+0.5), in)
		k := t.w[j*t.n : j*t.n+hi-lo]
		var sum float64
		for i := range k {
			k[i] = max(0, 1-math.Abs((float64(lo+i)-center+0.5)/filterScale))
			sum += k[i]
		}
		for i := range k {
			if sum != 0 {
				k[i] /= sum
			}
			t.fixed[j*t.n+i] = int32(0.5 + k[i]*(1<<precisionBits))
		}
		t.start[j], t.count[j] = lo, len(k)
	}
	return t
}

// resample resizes r (planar C×H×W) to rh×rw and returns the window of
// oh×ow outputs whose top-left corner is (top, left) in the resized image.
// An axis that is not resized and not cropped is left untouched.
func (r raster) resample(rh, rw, top, left, oh, ow int) raster {
	if !(r.w == rw && left == 0 && ow == rw) {
		r = r.horizontal(newTaps(r.w, rw, left, ow))
	}
	if !(r.h == rh && top == 0 && oh == rh) {
		r = r.vertical(newTaps(r.h, rh, top, oh))
	}
	return r
}

func (r raster) alloc(h, w int) raster {
	o := raster{c: r.c, h: h, w: w}
	if r.u8 != nil {
		o.u8 = make([]uint8, r.c*h*w)
	} else {
		o.f32 = make([]float32, r.c*h*w)
	}
	return o
}

// horizontal filters every row with t.
func (r raster) horizontal(t taps) raster {
	o := r.alloc(r.h, len(t.start))
	for row := 0; row < r.c*r.h; row++ {
		for j, s := range t.start {
			first, n := row*r.w+s, t.count[j]
			if r.u8 != nil {
				ss := int64(1) << (precisionBits - 1)
				for i, w := range t.fixed[j*t.n : j*t.n+n] {
					ss += int64(r.u8[first+i]) * int64(w)
				}
				o.u8[row*o.w+j] = clip8(ss)
			} else {
				var ss float64
				for i, w := range t.w[j*t.n : j*t.n+n] {
					ss += float64(r.f32[first+i]) * w
				}
				o.f32[row*o.w+j] = float32(ss)
			}
		}
	}
	return o
}

// vertical filters every column with t, a whole output row at a time.
func (r raster) vertical(t taps) raster {
	o := r.alloc(len(t.start), r.w)
	acc8 := make([]int64, r.w)
	accF := make([]float64, r.w)
	for c := 0; c < r.c; c++ {
		for j, s := range t.start {
			n := t.count[j]
			out := (c*o.h + j) * o.w
			if r.u8 != nil {
				for x := range acc8 {
					acc8[x] = 1 << (precisionBits - 1)
				}
				for i, w := range t.fixed[j*t.n : j*t.n+n] {
					in := r.u8[(c*r.h+s+i)*r.w:][:r.w]
					for x, v := range in {
						acc8[x] += int64(v) * int64(w)
					}
				}
				for x, v := range acc8 {
					o.u8[out+x] = clip8(v)
				}
			} else {
				clear(accF)
				for i, w := range t.w[j*t.n : j*t.n+n] {
					in := r.f32[(c*r.h+s+i)*r.w:][:r.w]
					for x, v := range in {
						accF[x] += float64(v) * w
					}
				}
				for x, v := range accF {
					o.f32[out+x] = float32(v)
				}
			}
		}
	}
	return o
}

func clip8(v int64) uint8 {
	return uint8(min(max(v>>precisionBits, 0), 255))
}
