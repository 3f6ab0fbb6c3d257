package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// naiveConv is the float64 reference forward convolution; it also returns
// the per-element sum of absolute terms.
func naiveConv(p ConvParams, x, w, bias []float32) (y, scale []float64) {
	p = p.normalized()
	cg, mg := p.C/p.Group, p.M/p.Group
	y = make([]float64, p.N*p.M*p.OH*p.OW)
	scale = make([]float64, len(y))
	for n := range p.N {
		for m := range p.M {
			g := m / mg
			for oh := range p.OH {
				for ow := range p.OW {
					var s, sa float64
					if bias != nil {
						s, sa = float64(bias[m]), math.Abs(float64(bias[m]))
					}
					for c := range cg {
						for kh := range p.KH {
							ih := oh*p.StrideH + kh*p.DilH - p.PadT
							if ih < 0 || ih >= p.H {
								continue
							}
							for kw := range p.KW {
								iw := ow*p.StrideW + kw*p.DilW - p.PadL
								if iw < 0 || iw >= p.W {
									continue
								}
								t := float64(w[((m*cg+c)*p.KH+kh)*p.KW+kw]) * float64(x[((n*p.C+g*cg+c)*p.H+ih)*p.W+iw])
								s += t
								sa += math.Abs(t)
							}
						}
					}
					i := ((n*p.M+m)*p.OH+oh)*p.OW + ow
					y[i], scale[i] = s, sa
				}
			}
		}
	}
	return y, scale
}

// naiveConvBackwardData is the float64 reference of dx0 + convᵀ(dy, w),
// computed by scattering each output's gradient to its inputs.
func naiveConvBackwardData(p ConvParams, dy, w, dx0 []float32) (dx, scale []float64) {
	p = p.normalized()
	cg, mg := p.C/p.Group, p.M/p.Group
	dx = make([]float64, len(dx0))
	scale = make([]float64, len(dx0))
	for i, v := range dx0 {
		dx[i], scale[i] = float64(v), math.Abs(float64(v))
	}
	for n := range p.N {
		for m := range p.M {
			g := m / mg
			for oh := range p.OH {
				for ow := range p.OW {
					d := float64(dy[((n*p.M+m)*p.OH+oh)*p.OW+ow])
					for c := range cg {
						for kh := range p.KH {
							ih := oh*p.StrideH + kh*p.DilH - p.PadT
							if ih < 0 || ih >= p.H {
								continue
							}
							for kw := range p.KW {
								iw := ow*p.StrideW + kw*p.DilW - p.PadL
								if iw < 0 || iw >= p.W {
									continue
								}
								t := d * float64(w[((m*cg+c)*p.KH+kh)*p.KW+kw])
								i := ((n*p.C+g*cg+c)*p.H+ih)*p.W + iw
								dx[i] += t
								scale[i] += math.Abs(t)
							}
						}
					}
				}
			}
		}
	}
	return dx, scale
}

// outSize is the ONNX output size for floor mode.
func outSize(in, k, stride, dil, padA, padB int) int {
	return (in+padA+padB-((k-1)*dil+1))/stride + 1
}

func convCases(r *rand.Rand) []ConvParams {
	mk := func(n, c, h, w, m, kh, kw, sh, sw, dh, dw, pt, pl, pb, pr, g int) ConvParams {
		return ConvParams{N: n, C: c, H: h, W: w, M: m, KH: kh, KW: kw,
			OH: outSize(h, kh, sh, dh, pt, pb), OW: outSize(w, kw, sw, dw, pl, pr),
			StrideH: sh, StrideW: sw, DilH: dh, DilW: dw, PadT: pt, PadL: pl, PadB: pb, PadR: pr, Group: g}
	}
	cases := []ConvParams{
		mk(1, 3, 8, 8, 4, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),     // 3x3 same
		mk(2, 5, 9, 7, 13, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1),    // 1x1 in place
		mk(1, 4, 10, 10, 6, 1, 1, 2, 2, 1, 1, 0, 0, 0, 0, 1),   // 1x1 stride 2
		mk(1, 3, 23, 21, 16, 7, 7, 2, 2, 1, 1, 3, 3, 3, 3, 1),  // stem-like
		mk(1, 6, 11, 12, 8, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 2),   // grouped, strided
		mk(2, 8, 9, 9, 8, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 8),     // depthwise
		mk(1, 5, 12, 13, 5, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1, 5),   // depthwise s2
		mk(1, 4, 8, 9, 12, 3, 3, 1, 1, 1, 1, 0, 1, 2, 0, 4),    // depthwise multiplier, asym pads
		mk(1, 3, 13, 14, 5, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2, 1),   // dilated
		mk(1, 2, 10, 11, 3, 3, 2, 3, 2, 2, 1, 0, 2, 1, 0, 1),   // mixed strides/dilations
		mk(1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0, 1),     // valid conv, in place
		mk(1, 2, 5, 5, 3, 1, 1, 1, 1, 1, 1, 1, 2, 0, 1, 1),     // 1x1 with pads
		mk(1, 3, 4, 4, 2, 2, 2, 3, 3, 1, 1, 0, 0, 0, 0, 1),     // stride > kernel
		mk(1, 40, 9, 9, 70, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),   // tiles with tails
		mk(1, 33, 7, 7, 29, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1),   // k > blockK
		mk(3, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 4, 1, 0, 3, 1),     // pads larger than kernel
		mk(1, 16, 20, 20, 24, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2, 1), // 5x5
		mk(2, 6, 18, 20, 6, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 6),   // depthwise, wide rows
		mk(1, 4, 33, 37, 4, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1, 4),   // depthwise s2, wide rows
	}
	for range 12 {
		g := 1 + r.IntN(3)
		kh, kw := 1+r.IntN(4), 1+r.IntN(4)
		sh, sw := 1+r.IntN(3), 1+r.IntN(3)
		dh, dw := 1+r.IntN(2), 1+r.IntN(2)
		h, w := kh*dh+r.IntN(12), kw*dw+r.IntN(12)
		p := mk(1+r.IntN(2), g*(1+r.IntN(4)), h, w, g*(1+r.IntN(5)), kh, kw, sh, sw, dh, dw, r.IntN(3), r.IntN(3), r.IntN(3), r.IntN(3), g)
		if p.OH > 0 && p.OW > 0 {
			cases = append(cases, p)
		}
	}
	return cases
}

