package cam

import (
	"math"
	"testing"
)

// TestResizeMatchesReferences compares the two bilinear rules with outputs
// of cv2.resize (INTER_LINEAR, OpenCV 4.6) and torch's UpsamplingBilinear2d
// (align_corners=True) for a 2×3 map resized to 4×5.
func TestResizeMatchesReferences(t *testing.T) {
	src := []float32{0, 1, 3, 2, -1, 5}
	for _, c := range []struct {
		name         string
		alignCorners bool
		want         []float32
	}{
		{"cv2.resize", false, []float32{
			0, 0.4, 1, 2.2, 3,
			0.5, 0.5, 0.5, 2.3, 3.5,
			1.5, 0.7, -0.5, 2.5, 4.5,
			2, 0.8, -1, 2.6, 5}},
		{"UpsamplingBilinear2d", true, []float32{
			0, 0.5, 1, 2, 3,
			0.6666667, 0.5, 0.33333328, 2, 3.6666665,
			1.3333334, 0.5, -0.33333337, 2, 4.3333335,
			2, 0.5, -1, 2, 5}},
	} {
		got := newResizer(2, 3, 4, 5, c.alignCorners).resize(src)
		for i := range got {
			if math.Abs(float64(got[i]-c.want[i])) > 1e-6 {
				t.Fatalf("%s: got %v, want %v", c.name, got, c.want)
			}
		}
	}
}

// TestResizeIdentityAndDownsample: the same size copies, and a 1×1 map
// spreads to a constant.
func TestResizeIdentityAndDownsample(t *testing.T) {
	src := []float32{1, 2, 3, 4, 5, 6}
	for _, ac := range []bool{false, true} {
		got := newResizer(2, 3, 2, 3, ac).resize(src)
		for i := range got {
			if got[i] != src[i] {
				t.Fatalf("align_corners=%v: identity resize changed %v to %v", ac, src, got)
			}
		}
		for _, v := range newResizer(1, 1, 3, 4, ac).resize([]float32{7}) {
			if v != 7 {
				t.Fatalf("align_corners=%v: 1×1 map did not spread", ac)
			}
		}
	}
	// Halving with half-pixel centres averages each 2×2 block's middle.
	got := newResizer(2, 4, 1, 2, false).resize([]float32{0, 2, 4, 6, 8, 10, 12, 14})
	if got[0] != 5 || got[1] != 9 {
		t.Fatalf("downsampled to %v, want [5 9]", got)
	}
}

func TestMinMax(t *testing.T) {
	x := []float32{-1, 1, 3}
	minMax(x)
	want := []float32{0, 0.5, 1}
	for i := range x {
		if math.Abs(float64(x[i]-want[i])) > 1e-6 {
			t.Fatalf("got %v, want %v", x, want)
		}
	}
	c := []float32{2, 2, 2}
	minMax(c)
	for _, v := range c {
		if v != 0 {
			t.Fatalf("a constant map became %v, want zeros", c)
		}
	}
}
