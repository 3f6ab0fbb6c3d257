package render

import (
	"fmt"
	"image"
	"math"
)

// photoDim is the brightness factor of the greyscale photo that AbsRGB and
// Signed draw under the map.
const photoDim = 0.4

// AbsRGB draws the paper's view of a per-channel map: |map| normalised by
// its largest value over all channels, channel c driving colour c (a pixel
// where all three channels are strong is white; a strong blue channel alone
// shows blue), over the photo's BT.601 greyscale dimmed to 40%. The blend is
// a screen: out_c = 1 − (1 − a_c)(1 − 0.4·grey), with a_c = |m_c|/max|m|, so
// where the map is zero the dimmed photo shows, and where a_c = 1 colour c is
// at full intensity. A one-channel map drives all three colours (grey to
// white). An all-zero map leaves the dimmed photo.
func AbsRGB(photo, m Map) (*image.RGBA, error) {
	if err := checkPair(photo, m); err != nil {
		return nil, err
	}
	if m.C != 1 && m.C != 3 {
		return nil, fmt.Errorf("render: AbsRGB needs a 1- or 3-channel map, got %d channels", m.C)
	}
	s := maxAbs(m.Data)
	plane := m.H * m.W
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i := 0; i < plane; i++ {
		bg := photoDim * photo.luma(i)
		for c := 0; c < 3; c++ {
			a := float32(math.Abs(float64(m.Data[min(c, m.C-1)*plane+i]))) / s
			out.Pix[4*i+c] = to8(1 - (1-a)*(1-bg))
		}
		out.Pix[4*i+3] = 255
	}
	return out, nil
}

// Signed draws the channel sum of a map with a diverging blue–white–red
// colormap symmetric around 0: u = Σ_c m_c / max|Σ_c m_c| in [−1,1], colour
// bwr(u) linear from blue (0,0,1) at −1 through white at 0 to red (1,0,0)
// at +1 (matplotlib's "bwr"), drawn with opacity |u| over the photo's
// greyscale dimmed to 40%: out = (1 − |u|)·0.4·grey + |u|·bwr(u). Negating
// the map swaps red and blue. An all-zero map leaves the dimmed photo.
func Signed(photo, m Map) (*image.RGBA, error) {
	if err := checkPair(photo, m); err != nil {
		return nil, err
	}
	plane := m.H * m.W
	sum := make([]float32, plane)
	for c := 0; c < m.C; c++ {
		for i, v := range m.Data[c*plane : (c+1)*plane] {
			sum[i] += v
		}
	}
	s := maxAbs(sum)
	out := image.NewRGBA(image.Rect(0, 0, m.W, m.H))
	for i, v := range sum {
		u := v / s
		a := float32(math.Abs(float64(u)))
		col := [3]float32{1, 1 - u, 1 - u}
		if u < 0 {
			col = [3]float32{1 + u, 1 + u, 1}
		}
		bg := photoDim * photo.luma(i)
		for c := 0; c < 3; c++ {
			out.Pix[4*i+c] = to8((1-a)*bg + a*col[c])
		}
		out.Pix[4*i+3] = 255
	}
	return out, nil
}
