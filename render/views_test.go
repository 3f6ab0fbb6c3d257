package render

import (
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paneonnx/paneonnx/internal/testutil"
)

func pix(img *image.RGBA, x, y int) [4]uint8 {
	i := img.PixOffset(x, y)
	return [4]uint8{img.Pix[i], img.Pix[i+1], img.Pix[i+2], img.Pix[i+3]}
}

func TestAbsRGBHandWorked(t *testing.T) {
	// Photo 1×3, grey 0.5 everywhere: background 0.4·0.5 = 0.2.
	photo := Map{1, 1, 3, []float32{0.5, 0.5, 0.5}}
	// Pixel 0: all channels zero → 0.2 → 51.
	// Pixel 1: blue −1 (the max |·|) only → B = 1 − 0·0.8 = 1; R = G = 0.2.
	// Pixel 2: R 0.5, G −0.5, B 0.25 → 1 − 0.5·0.8 = 0.6 → 153 (R, G),
	// 1 − 0.75·0.8 = 0.4 → 102 (B).
	m := Map{3, 1, 3, []float32{
		0, 0, 0.5, // R
		0, 0, -0.5, // G
		0, -1, 0.25, // B
	}}
	img, err := AbsRGB(photo, m)
	if err != nil {
		t.Fatal(err)
	}
	for x, want := range [][4]uint8{{51, 51, 51, 255}, {51, 51, 255, 255}, {153, 153, 102, 255}} {
		if got := pix(img, x, 0); got != want {
			t.Errorf("pixel %d = %v, want %v", x, got, want)
		}
	}
	// A one-channel map is grey: 1 − (1 − 0.5)·0.8 = 0.6.
	img, err = AbsRGB(photo, Map{1, 1, 3, []float32{0, -0.5, 1}})
	if err != nil {
		t.Fatal(err)
	}
	if got := pix(img, 1, 0); got != [4]uint8{153, 153, 153, 255} {
		t.Errorf("one-channel pixel = %v", got)
	}
	if got := pix(img, 2, 0); got != [4]uint8{255, 255, 255, 255} {
		t.Errorf("one-channel max pixel = %v", got)
	}
}

func TestSignedHandWorkedAndSymmetric(t *testing.T) {
	// RGB photo pure green (luma 0.587 → background 0.2348).
	photo := Map{3, 1, 4, []float32{0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0}}
	// Channel sums: 2, −2, 1, 0 → u = 1, −1, 0.5, 0.
	m := Map{3, 1, 4, []float32{1, -1, 0.25, 0, 0.5, -0.5, 0.25, 0, 0.5, -0.5, 0.5, 0}}
	img, err := Signed(photo, m)
	if err != nil {
		t.Fatal(err)
	}
	// u = 0.5: 0.5·0.2348 + 0.5·(1, 0.5, 0.5) = (0.6174, 0.3674, 0.3674).
	want := [][4]uint8{{255, 0, 0, 255}, {0, 0, 255, 255}, {157, 94, 94, 255}, {60, 60, 60, 255}}
	for x, w := range want {
		if got := pix(img, x, 0); got != w {
			t.Errorf("pixel %d = %v, want %v", x, got, w)
		}
	}
	neg := Map{m.C, m.H, m.W, make([]float32, len(m.Data))}
	for i, v := range m.Data {
		neg.Data[i] = -v
	}
	img2, err := Signed(photo, neg)
	if err != nil {
		t.Fatal(err)
	}
	for x := 0; x < 4; x++ {
		a, b := pix(img, x, 0), pix(img2, x, 0)
		if a[0] != b[2] || a[1] != b[1] || a[2] != b[0] {
			t.Errorf("pixel %d: %v for m, %v for −m: red and blue not swapped", x, a, b)
		}
	}
}

func TestZeroMapsShowDimmedPhoto(t *testing.T) {
	photo := Map{1, 2, 2, []float32{0, 1, 0.5, 0.25}}
	want := []uint8{0, 102, 51, 26} // 0.4·p·255, rounded
	for name, f := range map[string]func(Map, Map) (*image.RGBA, error){"AbsRGB": AbsRGB, "Signed": Signed} {
		for _, c := range []int{1, 3} {
			img, err := f(photo, Map{c, 2, 2, make([]float32, 4*c)})
			if err != nil {
				t.Fatal(err)
			}
			for i, w := range want {
				if got := pix(img, i%2, i/2); got != [4]uint8{w, w, w, 255} {
					t.Errorf("%s, %d channels, pixel %d = %v, want grey %d", name, c, i, got, w)
				}
			}
		}
	}
}

