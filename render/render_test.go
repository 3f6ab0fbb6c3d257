package render

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"testing"
)

func readJSON(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

// TestJetHandWorked checks entries of OpenCV's COLORMAP_JET (as RGB) at
// the knots of its piecewise-linear definition, R = clamp(1.5 − |4x − 3|),
// G = clamp(1.5 − |4x − 2|), B = clamp(1.5 − |4x − 1|) with x = k/255,
// times 255. At k = 0: B = 0.5·255 = 127.5 → 128. At 32: B = 1.5 − |128/255
// − 1| > 1 → 255, G = 1.5 − |128/255 − 2| = 0.0020 → 0.5 → 0 (even).
// At 64: G = 1.5 − |256/255 − 2| = 0.5039 → 128.5 → 128. At 96: R = 1.5 −
// |384/255 − 3| = 0.0059 → 1.5 → 2, B = 253.5 → 254. At 128: R = 0.5078 →
// 129.5 → 130, B = 0.4922 → 125.5 → 126. At 160: G = 1.5 − |640/255 − 2| =
// 0.9902 → 252.5 → 252. At 192: G = 1.5 − |768/255 − 2| = 0.4882 → 124.5 →
// 124. At 224: R = 1.5 − |896/255 − 3| = 0.9863 → 251.5 → 252. At 255:
// R = 0.5 → 127.5 → 128. (Ties go to the even neighbour here, as OpenCV's
// float32 rounding makes them.)
func TestJetHandWorked(t *testing.T) {
	want := map[int][3]uint8{
		0: {0, 0, 128}, 32: {0, 0, 255}, 64: {0, 128, 255}, 96: {2, 255, 254}, 128: {130, 255, 126},
		160: {255, 252, 0}, 192: {255, 124, 0}, 224: {252, 0, 0}, 255: {128, 0, 0},
	}
	for k, w := range want {
		if jetTable[k] != w {
			t.Errorf("jet[%d] = %v, want %v", k, jetTable[k], w)
		}
	}
}

func TestJetTableMatchesOpenCV(t *testing.T) {
	var g struct {
		OpenCV string     `json:"opencv"`
		RGB    [][3]uint8 `json:"rgb"`
	}
	readJSON(t, "jet_lut.json", &g)
	if len(g.RGB) != 256 {
		t.Fatalf("golden has %d entries", len(g.RGB))
	}
	for k, w := range g.RGB {
		if jetTable[k] != w {
			t.Errorf("jet[%d] = %v, OpenCV %s gives %v", k, jetTable[k], g.OpenCV, w)
		}
	}
}

func TestJetMatchesShowCamOnImage(t *testing.T) {
	var g struct {
		H, W  int
		Mask  []float64
		Photo []float64
		Out   []uint8
	}
	readJSON(t, "jet_overlay.json", &g)
	img, err := Jet(Map{3, g.H, g.W, f32(g.Photo)}, Map{1, g.H, g.W, f32(g.Mask)})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < g.H*g.W; i++ {
		for c := 0; c < 3; c++ {
			if got, want := img.Pix[4*i+c], g.Out[3*i+c]; got != want {
				t.Errorf("pixel %d channel %d: %d, show_cam_on_image gives %d", i, c, got, want)
			}
		}
		if img.Pix[4*i+3] != 255 {
			t.Fatalf("pixel %d not opaque", i)
		}
	}
}

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func TestJetMultiChannelAndZero(t *testing.T) {
	// 1×2 image, black photo. Channel mean of |m|: pixel 0 (0.2+0.4+0.6)/3 =
	// 0.4, pixel 1 0.8; renormalised: 0.5 and 1. uint8(255·0.5) = 127 →
	// jet (126, 255, 130) (R = 1.5 − |508/255 − 3| = 0.4922 → 125.5 → 126,
	// B = 0.5078 → 129.5 → 130); 255 → (128, 0, 0). cam = 0.5·heat/255, max =
	// 0.5·255/255, so out = uint8(255·heat/255) = heat.
	black := Map{3, 1, 2, make([]float32, 6)}
	m := Map{3, 1, 2, []float32{0.2, 0.8, 0.4, -0.8, -0.6, 0.8}}
	img, err := Jet(black, m)
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Pix[0:3]; !bytes.Equal(got, []byte{126, 255, 130}) {
		t.Errorf("pixel 0 = %v", got)
	}
	if got := img.Pix[4:7]; !bytes.Equal(got, []byte{128, 0, 0}) {
		t.Errorf("pixel 1 = %v, want 128 0 0", got)
	}
	// All zero: heat is jet(0) = (0, 0, 128) everywhere, max = 0.5·128/255,
	// so blue becomes 255 and no division by zero happens.
	img, err = Jet(black, Map{3, 1, 2, make([]float32, 6)})
	if err != nil {
		t.Fatal(err)
	}
	if got := img.Pix[0:3]; !bytes.Equal(got, []byte{0, 0, 255}) {
		t.Errorf("zero map pixel = %v, want 0 0 255", got)
	}
}

func TestEnlarge(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.SetRGBA(2, 1, color.RGBA{R: 200, A: 255})
	big := Enlarge(img, 5) // shorter side 2 → factor 3
	if b := big.Bounds(); b.Dx() != 9 || b.Dy() != 6 {
		t.Fatalf("size %v, want 9×6", b)
	}
	if big.RGBAAt(8, 5).R != 200 || big.RGBAAt(6, 3).R != 200 || big.RGBAAt(5, 5).R != 0 {
		t.Error("nearest-neighbour blocks are wrong")
	}
	if Enlarge(img, 2) != img {
		t.Error("an image already large enough was copied")
	}
}
