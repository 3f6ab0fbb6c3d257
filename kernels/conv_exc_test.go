package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveExc is u = Exc±ᵀ·v from the definitions (SPEC §5.2), in float64:
// Exc+_jk = A_jk where z_jk = A_jk·x_k ≠ 0 and sign(z_jk) = s_j, with
// s_j = sign(y_j − bias) (+1 at 0); Exc− where sign(z_jk) = −s_j.
func naiveExc(p ConvParams, perImage int, positive bool, v, y, bias, w, x []float32) (u, scale []float64) {
	p = p.normalized()
	u = make([]float64, p.N*p.C*p.H*p.W)
	scale = make([]float64, len(u))
	for n := range p.N {
		img := n / perImage
		for m := range p.M {
			for oh := range p.OH {
				for ow := range p.OW {
					j := ((n*p.M+m)*p.OH+oh)*p.OW + ow
					yj := y[((img*p.M+m)*p.OH+oh)*p.OW+ow]
					var c float32
					if bias != nil {
						c = bias[m]
					}
					s := 1.0
					if yj-c < 0 {
						s = -1
					}
					if !positive {
						s = -s
					}
					cg := p.C / p.Group
					g := m / (p.M / p.Group)
					for ci := g * cg; ci < (g+1)*cg; ci++ {
						for kh := range p.KH {
							ih := oh*p.StrideH + kh*p.DilH - p.PadT
							for kw := range p.KW {
								iw := ow*p.StrideW + kw*p.DilW - p.PadL
								if ih < 0 || ih >= p.H || iw < 0 || iw >= p.W {
									continue
								}
								a := float64(w[((m*cg+ci-g*cg)*p.KH+kh)*p.KW+kw])
								xk := float64(x[((img*p.C+ci)*p.H+ih)*p.W+iw])
								z := a * xk
								if z == 0 || math.Copysign(1, z) != s {
									continue
								}
								k := ((n*p.C+ci)*p.H+ih)*p.W + iw
								t := float64(v[j]) * a
								u[k] += t
								scale[k] += math.Abs(t)
							}
						}
					}
				}
			}
		}
	}
	return u, scale
}

// excOperands returns the forward outputs y of images images, a bias (nil
// unless withBias, with one output exactly at its offset: sign +) and seed
// vectors v of p.N rows, at random.
func excOperands(r *rand.Rand, p ConvParams, images int, withBias bool) (y, bias, v []float32) {
	q := p.normalized()
	y = randSlice(r, images*p.M*q.OH*q.OW)
	if withBias {
		bias = randSlice(r, p.M)
		y[0] = bias[0]
	}
	return y, bias, randSlice(r, p.N*p.M*q.OH*q.OW)
}

// excScale is the magnitude of every term of Exc+ and Exc− at each input:
// the two-product form ½·(Aᵀv ± |A|ᵀ(s⊙v)) rounds relative to all of them.
func excScale(p ConvParams, perImage int, v, y, bias, w, x []float32) []float64 {
	_, scale := naiveExc(p, perImage, true, v, y, bias, w, x)
	_, scaleNeg := naiveExc(p, perImage, false, v, y, bias, w, x)
	for k := range scale {
		scale[k] += scaleNeg[k]
	}
	return scale
}

// checkTops checks the per-row largest |dx| bit patterns a kernel reported
// against a scan of dx.
func checkTops(t *testing.T, what string, dx []float32, top []uint32) {
	t.Helper()
	per := len(dx) / len(top)
	for r, got := range top {
		if want := MaxAbsBits(dx[r*per : (r+1)*per]); got != want {
			t.Fatalf("%s: row %d: top %#x, want %#x", what, r, got, want)
		}
	}
}

// outsideWindow zeroes u (rows of per elements, perImage rows per image of
// x) wherever x lies outside the window.
func outsideWindow(u []float64, x []float32, per, perImage int, w Window) {
	for k := range u {
		xk := x[k/per/perImage*per+k%per]
		if !(w.Lo < xk) || (w.Upper && !(xk < w.Hi)) {
			u[k] = 0
		}
	}
}

