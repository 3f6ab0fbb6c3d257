package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func poolCases(r *rand.Rand) []PoolParams {
	mk := func(n, c, h, w, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr int, ceil, inc bool) PoolParams {
		o := func(in, k, s, d, a, b int) int {
			num := in + a + b - ((k-1)*d + 1)
			if ceil {
				return (num+s-1)/s + 1
			}
			return num/s + 1
		}
		return PoolParams{N: n, C: c, H: h, W: w, KH: kh, KW: kw, OH: o(h, kh, sh, dh, pt, pb), OW: o(w, kw, sw, dw, pl, pr),
			StrideH: sh, StrideW: sw, DilH: dh, DilW: dw, PadT: pt, PadL: pl, PadB: pb, PadR: pr, CountIncludePad: inc}
	}
	cases := []PoolParams{
		mk(1, 2, 12, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, false, false), // ResNet stem
		mk(2, 3, 5, 7, 2, 2, 2, 2, 1, 1, 0, 0, 0, 0, true, false),    // ceil mode
		mk(1, 1, 5, 5, 3, 3, 2, 2, 1, 1, 0, 0, 0, 0, true, true),     // ceil + include pad
		mk(1, 2, 7, 6, 3, 2, 1, 2, 2, 1, 2, 0, 1, 1, false, true),    // dilation, asym pads
		mk(1, 1, 4, 4, 3, 3, 1, 1, 1, 1, 2, 2, 2, 2, false, true),    // large pads
		mk(1, 1, 3, 3, 2, 2, 3, 3, 1, 1, 0, 0, 2, 2, true, false),    // window fully in padding
	}
	for range 10 {
		kh, kw := 1+r.IntN(3), 1+r.IntN(3)
		cases = append(cases, mk(1+r.IntN(2), 1+r.IntN(3), 3+r.IntN(8), 3+r.IntN(8), kh, kw, 1+r.IntN(3), 1+r.IntN(3),
			1+r.IntN(2), 1+r.IntN(2), r.IntN(kh), r.IntN(kw), r.IntN(kh), r.IntN(kw), r.IntN(2) == 0, r.IntN(2) == 0))
	}
	return cases
}

// naivePool returns, per output, the input indices (within the plane) of
// its window, the ONNX Runtime divisor for average pooling, in row-major
// window order.
func naivePoolWindows(p PoolParams) (win [][]int, div []float64) {
	p = p.normalized()
	for oh := range p.OH {
		for ow := range p.OW {
			var idx []int
			hs, ws := oh*p.StrideH-p.PadT, ow*p.StrideW-p.PadL
			for kh := range p.KH {
				for kw := range p.KW {
					h, w := hs+kh*p.DilH, ws+kw*p.DilW
					if h >= 0 && h < p.H && w >= 0 && w < p.W {
						idx = append(idx, h*p.W+w)
					}
				}
			}
			d := float64(len(idx))
			if p.CountIncludePad {
				nh, nw := 0, 0
				for kh := range p.KH {
					if hs+kh*p.DilH < p.H+p.PadB {
						nh++
					}
				}
				for kw := range p.KW {
					if ws+kw*p.DilW < p.W+p.PadR {
						nw++
					}
				}
				d = float64(nh * nw)
			}
			win = append(win, idx)
			div = append(div, d)
		}
	}
	return win, div
}

func TestMaxPool2D(t *testing.T) {
	forEachKernels(t, testMaxPool2D)
}

func testMaxPool2D(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, p := range poolCases(r) {
		x := randSlice(r, p.N*p.C*p.H*p.W)
		for i := range x {
			x[i] = float32(math.Round(float64(x[i]) * 3)) // many ties
		}
		y := make([]float32, p.N*p.C*p.OH*p.OW)
		am := make([]int32, len(y))
		MaxPool2D(p, x, y, am)
		y2 := make([]float32, len(y))
		MaxPool2D(p, x, y2, nil)
		win, _ := naivePoolWindows(p)
		inPlane, outPlane := p.H*p.W, p.OH*p.OW
		for pl := range p.N * p.C {
			for o, idx := range win {
				want, at := float32(-math.MaxFloat32), -1
				for _, i := range idx {
					if v := x[pl*inPlane+i]; at < 0 || v > want {
						want, at = v, i
					}
				}
				k := pl*outPlane + o
				if y[k] != want || y2[k] != want || am[k] != int32(at) {
					t.Fatalf("%+v: plane %d out %d = %g (argmax %d), want %g (%d)", p, pl, o, y[k], am[k], want, at)
				}
			}
		}
		// Backward with two seeds per image.
		const seeds = 2
		dy := randSlice(r, seeds*len(y))
		dx := randSlice(r, seeds*len(x))
		dx0 := append([]float32(nil), dx...)
		want := make([]float64, len(dx))
		for i, v := range dx {
			want[i] = float64(v)
		}
		for b := range p.N * seeds {
			for c := range p.C {
				fwd := (b/seeds)*p.C + c
				for o := range outPlane {
					if a := am[fwd*outPlane+o]; a >= 0 {
						want[(b*p.C+c)*inPlane+int(a)] += float64(dy[(b*p.C+c)*outPlane+o])
					}
				}
			}
		}
		MaxPool2DBackward(p, dy, am, dx, seeds, false)
		checkClose(t, "maxpool backward", dx, want, absAll(want), 1e-6)
		for i := range dx {
			want[i] -= float64(dx0[i])
			dx[i] = float32(math.NaN())
		}
		MaxPool2DBackward(p, dy, am, dx, seeds, true)
		checkClose(t, "maxpool backward (set)", dx, want, absAll(want), 1e-6)
	}
}