func TestBadInputs(t *testing.T) {
	photo := Map{3, 2, 2, make([]float32, 12)}
	nan := float32(0)
	nan /= nan
	for name, c := range map[string]struct {
		photo, m Map
		msg      string
	}{
		"size mismatch":  {photo, Map{1, 2, 3, make([]float32, 6)}, "map is 2x3 but the photo is 2x2"},
		"short data":     {photo, Map{3, 2, 2, make([]float32, 11)}, "do not match 11 values"},
		"NaN":            {photo, Map{1, 2, 2, []float32{0, 0, 0, nan}}, "NaN at channel 0, row 1, column 1"},
		"zero dims":      {photo, Map{}, "dimensions 0x0x0"},
		"photo channels": {Map{2, 2, 2, make([]float32, 8)}, Map{1, 2, 2, make([]float32, 4)}, "photo has 2 channels"},
	} {
		for fn, f := range map[string]func(Map, Map) (*image.RGBA, error){"AbsRGB": AbsRGB, "Signed": Signed, "Jet": Jet} {
			_, err := f(c.photo, c.m)
			if err == nil || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s %s: got %v, want an error containing %q", fn, name, err, c.msg)
			}
		}
	}
	if _, err := AbsRGB(photo, Map{2, 2, 2, make([]float32, 8)}); err == nil {
		t.Error("AbsRGB accepted a 2-channel map")
	}
	if _, err := Photo(Map{4, 1, 1, make([]float32, 4)}); err == nil {
		t.Error("Photo accepted 4 channels")
	}
}

func TestPhoto(t *testing.T) {
	img, err := Photo(Map{3, 1, 2, []float32{1, 0, 0.5, 0, 2, -1}})
	if err != nil {
		t.Fatal(err)
	}
	// Values clamped to [0,1], 0.5 → 127.5 → 128.
	if got := pix(img, 0, 0); got != [4]uint8{255, 128, 255, 255} {
		t.Errorf("pixel 0 = %v", got)
	}
	if got := pix(img, 1, 0); got != [4]uint8{0, 0, 0, 255} {
		t.Errorf("pixel 1 = %v", got)
	}
}

func TestGrid(t *testing.T) {
	red := image.NewRGBA(image.Rect(0, 0, 20, 10))
	blue := image.NewRGBA(image.Rect(0, 0, 10, 6))
	for i := 0; i < len(red.Pix); i += 4 {
		copy(red.Pix[i:], []uint8{255, 0, 0, 255})
	}
	for i := 0; i < len(blue.Pix); i += 4 {
		copy(blue.Pix[i:], []uint8{0, 0, 255, 255})
	}
	g, err := Grid([]Tile{{"red", red}, {"a title much too long", blue}, {"", red}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Cells 20×(10+17), pad 4: width 2·24+4 = 52, two rows: 2·31+4 = 66.
	if b := g.Bounds(); b.Dx() != 52 || b.Dy() != 66 {
		t.Fatalf("grid is %v", b)
	}
	// Tile 0 at (4, 4+17), tile 1 centred in cell 2: x = 28+5, tile 2 in row 2.
	checks := []struct {
		x, y int
		want [4]uint8
	}{
		{4, 21, [4]uint8{255, 0, 0, 255}}, {23, 30, [4]uint8{255, 0, 0, 255}},
		{33, 21, [4]uint8{0, 0, 255, 255}}, {32, 21, [4]uint8{255, 255, 255, 255}},
		{4, 31 + 21, [4]uint8{255, 0, 0, 255}}, {0, 0, [4]uint8{255, 255, 255, 255}},
	}
	for _, c := range checks {
		if got := pix(g, c.x, c.y); got != c.want {
			t.Errorf("(%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
	// Titles are drawn: some dark pixels in the first title band.
	dark := 0
	for y := 4; y < 17; y++ {
		for x := 4; x < 24; x++ {
			if p := pix(g, x, y); p[0] < 128 {
				dark++
			}
		}
	}
	if dark == 0 {
		t.Error("no title text drawn")
	}
	if got := fitTitle("a title much too long", 20); got != "a " { // 2 characters fit, no room for "..."
		t.Errorf("fitTitle = %q", got)
	}
	if got := fitTitle("abcdefghij", 56); got != "abcde..." {
		t.Errorf("fitTitle = %q", got)
	}
	for _, bad := range []struct {
		tiles []Tile
		cols  int
	}{{nil, 1}, {[]Tile{{"x", red}}, 0}, {[]Tile{{"x", nil}}, 1}} {
		if _, err := Grid(bad.tiles, bad.cols); err == nil {
			t.Errorf("Grid(%v, %d) gave no error", bad.tiles, bad.cols)
		}
	}
}

func TestSavePNG(t *testing.T) {
	dir := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	img.Set(2, 1, color.NRGBA{10, 20, 30, 255})
	path := filepath.Join(dir, "x.png")
	if err := SavePNG(path, img); err != nil {
		t.Fatal(err)
	}
	back := testutil.ReadPNG(t, path)
	if r, g, b, _ := back.At(2, 1).RGBA(); r>>8 != 10 || g>>8 != 20 || b>>8 != 30 {
		t.Errorf("read back %v", back.At(2, 1))
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	if err := SavePNG(filepath.Join(dir, "missing", "x.png"), img); err == nil {
		t.Error("no error for a missing folder")
	}
}
