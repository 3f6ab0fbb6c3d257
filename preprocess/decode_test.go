package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/color/palette"
	"image/gif"
	"image/jpeg"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"
)

// rawOptions keep pixels as they are: p in [0,255], no resize.
func rawOptions(h, w, c int) Options {
	return Options{Size: [2]int{h, w}, Resize: Stretch, Scale: 1, Std: ones, Channels: c}
}

func decodeRaw(t *testing.T, data []byte, h, w, c int) []float32 {
	t.Helper()
	img, err := decodeBytes(data, MaxPixels)
	if err != nil {
		t.Fatal(err)
	}
	out, err := FromImage(img, rawOptions(h, w, c))
	if err != nil {
		t.Fatal(err)
	}
	return out.Tensor
}

func encode(t *testing.T, enc func(*bytes.Buffer) error) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := enc(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func near(a float32, b float64, tol float64) bool { return math.Abs(float64(a)-b) <= tol }

func TestDecode16BitGrey(t *testing.T) {
	g := image.NewGray16(image.Rect(0, 0, 2, 1))
	g.SetGray16(0, 0, color.Gray16{Y: 0x8000})
	g.SetGray16(1, 0, color.Gray16{Y: 0xffff})
	data := encode(t, func(b *bytes.Buffer) error { return png.Encode(b, g) })
	// 0x8000/257 = 127.50195 (16-bit precision kept), 0xffff/257 = 255.
	x := decodeRaw(t, data, 1, 2, 1)
	if !near(x[0], 32768.0/257, 1e-4) || !near(x[1], 255, 1e-4) {
		t.Errorf("grey 16: %v", x)
	}
	// Into an RGB model: replicated.
	x = decodeRaw(t, data, 1, 2, 3)
	for c := 0; c < 3; c++ {
		if !near(x[2*c], 32768.0/257, 1e-4) {
			t.Errorf("grey 16 → RGB channel %d: %v", c, x)
		}
	}
}

func TestDecode16BitRGBAOverWhite(t *testing.T) {
	img := image.NewNRGBA64(image.Rect(0, 0, 1, 1))
	// Half-transparent red: R = 1·α + (1 − α) = 1, G = B = 1 − α with
	// α = 0x8000/0xffff = 0.500008: 255·(1 − α) = 127.498.
	img.SetNRGBA64(0, 0, color.NRGBA64{R: 0xffff, A: 0x8000})
	x := decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return png.Encode(b, img) }), 1, 1, 3)
	if !near(x[0], 255, 1e-3) || !near(x[1], 255*(1-32768.0/65535), 1e-2) || x[1] != x[2] {
		t.Errorf("16-bit RGBA over white: %v", x)
	}
}

func TestDecode8BitAlphaOverWhite(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 2, 1))
	// (200, 100, 0) at α = 128: c·128/255 + 127 = 227.4, 177.2, 127 → 227, 177, 127.
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 0, 128})
	// Fully transparent black shows white.
	img.SetNRGBA(1, 0, color.NRGBA{0, 0, 0, 0})
	x := decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return png.Encode(b, img) }), 1, 2, 3)
	want := []float32{227, 255, 177, 255, 127, 255}
	for i := range want {
		if x[i] != want[i] {
			t.Errorf("NRGBA over white: %v, want %v", x, want)
			break
		}
	}
}

// opaqueType hides every method but those of image.Image.
type opaqueType struct{ image.Image }

func TestFromImageOfAnotherType(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	img.SetNRGBA(0, 0, color.NRGBA{200, 100, 0, 128})
	out, err := FromImage(opaqueType{img}, rawOptions(1, 1, 3))
	if err != nil {
		t.Fatal(err)
	}
	// As in TestDecode8BitAlphaOverWhite, but through the float path:
	// c·α + 1 − α with α = 128·257/65535: 227.39, 177.20, 127.
	for c, want := range []float64{227.39, 177.20, 127} {
		if !near(out.Tensor[c], want, 0.01) {
			t.Errorf("channel %d = %g, want %g", c, out.Tensor[c], want)
		}
	}
}