func absAll(v []float64) []float64 {
	s := make([]float64, len(v))
	for i, x := range v {
		s[i] = math.Abs(x) + 1
	}
	return s
}

func TestAvgPool2D(t *testing.T) {
	forEachKernels(t, testAvgPool2D)
}

func testAvgPool2D(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, p := range poolCases(r) {
		x := randSlice(r, p.N*p.C*p.H*p.W)
		y := make([]float32, p.N*p.C*p.OH*p.OW)
		AvgPool2D(p, x, y)
		win, div := naivePoolWindows(p)
		inPlane, outPlane := p.H*p.W, p.OH*p.OW
		want := make([]float64, len(y))
		dy := randSlice(r, len(y))
		dx := randSlice(r, len(x))
		wantDx := make([]float64, len(dx))
		for i, v := range dx {
			wantDx[i] = float64(v)
		}
		for pl := range p.N * p.C {
			for o, idx := range win {
				var s float64
				for _, i := range idx {
					s += float64(x[pl*inPlane+i])
					if len(idx) > 0 {
						wantDx[pl*inPlane+i] += float64(dy[pl*outPlane+o]) / div[o]
					}
				}
				if len(idx) > 0 {
					s /= div[o]
				}
				want[pl*outPlane+o] = s
			}
		}
		checkClose(t, "avgpool", y, want, absAll(want), 1e-6)
		AvgPool2DBackward(p, dy, dx)
		checkClose(t, "avgpool backward", dx, wantDx, absAll(wantDx), 1e-6)
	}
}

func TestGlobalPool(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	const n, c, hw, seeds = 2, 3, 10, 3
	x := randSlice(r, n*c*hw)
	x[7] = x[3] // a tie that must resolve to the first
	y := make([]float32, n*c)
	GlobalAvgPool(n, c, hw, x, y)
	for i := range y {
		var s float64
		for _, v := range x[i*hw : (i+1)*hw] {
			s += float64(v)
		}
		if math.Abs(float64(y[i])-s/hw) > 1e-6 {
			t.Fatalf("GlobalAvgPool[%d] = %g, want %g", i, y[i], s/hw)
		}
	}
	dx := make([]float32, len(x))
	GlobalAvgPoolBackward(n, c, hw, y, dx)
	for i := range dx {
		if math.Abs(float64(dx[i])-float64(y[i/hw])/hw) > 1e-7 {
			t.Fatalf("GlobalAvgPoolBackward[%d] = %g", i, dx[i])
		}
	}
	am := make([]int32, n*c)
	GlobalMaxPool(n, c, hw, x, y, am)
	for i := range y {
		best, at := x[i*hw], 0
		for j, v := range x[i*hw : (i+1)*hw] {
			if v > best {
				best, at = v, j
			}
		}
		if y[i] != best || am[i] != int32(at) {
			t.Fatalf("GlobalMaxPool[%d] = %g@%d, want %g@%d", i, y[i], am[i], best, at)
		}
	}
	dy := randSlice(r, n*seeds*c)
	dxs := make([]float32, n*seeds*c*hw)
	GlobalMaxPoolBackward(n, c, hw, dy, am, dxs, seeds)
	for b := range n * seeds {
		for ch := range c {
			i := b*c + ch
			if got := dxs[i*hw+int(am[(b/seeds)*c+ch])]; got != dy[i] {
				t.Fatalf("GlobalMaxPoolBackward row %d = %g, want %g", i, got, dy[i])
			}
		}
	}
}