func convName(p ConvParams) string {
	return fmt.Sprintf("n%dc%d_%dx%d_m%d_k%dx%d_s%d,%d_d%d,%d_p%d,%d,%d,%d_g%d", p.N, p.C, p.H, p.W, p.M, p.KH, p.KW,
		p.StrideH, p.StrideW, p.DilH, p.DilW, p.PadT, p.PadL, p.PadB, p.PadR, p.Group)
}

func TestConv2D(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	cases := convCases(r)
	forEachKernels(t, func(t *testing.T) {
		for i, p := range cases {
			x := randSlice(r, p.N*p.C*p.H*p.W)
			w := randSlice(r, p.M*(p.C/p.Group)*p.KH*p.KW)
			var bias []float32
			if i%2 == 0 {
				bias = randSlice(r, p.M)
			}
			want, scale := naiveConv(p, x, w, bias)
			y := make([]float32, len(want))
			for i := range y {
				y[i] = float32(math.NaN())
			}
			Conv2D(p, x, w, bias, y)
			checkClose(t, convName(p), y, want, scale, 1e-5)
		}
	})
}

func TestConv2DBackwardData(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	cases := convCases(r)
	forEachKernels(t, func(t *testing.T) {
		for _, p := range cases {
			dy := randSlice(r, p.N*p.M*p.OH*p.OW)
			w := randSlice(r, p.M*(p.C/p.Group)*p.KH*p.KW)
			dx := randSlice(r, p.N*p.C*p.H*p.W)
			want, scale := naiveConvBackwardData(p, dy, w, dx)
			Conv2DBackwardData(p, dy, w, dx)
			checkClose(t, convName(p), dx, want, scale, 1e-5)

			// Storing: whatever dx held (NaN here) is overwritten.
			for i := range dx {
				dx[i] = float32(math.NaN())
			}
			want, scale = naiveConvBackwardData(p, dy, w, make([]float32, len(dx)))
			Conv2DBackwardDataSet(p, dy, w, dx)
			checkClose(t, convName(p)+" set", dx, want, scale, 1e-5)
		}
	})
}

// TestConvAdjoint checks <conv(x), dy> == <x, convᵀ(dy)> using the kernels
// under test on both sides, in float64.
func TestConvAdjoint(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, p := range convCases(r) {
		x := randSlice(r, p.N*p.C*p.H*p.W)
		w := randSlice(r, p.M*(p.C/p.Group)*p.KH*p.KW)
		dy := randSlice(r, p.N*p.M*p.OH*p.OW)
		y := make([]float32, len(dy))
		Conv2D(p, x, w, nil, y)
		dx := make([]float32, len(x))
		Conv2DBackwardData(p, dy, w, dx)
		var lhs, rhs, mag float64
		for i := range y {
			lhs += float64(y[i]) * float64(dy[i])
			mag += math.Abs(float64(y[i]) * float64(dy[i]))
		}
		for i := range x {
			rhs += float64(x[i]) * float64(dx[i])
		}
		if math.Abs(lhs-rhs) > 1e-5*(mag+1) {
			t.Errorf("%s: <conv(x),dy> = %g, <x,convT(dy)> = %g", convName(p), lhs, rhs)
		}
	}
}