// TestDecodeGreyAlphaPNG reads a grey+alpha PNG written by PIL (mode LA):
// pixel (x, y) has grey 40x + 10y and alpha 85y. Over white:
// g·α/255 + 255 − α, rounded.
func TestDecodeGreyAlphaPNG(t *testing.T) {
	data, err := os.ReadFile("testdata/gray_alpha.png")
	if err != nil {
		t.Fatal(err)
	}
	x := decodeRaw(t, data, 3, 4, 1)
	for y := 0; y < 3; y++ {
		for xx := 0; xx < 4; xx++ {
			g, a := float64(40*xx+10*y), float64(85*y)
			want := math.Round(g*a/255 + 255 - a)
			if got := x[y*4+xx]; math.Abs(float64(got)-want) > 0.5 {
				t.Errorf("(%d,%d) = %g, want %g", xx, y, got, want)
			}
		}
	}
}

func TestDecodePalettedGIFWithTransparency(t *testing.T) {
	pal := color.Palette{color.RGBA{0, 0, 0, 0}, color.RGBA{10, 20, 30, 255}, color.RGBA{255, 255, 255, 255}}
	img := image.NewPaletted(image.Rect(0, 0, 3, 1), pal)
	img.Pix = []uint8{0, 1, 2}
	data := encode(t, func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) })
	x := decodeRaw(t, data, 1, 3, 3)
	want := []float32{255, 10, 255, 255, 20, 255, 255, 30, 255} // transparent → white
	for i := range want {
		if x[i] != want[i] {
			t.Fatalf("GIF: %v, want %v", x, want)
		}
	}
	// Into a grey model: BT.601 luma of (10,20,30): (19595·10 + 38470·20 +
	// 7471·30 + 32768) >> 16 = 18.
	x = decodeRaw(t, data, 1, 3, 1)
	if x[0] != 255 || x[1] != 18 || x[2] != 255 {
		t.Errorf("GIF grey: %v", x)
	}
}

func TestDecodePalettedPNG(t *testing.T) {
	img := image.NewPaletted(image.Rect(0, 0, 2, 1), palette.WebSafe)
	img.Pix = []uint8{0, uint8(len(palette.WebSafe) - 1)}
	x := decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return png.Encode(b, img) }), 1, 2, 3)
	// WebSafe[0] is black, the last entry white.
	if x[0] != 0 || x[1] != 255 || x[4] != 0 || x[5] != 255 {
		t.Errorf("paletted PNG: %v", x)
	}
}

// TestDecodeCMYKJPEG reads an Adobe CMYK JPEG written by PIL: left block
// C=0 M=255 Y=255 K=0 (red), right block K=128 (grey 255·127/255 = 127).
func TestDecodeCMYKJPEG(t *testing.T) {
	data, err := os.ReadFile("testdata/cmyk.jpg")
	if err != nil {
		t.Fatal(err)
	}
	x := decodeRaw(t, data, 8, 16, 3)
	n := 8 * 16
	for _, c := range []struct {
		x    int
		want [3]float64
	}{{3, [3]float64{255, 0, 0}}, {12, [3]float64{127, 127, 127}}} {
		for ch := 0; ch < 3; ch++ {
			if got := x[ch*n+4*16+c.x]; !near(got, c.want[ch], 3) {
				t.Errorf("pixel (%d,4) channel %d = %g, want %g±3", c.x, ch, got, c.want[ch])
			}
		}
	}
}

func TestDecodeJPEGGreyAndColour(t *testing.T) {
	g := image.NewGray(image.Rect(0, 0, 8, 8))
	for i := range g.Pix {
		g.Pix[i] = 77
	}
	x := decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, g, &jpeg.Options{Quality: 100}) }), 8, 8, 1)
	if !near(x[27], 77, 1) {
		t.Errorf("grey JPEG: %g, want 77±1", x[27])
	}
	c := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := 0; i < len(c.Pix); i += 4 {
		copy(c.Pix[i:], []uint8{200, 40, 90, 255})
	}
	x = decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return jpeg.Encode(b, c, &jpeg.Options{Quality: 100}) }), 16, 16, 3)
	for ch, want := range []float64{200, 40, 90} {
		if !near(x[ch*256+100], want, 3) {
			t.Errorf("colour JPEG channel %d: %g, want %g±3", ch, x[ch*256+100], want)
		}
	}
}

