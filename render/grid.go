package render

import (
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Tile is one picture of a Grid with the title written above it.
type Tile struct {
	Title string
	Img   image.Image
}

// Grid layout, in pixels.
const (
	gridPad    = 4                    // around and between cells
	titleLines = 13                   // basicfont.Face7x13's line height
	titleBand  = titleLines + gridPad // title text and the gap under it
	glyphWidth = 7                    // basicfont.Face7x13's advance
	ellipsis   = "..."                // marks a cut title (the font is ASCII)
)

// Grid lays tiles out row by row, cols per row, on a white background: each
// cell is as large as the largest tile, the tile centred in it under its
// title (black, 7×13 pixel ASCII font; other characters show as a
// replacement glyph; a title wider than the cell is cut and ends in "...").
func Grid(tiles []Tile, cols int) (*image.RGBA, error) {
	if len(tiles) == 0 {
		return nil, errors.New("render: grid of no tiles")
	}
	if cols < 1 {
		return nil, fmt.Errorf("render: grid with %d columns", cols)
	}
	cols = min(cols, len(tiles))
	rows := (len(tiles) + cols - 1) / cols
	cellW, cellH := 0, 0
	for i, t := range tiles {
		if t.Img == nil {
			return nil, fmt.Errorf("render: grid tile %d (%q) has no image", i, t.Title)
		}
		b := t.Img.Bounds()
		cellW, cellH = max(cellW, b.Dx()), max(cellH, b.Dy())
	}
	cellH += titleBand
	w := int64(cols)*int64(cellW+gridPad) + gridPad
	h := int64(rows)*int64(cellH+gridPad) + gridPad
	if w*h > maxPixels {
		return nil, fmt.Errorf("render: grid of %dx%d pixels is over the %d pixel limit", w, h, maxPixels)
	}
	out := image.NewRGBA(image.Rect(0, 0, int(w), int(h)))
	draw.Draw(out, out.Bounds(), image.White, image.Point{}, draw.Src)
	d := font.Drawer{Dst: out, Src: image.NewUniform(color.Black), Face: basicfont.Face7x13}
	for i, t := range tiles {
		x0 := gridPad + (i%cols)*(cellW+gridPad)
		y0 := gridPad + (i/cols)*(cellH+gridPad)
		d.Dot = fixed.P(x0, y0+basicfont.Face7x13.Ascent)
		d.DrawString(fitTitle(t.Title, cellW))
		b := t.Img.Bounds()
		at := image.Pt(x0+(cellW-b.Dx())/2, y0+titleBand)
		draw.Draw(out, image.Rectangle{Min: at, Max: at.Add(b.Size())}, t.Img, b.Min, draw.Over)
	}
	return out, nil
}

// fitTitle cuts a title to the characters that fit in width pixels.
func fitTitle(s string, width int) string {
	r := []rune(s)
	n := width / glyphWidth
	if len(r) <= n {
		return s
	}
	if n <= len(ellipsis) {
		return string(r[:n])
	}
	return string(r[:n-len(ellipsis)]) + ellipsis
}

// Enlarge scales img up by the smallest integer factor that makes its
// shorter side at least minSide pixels, with nearest-neighbour sampling
// (small inputs such as MNIST digits stay crisp); larger images are returned
// as they are.
func Enlarge(img *image.RGBA, minSide int) *image.RGBA {
	b := img.Bounds()
	short := min(b.Dx(), b.Dy())
	if short <= 0 || short >= minSide {
		return img
	}
	f := (minSide + short - 1) / short
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*f, b.Dy()*f))
	for y := range b.Dy() * f {
		for x := range b.Dx() * f {
			out.SetRGBA(x, y, img.RGBAAt(b.Min.X+x/f, b.Min.Y+y/f))
		}
	}
	return out
}
