package render

import (
	"image"
	"math"
)

// jetTable is OpenCV's COLORMAP_JET as RGB (OpenCV itself returns BGR).
var jetTable = makeJet()

// makeJet builds the jet table the way OpenCV does, so that it matches
// entry for entry. Jet is piecewise linear: on x in [0,1] each channel is
// clamp(1.5 − |4x − c|, 0, 1) with c = 3 (red), 2 (green), 1 (blue). OpenCV
// samples it at x = k/255 into a float32 table, interpolates that table
// linearly at the float32 points k·(1/255) (its linspace), and converts
// v·255 to uint8 rounding half to even. Half of the entries fall exactly on
// .5 in exact arithmetic, so the float32 rounding of these steps decides
// them; the steps are repeated here in float32 for that reason.
func makeJet() [256][3]uint8 {
	var y [256][3]float32
	for k := range y {
		x := float64(k) / 255
		for c, centre := range [3]float64{3, 2, 1} {
			y[k][c] = float32(min(max(1.5-math.Abs(4*x-centre), 0), 1))
		}
	}
	var xs [256]float32
	step := float32(1) / float32(255)
	for k := range xs {
		xs[k] = float32(k) * step
	}
	var t [256][3]uint8
	for k := range t {
		for c := range t[k] {
			v := y[0][c]
			if k > 0 {
				// OpenCV's interp1 at its own breakpoint k: low = k−1, high = k.
				num := float32((xs[k] - xs[k-1]) * (y[k][c] - y[k-1][c]))
				v = y[k-1][c] + float32(num/(xs[k]-xs[k-1]))
			}
			t[k][c] = uint8(math.RoundToEven(float64(float32(v * 255))))
		}
	}
	return t
}

// Jet draws a CAM-style overlay exactly as pytorch-grad-cam's
// show_cam_on_image(photo, mask, use_rgb=True, image_weight=0.5) does, in
// float32: heat = jet(uint8(255·mask))/255 (uint8 truncates),
// cam = 0.5·heat + 0.5·photo, cam /= max(cam), out = uint8(255·cam).
//
// For a one-channel map the mask is the map clamped to [0,1] (CAM maps are
// already there). For a multi-channel map the mask is the channel mean of
// |map| divided by its maximum (an all-zero map stays zero). A grey photo is
// replicated to RGB; photo values are clamped to [0,1].
func Jet(photo, m Map) (*image.RGBA, error) {
	if err := checkPair(photo, m); err != nil {
		return nil, err
	}
	plane := m.H * m.W
	mask := make([]float32, plane)
	if m.C == 1 {
		for i, v := range m.Data {
			mask[i] = clamp01(v)
		}
	} else {
		for c := 0; c < m.C; c++ {
			for i, v := range m.Data[c*plane : (c+1)*plane] {
				mask[i] += float32(math.Abs(float64(v)))
			}
		}
		for i := range mask {
			mask[i] /= float32(m.C)
		}
		s := maxAbs(mask)
		for i := range mask {
			mask[i] /= s
		}
	}
	cam := make([]float32, 3*plane)
	var top float32 // > 0: jet's blue channel is at least 128/255 everywhere
	for i, v := range mask {
		heat := jetTable[uint8(255*v)]
		p := photo.rgb(i)
		for c := 0; c < 3; c++ {
			x := float32(0.5*(float32(heat[c])/255)) + float32(0.5*p[c])
			cam[3*i+c] = x
			top = max(top, x)
		}
	}
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < plane; i++ {
		for c := 0; c < 3; c++ {
			out.Pix[4*i+c] = uint8(255 * (cam[3*i+c] / top))
		}
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