func TestConv2DBackwardExc(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	cases := convCases(r)
	forEachKernels(t, func(t *testing.T) {
		for i, p := range cases {
			perImage := 1 + i%2
			images := p.N
			p.N = images * perImage
			x := randSlice(r, images*p.C*p.H*p.W)
			for k := range x {
				x[k] = max(x[k], 0) // an input after a ReLU: half zeros
			}
			w := randSlice(r, p.M*p.C/p.Group*p.KH*p.KW)
			y, bias, v := excOperands(r, p, images, i%3 != 0)
			if p.M > 1 {
				// A channel with no vector and one of a single sign.
				clear(v[:p.OH*p.OW])
				for k := p.OH * p.OW; k < 2*p.OH*p.OW; k++ {
					v[k] = float32(math.Abs(float64(v[k])))
					y[k%(p.M*p.OH*p.OW)] = 5
				}
			}
			row := p.C / p.Group * p.KH * p.KW
			parts := make([]float32, 2*len(w))
			for k, a := range w {
				m := k / row
				parts[(2*m)*row+k%row], parts[(2*m+1)*row+k%row] = max(a, 0), min(a, 0)
			}
			// The excitation's own window, one of a ReLU with a threshold,
			// one of a Clip and one reaching below zero (x > 0 keeps what
			// it keeps there), read on a copy of x: x itself is not read.
			var gate *Gate
			xIn := x
			if window := []Window{{}, {Lo: 0.3}, {Lo: 0.1, Hi: 0.6, Upper: true}, {Lo: -0.2, Hi: 0.5, Upper: true}}[i%4]; i%4 != 0 {
				gate = &Gate{Window: window, On: append([]float32(nil), x...)}
				xIn = make([]float32, len(x))
				for k := range xIn {
					xIn[k] = float32(math.NaN())
				}
			}
			for _, positive := range []bool{true, false} {
				want, scale := naiveExc(p, perImage, positive, v, y, bias, w, x)
				if gate != nil {
					outsideWindow(want, x, p.C*p.H*p.W, perImage, gate.Window)
				}
				dx := randSlice(r, len(want)) // overwritten
				top := make([]uint32, p.N)
				Conv2DBackwardExc(p, perImage, v, y, bias, parts, !positive, gate, xIn, dx, top)
				checkClose(t, convName(p), dx, want, scale, 1e-5)
				checkTops(t, convName(p), dx, top)
			}
		}
	})
}

func TestConv2DBackwardExcPointwise(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	pointwise := func(n, c, h, w, m int) ConvParams {
		return ConvParams{N: n, C: c, H: h, W: w, M: m, KH: 1, KW: 1, OH: h, OW: w, StrideH: 1, StrideW: 1, DilH: 1, DilW: 1, Group: 1}
	}
	cases := []ConvParams{
		pointwise(1, 3, 5, 7, 4),
		pointwise(2, 13, 9, 11, 70),
		pointwise(1, 7, 20, 20, 300), // several blocks of positions
		pointwise(2, 40, 3, 3, 500),  // one block: split over input channels
		pointwise(1, 25, 1, 1, 9),
		pointwise(1, 30, 1, 1, 1001), // a classifier seeded at one logit
	}
	forEachKernels(t, func(t *testing.T) {
		for i, p := range cases {
			for _, split := range []bool{false, true} {
				pointwiseCase(t, r, p, 1+i%2, i%2 == 0, i%2 == 1, split)
			}
		}
	})
	if (ConvParams{N: 1, C: 1, H: 3, W: 3, M: 1, KH: 1, KW: 1, OH: 2, OW: 2, StrideH: 2, StrideW: 2}).Pointwise() {
		t.Error("a strided 1×1 convolution counts as pointwise")
	}
}