func TestArgumentChecks(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s: no panic", name)
			}
		}()
		f()
	}
	p := ConvParams{N: 1, C: 4, H: 5, W: 5, M: 6, KH: 3, KW: 3, OH: 3, OW: 3}
	x, w, y := make([]float32, 100), make([]float32, 6*4*9), make([]float32, 54)
	mustPanic("short x", func() { Conv2D(p, x[:99], w, nil, y) })
	mustPanic("short w", func() { Conv2D(p, x, w[:10], nil, y) })
	mustPanic("short y", func() { Conv2DBackwardData(p, y[:53], w, x) })
	mustPanic("short bias", func() { Conv2D(p, x, w, make([]float32, 5), y) })
	q := p
	q.Group = 4
	mustPanic("groups", func() { Conv2D(q, x, w, nil, y) })
	a := make([]float32, 12)
	mustPanic("short A", func() { Sgemm(false, false, 3, 4, 5, 1, a, 5, a, 4, 0, a, 4) })
	mustPanic("small lda", func() { Sgemm(false, false, 2, 2, 3, 1, a, 2, a, 2, 0, a, 2) })
	mustPanic("negative", func() { Sgemm(false, false, -1, 2, 3, 1, a, 3, a, 2, 0, a, 2) })

	// No input channels: y is the bias; the gradient has nothing to reach.
	e := ConvParams{N: 2, C: 0, H: 3, W: 3, M: 2, KH: 1, KW: 1, OH: 3, OW: 3}
	y0 := make([]float32, 36)
	Conv2D(e, nil, nil, []float32{1, 2}, y0)
	if y0[0] != 1 || y0[9] != 2 || y0[35] != 2 {
		t.Errorf("C=0: y = %v", y0)
	}
	Conv2DBackwardData(e, y0, nil, nil)
}

// TestParallelPaths uses shapes large enough to be split across goroutines
// (GEMM tasks, per-channel ranges, groups spread over workers).
func TestParallelPaths(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("needs GOMAXPROCS ≥ 2")
	}
	r := rand.New(rand.NewPCG(21, 22))
	for _, p := range []ConvParams{
		convP(16, 20, 32, 3, 1, 1, 1),  // GEMM split, in-place weights backward
		convP(24, 21, 40, 3, 2, 1, 1),  // strided: phases, gathered weights
		convP(64, 20, 64, 3, 1, 1, 64), // depthwise: groups over workers
		convP(48, 9, 256, 3, 1, 1, 1),  // deep and small: col2im-free stride 1
		convP(128, 8, 64, 3, 2, 1, 1),  // deep and strided: col2im
	} {
		p.N = 2
		x := randSlice(r, p.N*p.C*p.H*p.W)
		w := randSlice(r, p.M*(p.C/p.Group)*p.KH*p.KW)
		bias := randSlice(r, p.M)
		want, scale := naiveConv(p, x, w, bias)
		y := make([]float32, len(want))
		Conv2D(p, x, w, bias, y)
		checkClose(t, "forward "+convName(p), y, want, scale, 1e-5)
		dx := randSlice(r, len(x))
		wantDx, scaleDx := naiveConvBackwardData(p, y, w, dx)
		Conv2DBackwardData(p, y, w, dx)
		checkClose(t, "backward "+convName(p), dx, wantDx, scaleDx, 1e-5)
	}
	pp := PoolParams{N: 2, C: 32, H: 60, W: 60, KH: 3, KW: 3, OH: 30, OW: 30, StrideH: 2, StrideW: 2,
		DilH: 1, DilW: 1, PadT: 1, PadL: 1, PadB: 1, PadR: 1}
	xp := randSlice(r, pp.N*pp.C*pp.H*pp.W)
	yp := make([]float32, pp.N*pp.C*pp.OH*pp.OW)
	am := make([]int32, len(yp))
	MaxPool2D(pp, xp, yp, am)
	win, _ := naivePoolWindows(pp)
	for pl := range pp.N * pp.C {
		for o, idx := range win {
			best, at := float32(math.Inf(-1)), -1
			for _, i := range idx {
				if v := xp[pl*pp.H*pp.W+i]; at < 0 || v > best {
					best, at = v, i
				}
			}
			if k := pl*pp.OH*pp.OW + o; yp[k] != best || am[k] != int32(at) {
				t.Fatalf("max pool plane %d out %d = %g@%d, want %g@%d", pl, o, yp[k], am[k], best, at)
			}
		}
	}

	m, n, k := 150, 200, 300
	a, b, c := randSlice(r, m*k), randSlice(r, k*n), make([]float32, m*n)
	want, scale := naiveSgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, c, n)
	checkClose(t, "sgemm", c, want, scale, 1e-5)
}
