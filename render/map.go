package render

import (
	"fmt"
	"image"
	"math"
)

// Map is a planar float32 array: C channels of H×W values, row-major, one
// channel after the other (the layout of a C×H×W tensor).
//
// As a saliency map it has C = 3 (per colour channel, IOM, values in
// [−1,1]) or C = 1 (CAM methods, values in [0,1]). As a photo it has C = 1 or
// 3 and pixel values in [0,1] (preprocess.Image.Pixels).
type Map struct {
	C, H, W int
	Data    []float32
}

// maxPixels bounds the size of any picture this package makes.
const maxPixels = 100_000_000

// check reports a Map whose dimensions do not match its data or whose
// values are not finite; what names the argument in the message.
func (m Map) check(what string) error {
	if m.C < 1 || m.H < 1 || m.W < 1 {
		return fmt.Errorf("render: %s has dimensions %dx%dx%d", what, m.C, m.H, m.W)
	}
	if int64(m.H)*int64(m.W) > maxPixels || int64(m.C)*int64(m.H)*int64(m.W) != int64(len(m.Data)) {
		return fmt.Errorf("render: %s: dimensions %dx%dx%d do not match %d values", what, m.C, m.H, m.W, len(m.Data))
	}
	for i, v := range m.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			plane := m.H * m.W
			return fmt.Errorf("render: %s has %g at channel %d, row %d, column %d", what, v, i/plane, i%plane/m.W, i%m.W)
		}
	}
	return nil
}

// checkPhoto checks a photo: one or three channels.
func checkPhoto(photo Map) error {
	if err := photo.check("photo"); err != nil {
		return err
	}
	if photo.C != 1 && photo.C != 3 {
		return fmt.Errorf("render: photo has %d channels (want 1 or 3)", photo.C)
	}
	return nil
}

// checkPair checks a photo and a map drawn over it.
func checkPair(photo, m Map) error {
	if err := checkPhoto(photo); err != nil {
		return err
	}
	if err := m.check("map"); err != nil {
		return err
	}
	if m.H != photo.H || m.W != photo.W {
		return fmt.Errorf("render: map is %dx%d but the photo is %dx%d", m.H, m.W, photo.H, photo.W)
	}
	return nil
}

// rgb returns photo pixel i as RGB in [0,1] (grey replicated, values clamped).
func (m Map) rgb(i int) [3]float32 {
	plane := m.H * m.W
	var p [3]float32
	for c := range p {
		p[c] = clamp01(m.Data[min(c, m.C-1)*plane+i])
	}
	return p
}

// luma returns the BT.601 luma of photo pixel i in [0,1].
func (m Map) luma(i int) float32 {
	p := m.rgb(i)
	return 0.299*p[0] + 0.587*p[1] + 0.114*p[2]
}

func clamp01(v float32) float32 {
	return min(max(v, 0), 1)
}

// to8 maps [0,1] to 0..255, rounding to nearest.
func to8(v float32) uint8 {
	return uint8(clamp01(v)*255 + 0.5)
}

// maxAbs returns the largest |value| of data, or 1 when all are zero, so
// that dividing by it never divides by zero and leaves a zero map zero.
func maxAbs(data []float32) float32 {
	var s float32
	for _, v := range data {
		s = max(s, float32(math.Abs(float64(v))))
	}
	if s == 0 {
		return 1
	}
	return s
}

// Photo draws a photo Map (values in [0,1]) as an RGB image.
func Photo(photo Map) (*image.RGBA, error) {
	if err := checkPhoto(photo); err != nil {
		return nil, err
	}
	out := image.NewRGBA(image.Rect(0, 0, photo.W, photo.H))
	for i := 0; i < photo.H*photo.W; i++ {
		p := photo.rgb(i)
		out.Pix[4*i], out.Pix[4*i+1], out.Pix[4*i+2], out.Pix[4*i+3] = to8(p[0]), to8(p[1]), to8(p[2]), 255
	}
	return out, nil
}