// pattern is a 5×4 test image: pixel (x, y) = (16x, 16y, 128).
func pattern() *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, 5, 4))
	for y := 0; y < 4; y++ {
		for x := 0; x < 5; x++ {
			img.SetNRGBA(x, y, color.NRGBA{uint8(16 * x), uint8(16 * y), 128, 255})
		}
	}
	return img
}

func checkPattern(t *testing.T, name string, x []float32) {
	t.Helper()
	for y := 0; y < 4; y++ {
		for xx := 0; xx < 5; xx++ {
			i := y*5 + xx
			if x[i] != float32(16*xx) || x[20+i] != float32(16*y) || x[40+i] != 128 {
				t.Fatalf("%s: pixel (%d,%d) = %g %g %g", name, xx, y, x[i], x[20+i], x[40+i])
			}
		}
	}
}

func TestDecodeBMPTIFFWebP(t *testing.T) {
	checkPattern(t, "BMP", decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return bmp.Encode(b, pattern()) }), 4, 5, 3))
	checkPattern(t, "TIFF", decodeRaw(t, encode(t, func(b *bytes.Buffer) error { return tiff.Encode(b, pattern(), nil) }), 4, 5, 3))
	checkPattern(t, "TIFF deflate", decodeRaw(t, encode(t, func(b *bytes.Buffer) error {
		return tiff.Encode(b, pattern(), &tiff.Options{Compression: tiff.Deflate, Predictor: true})
	}), 4, 5, 3))
	webp, err := os.ReadFile("testdata/lossless.webp") // written by PIL from the same pattern
	if err != nil {
		t.Fatal(err)
	}
	checkPattern(t, "WebP", decodeRaw(t, webp, 4, 5, 3))
}

// pngHeader returns a PNG signature and IHDR chunk for a w×h RGBA image,
// with no pixel data after it.
func pngHeader(w, h uint32) []byte {
	ihdr := make([]byte, 17)
	copy(ihdr, "IHDR")
	binary.BigEndian.PutUint32(ihdr[4:], w)
	binary.BigEndian.PutUint32(ihdr[8:], h)
	ihdr[12], ihdr[13] = 8, 6 // 8 bits, RGBA
	out := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x0d")
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

func TestBadFiles(t *testing.T) {
	good := encode(t, func(b *bytes.Buffer) error { return png.Encode(b, pattern()) })
	goodJPEG := encode(t, func(b *bytes.Buffer) error {
		return jpeg.Encode(b, image.NewGray(image.Rect(0, 0, 256, 256)), nil)
	})
	for name, c := range map[string]struct {
		data []byte
		msg  string
	}{
		"empty":          {nil, "not an image in a supported format"},
		"text":           {[]byte("hello, world"), "not an image in a supported format"},
		"truncated PNG":  {good[:len(good)/2], "malformed png image"},
		"truncated JPEG": {goodJPEG[:len(goodJPEG)/2], "malformed jpeg image"},
		"header only":    {good[:20], "unreadable image header"},
		"bomb":           {pngHeader(20000, 20000), "image too large: png image of 20000x20000"},
		"zero size":      {pngHeader(0, 5), ""},
		"corrupt IDAT":   {append(pngHeader(4, 4), []byte("\x00\x00\x00\x04IDATxxxx\x00\x00\x00\x00")...), "malformed png image"},
	} {
		_, err := decodeBytes(c.data, MaxPixels)
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.msg)
		}
	}
	if _, err := decodeBytes(pngHeader(20000, 20000), MaxPixels); !errors.Is(err, ErrTooLarge) {
		t.Errorf("bomb error %v does not wrap ErrTooLarge", err)
	}

	// Through Load the file is named.
	dir := t.TempDir()
	path := filepath.Join(dir, "broken.png")
	if err := os.WriteFile(path, good[:len(good)-30], 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(path, rawOptions(4, 5, 3))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Load of a truncated file: %v", err)
	}
	if _, err := Load(dir, rawOptions(4, 5, 3)); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("Load of a folder: %v", err)
	}
}
