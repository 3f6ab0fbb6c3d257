package preprocess

import (
	"image"
	"math"
	"testing"
)

// TestResizeHandWorked2x2To4x4: half-pixel centres, scale 1/2. Output
// column j samples source x = (j + 0.5)/2 − 0.5 = −0.25, 0.25, 0.75, 1.25,
// clamped at the edges: weights (1,0), (0.75,0.25), (0.25,0.75), (0,1).
// Rows [0 100] and [200 252] become [0 25 75 100] and [200 213 239 252],
// then each column likewise. Every intermediate is an integer, so the 8-bit
// path (which rounds after each pass) gives the same values.
func TestResizeHandWorked2x2To4x4(t *testing.T) {
	src := []float32{0, 100, 200, 252}
	// Float path: exact bilinear values.
	row := func(a, b float64) []float64 { return []float64{a, 0.75*a + 0.25*b, 0.25*a + 0.75*b, b} }
	top, bot := row(0, 100), row(200, 252)
	var want []float64
	for _, wy := range [][2]float64{{1, 0}, {0.75, 0.25}, {0.25, 0.75}, {0, 1}} {
		for x := 0; x < 4; x++ {
			want = append(want, wy[0]*top[x]+wy[1]*bot[x])
		}
	}
	// e.g. want[5] = 0.75·25 + 0.25·213 = 72, want[10] = 0.25·75 + 0.75·239 = 198.
	if want[5] != 72 || want[10] != 198 {
		t.Fatalf("hand-worked values wrong: %v", want)
	}
	f := raster{c: 1, h: 2, w: 2, f32: src}.resample(4, 4, 0, 0, 4, 4)
	for i, w := range want {
		if math.Abs(float64(f.f32[i])-w) > 1e-4 {
			t.Errorf("float path [%d] = %g, want %g", i, f.f32[i], w)
		}
	}
	// 8-bit path: the same here, every intermediate being an integer.
	u := raster{c: 1, h: 2, w: 2, u8: []uint8{0, 100, 200, 252}}.resample(4, 4, 0, 0, 4, 4)
	for i, w := range want {
		if float64(u.u8[i]) != w {
			t.Errorf("8-bit path [%d] = %d, want %g", i, u.u8[i], w)
		}
	}
}

// TestResizeDownsampleAntialiased: 4 → 2 samples with support 2 source
// pixels around centres 1 and 3: weights of pixels 0..2 for output 0 are
// tri((x+0.5−1)/2) = 0.75, 0.75, 0.25 → normalised 3/7, 3/7, 1/7.
func TestResizeDownsampleAntialiased(t *testing.T) {
	r := raster{c: 1, h: 1, w: 4, f32: []float32{70, 0, 0, 0}}.resample(1, 2, 0, 0, 1, 2)
	if math.Abs(float64(r.f32[0])-30) > 1e-4 || r.f32[1] != 0 {
		t.Errorf("got %v, want [30 0]", r.f32)
	}
}

type goldenFile struct {
	Pillow      string
	Torchvision string
	Inputs      map[string]struct {
		H, W int
		Data []uint8
	}
	Cases []struct {
		Name         string
		Input        string
		Mode         string
		Size         [2]int
		CropFraction float32 `json:"crop_fraction"`
		U8           []uint8
		F32          []float64
	}
}

// TestResizeMatchesPillow compares with Pillow's resize(BILINEAR) (8-bit
// and mode "F") and torchvision's Resize + CenterCrop, from
// testdata/make_golden.py.
func TestResizeMatchesPillow(t *testing.T) {
	var g goldenFile
	readGolden(t, "resize_golden.json", &g)
	for _, c := range g.Cases {
		in, ok := g.Inputs[c.Input]
		if !ok {
			t.Fatalf("%s: no input %q", c.Name, c.Input)
		}
		mode, err := ParseResizeMode(c.Mode)
		if err != nil {
			t.Fatal(err)
		}
		opt := Options{Size: c.Size, Resize: mode, CropFraction: c.CropFraction, Scale: 1, Std: ones, Channels: 3}
		// 8-bit source: an RGBA image.
		rgba := image.NewRGBA(image.Rect(0, 0, in.W, in.H))
		// 16-bit source with the same values (v·257/257 = v): float path.
		deep := image.NewRGBA64(image.Rect(0, 0, in.W, in.H))
		n := in.H * in.W
		for i := 0; i < n; i++ {
			for ch := 0; ch < 3; ch++ {
				v := in.Data[ch*n+i]
				rgba.Pix[4*i+ch] = v
				deep.Pix[8*i+2*ch], deep.Pix[8*i+2*ch+1] = v, v
			}
			rgba.Pix[4*i+3] = 255
			deep.Pix[8*i+6], deep.Pix[8*i+7] = 255, 255
		}
		got, err := FromImage(rgba, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range c.U8 {
			if p := got.Pixels[i] * 255; math.Abs(float64(p)-float64(w)) > 1e-3 {
				t.Fatalf("%s: 8-bit [%d] = %g, Pillow %s / torchvision %s give %d", c.Name, i, p, g.Pillow, g.Torchvision, w)
			}
		}
		if c.F32 == nil {
			continue
		}
		gotF, err := FromImage(deep, opt)
		if err != nil {
			t.Fatal(err)
		}
		for i, w := range c.F32 {
			if p := float64(gotF.Pixels[i]) * 255; math.Abs(p-w) > 2e-4*(1+math.Abs(w)) {
				t.Fatalf("%s: float [%d] = %g, Pillow mode F gives %g", c.Name, i, p, w)
			}
		}
	}
}

// TestGeometry checks torchvision's Resize(256) + CenterCrop(224) sizes and
// offsets, worked by hand.
func TestGeometry(t *testing.T) {
	o := Options{Size: [2]int{224, 224}, Resize: ShorterCrop, CropFraction: 0.875}
	for _, c := range []struct{ h, w, rh, rw, top, left int }{
		// 512×341 (coral_cat): 256 × int(256·512/341 = 384.37) = 384; left (384−224)/2 = 80.
		{341, 512, 256, 384, 16, 80},
		// 600×512 portrait: width 256, height int(256·600/512 = 300); top 38.
		{600, 512, 300, 256, 38, 16},
		// 929 tall, 512 wide: int(464.5) = 464, top (464−224)/2 = 120.
		{929, 512, 464, 256, 120, 16},
		// 227 wide, 256 tall → 256 × int(288.7) = 288: top round(32) = 32.
		{256, 227, 288, 256, 32, 16},
	} {
		rh, rw, top, left := o.geometry(c.h, c.w)
		if rh != c.rh || rw != c.rw || top != c.top || left != c.left {
			t.Errorf("%dx%d: got %dx%d at (%d,%d), want %dx%d at (%d,%d)", c.h, c.w, rh, rw, top, left, c.rh, c.rw, c.top, c.left)
		}
	}
	// Round half to even: margin 1 → offset round(0.5) = 0, margin 3 → 2.
	if cropOffset(225, 224) != 0 || cropOffset(227, 224) != 2 || cropOffset(226, 224) != 1 {
		t.Error("crop offsets do not round half to even")
	}
	// Crop larger than the image: padding (5 → 8: 1 before, 2 after).
	if cropOffset(5, 8) != -1 {
		t.Errorf("padding offset %d, want -1", cropOffset(5, 8))
	}
	// Crop fraction 0.8 of 224 is 280 although float32(0.8) > 0.8.
	o.CropFraction = 0.8
	if rh, _, _, _ := o.geometry(300, 300); rh != 280 {
		t.Errorf("crop fraction 0.8: shorter side %d, want 280", rh)
	}
}
