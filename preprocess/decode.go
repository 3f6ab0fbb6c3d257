package preprocess

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"os"

	// Decoders registered with package image.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// MaxPixels bounds width×height of an image file, checked from its header
// before any pixel is decoded (decompression bombs).
const MaxPixels = 100_000_000

// MaxFileBytes bounds the size of an image file.
const MaxFileBytes = 1 << 30

// ErrTooLarge is wrapped by the errors for files and images over the limits.
var ErrTooLarge = errors.New("image too large")

// readImageFile reads and decodes an image file under the package limits.
func readImageFile(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	if st.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w: %d bytes (limit %d)", path, ErrTooLarge, st.Size(), int64(MaxFileBytes))
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	img, err := decodeBytes(data, MaxPixels)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// decodeBytes decodes a PNG, JPEG, GIF (first frame), BMP, TIFF or WebP
// image after checking from its header that it has at most maxPixels pixels.
// A decoder that panics on a malformed file yields an error.
func decodeBytes(data []byte, maxPixels int64) (img image.Image, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) {
			return nil, errors.New("not an image in a supported format (PNG, JPEG, GIF, BMP, TIFF, WebP)")
		}
		return nil, fmt.Errorf("unreadable image header: %w", err)
	}
	if err := checkDims(format, cfg.Width, cfg.Height, maxPixels); err != nil {
		return nil, err
	}
	defer func() {
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("malformed %s image (decoder failed: %v)", format, r)
		}
	}()
	img, _, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("malformed %s image: %w", format, err)
	}
	b := img.Bounds()
	if err := checkDims(format, b.Dx(), b.Dy(), maxPixels); err != nil {
		return nil, err
	}
	return img, nil
}

func checkDims(format string, w, h int, maxPixels int64) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("%s image has size %dx%d", format, w, h)
	}
	if int64(w)*int64(h) > maxPixels {
		return fmt.Errorf("%w: %s image of %dx%d = %d pixels (limit %d)", ErrTooLarge, format, w, h, int64(w)*int64(h), maxPixels)
	}
	return nil
}

// raster is a planar (C×H×W) image with values in [0,255]: u8 for sources
// with 8 bits per sample, f32 otherwise (exactly one is set).
type raster struct {
	c, h, w int
	u8      []uint8
	f32     []float32
}

// toRaster converts an image to a planar raster with the given number of
// channels (1 or 3). Alpha is composited over white. Grey sources (Gray,
// Gray16) are read as one channel; RGB→grey uses ITU-R BT.601 luma
// (0.299 R + 0.587 G + 0.114 B; for 8-bit data in PIL's 16-bit fixed point,
// (19595 R + 38470 G + 7471 B + 2^15) >> 16), grey→RGB replicates.
func toRaster(img image.Image, channels int) raster {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	deep := true
	srcC := 3
	switch img.(type) {
	case *image.Gray:
		deep, srcC = false, 1
	case *image.Gray16:
		srcC = 1
	case *image.RGBA, *image.NRGBA, *image.YCbCr, *image.NYCbCrA, *image.Paletted, *image.CMYK:
		deep = false
	}
	r := raster{c: srcC, h: h, w: w}
	n := w * h
	src, ok := img.(image.RGBA64Image)
	if !ok {
		src = rgba64Adapter{img}
	}
	if deep {
		r.f32 = make([]float32, srcC*n)
	} else {
		r.u8 = make([]uint8, srcC*n)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := src.RGBA64At(b.Min.X+x, b.Min.Y+y)
			// Premultiplied colour over white: c + (1 − α).
			bg := 0xffff - uint32(p.A)
			v := [3]uint32{uint32(p.R) + bg, uint32(p.G) + bg, uint32(p.B) + bg}
			i := y*w + x
			for c := 0; c < srcC; c++ {
				if deep {
					r.f32[c*n+i] = float32(v[c]) / 257
				} else {
					r.u8[c*n+i] = uint8((v[c] + 128) / 257)
				}
			}
		}
	}
	return r.withChannels(channels)
}

// rgba64Adapter gives an image without RGBA64At (none of the standard
// library's) that method.
type rgba64Adapter struct{ image.Image }

func (a rgba64Adapter) RGBA64At(x, y int) color.RGBA64 {
	r, g, b, al := a.At(x, y).RGBA()
	return color.RGBA64{uint16(r), uint16(g), uint16(b), uint16(al)}
}

func (r raster) withChannels(c int) raster {
	if r.c == c {
		return r
	}
	n := r.h * r.w
	out := raster{c: c, h: r.h, w: r.w}
	switch {
	case r.c == 1 && c == 3:
		if r.u8 != nil {
			out.u8 = bytes.Repeat(r.u8, 3)
		} else {
			out.f32 = make([]float32, 3*n)
			for k := 0; k < 3; k++ {
				copy(out.f32[k*n:], r.f32)
			}
		}
	case r.c == 3 && c == 1:
		if r.u8 != nil {
			out.u8 = make([]uint8, n)
			for i := range out.u8 {
				l := 19595*uint32(r.u8[i]) + 38470*uint32(r.u8[n+i]) + 7471*uint32(r.u8[2*n+i]) + 1<<15
				out.u8[i] = uint8(l >> 16)
			}
		} else {
			out.f32 = make([]float32, n)
			for i := range out.f32 {
				out.f32[i] = float32(0.299*float64(r.f32[i]) + 0.587*float64(r.f32[n+i]) + 0.114*float64(r.f32[2*n+i]))
			}
		}
	}
	return out
}