// pointwiseCase checks Conv2DBackwardExcPointwise on one shape against the
// definitions: x of both signs (split false) or none negative (split true).
func pointwiseCase(t *testing.T, r *rand.Rand, p ConvParams, perImage int, withBias, withGate, split bool) {
	t.Helper()
	images := p.N
	p.N = images * perImage
	x := randSlice(r, images*p.C*p.H*p.W)
	if split {
		for k := range x {
			x[k] = max(x[k], 0) // an input after a ReLU: half zeros
		}
	}
	x[1], x[2] = 0, float32(math.Copysign(0, -1)) // no excitation through ±0
	w := randSlice(r, p.M*p.C)
	weights := make([]float32, 2*len(w))
	for k, a := range w {
		m, c := k/p.C, k%p.C
		if split {
			weights[c*2*p.M+2*m], weights[c*2*p.M+2*m+1] = max(a, 0), min(a, 0)
		} else {
			weights[c*p.M+m], weights[len(w)+c*p.M+m] = a, float32(math.Abs(float64(a)))
		}
	}
	y, bias, v := excOperands(r, p, images, withBias)
	plane := p.H * p.W
	switch {
	case p.M > 500:
		// One live channel: the others are skipped.
		clear(v)
		v[7*plane] = 1
	case p.M > 2:
		// Channels with no vector, in the first row.
		clear(v[:plane])
		clear(v[2*plane : 3*plane])
	}
	scale := excScale(p, perImage, v, y, bias, w, x)
	var gate *Gate
	if withGate {
		gate = &Gate{Window: Window{Lo: -0.5, Hi: 0.4, Upper: true}, On: append([]float32(nil), x...)}
	}
	want := map[bool][]float64{}
	for _, positive := range []bool{true, false} {
		want[positive], _ = naiveExc(p, perImage, positive, v, y, bias, w, x)
		if gate != nil {
			outsideWindow(want[positive], x, p.C*p.H*p.W, perImage, gate.Window)
		}
	}
	if gate != nil && split {
		// The masks read gate.On, a copy of x: x itself must not be read.
		for k := range x {
			x[k] = float32(math.NaN())
		}
	}
	for _, positive := range []bool{true, false} {
		dx := randSlice(r, len(want[positive])) // overwritten
		top := make([]uint32, p.N)
		Conv2DBackwardExcPointwise(p, perImage, v, y, bias, weights, split, !positive, gate, x, dx, top)
		name := fmt.Sprintf("%s split %v", convName(p), split)
		checkClose(t, name, dx, want[positive], scale, 1e-5)
		checkTops(t, name, dx, top)
	}
}

func TestConv2DBackwardExcCols(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	cases := []ConvParams{{N: 1, C: 3, H: 40, W: 37, M: 20, KH: 7, KW: 7, OH: 20, OW: 19, StrideH: 2, StrideW: 2, PadT: 3, PadL: 3, PadB: 3, PadR: 3}} // a stem, several blocks
	for _, p := range convCases(r) {
		if p.Group <= 1 {
			cases = append(cases, p)
		}
	}
	forEachKernels(t, func(t *testing.T) {
		for i, p := range cases {
			perImage := 1 + i%2
			images := p.N
			p.N = images * perImage
			x := randSlice(r, images*p.C*p.H*p.W)
			x[0], x[1] = 0, float32(math.Copysign(0, -1)) // no excitation through ±0
			w := randSlice(r, p.M*p.C*p.KH*p.KW)
			absW := make([]float32, len(w))
			for k, a := range w {
				absW[k] = float32(math.Abs(float64(a)))
			}
			y, bias, v := excOperands(r, p, images, i%3 != 0)
			scale := excScale(p, perImage, v, y, bias, w, x)
			for _, positive := range []bool{true, false} {
				want, _ := naiveExc(p, perImage, positive, v, y, bias, w, x)
				dx := randSlice(r, len(want)) // overwritten
				top := make([]uint32, p.N)
				Conv2DBackwardExcCols(p, perImage, v, y, bias, w, absW, !positive, x, dx, top)
				checkClose(t, convName(p), dx, want, scale, 1e-5)
				checkTops(t, convName(p), dx, top)
			}
		}
	})
}
