package kernels

// Conv2DBackwardExc stores in dx the excitation product of a convolution
// whose input x has no negative value (SPEC §5.2):
//
//	Exc+: dx = 1[x > 0] ⊙ Σ_m (A⁺_mᵀ·dy⁺_m + A⁻_mᵀ·dy⁻_m)
//	Exc−: dx = 1[x > 0] ⊙ Σ_m (A⁻_mᵀ·dy⁺_m + A⁺_mᵀ·dy⁻_m)
//
// where dy⁺_m and dy⁻_m are output channel m of dy where y − bias[m] ≥ 0
// and < 0, and parts holds the weight rows A⁺_0, A⁻_0, A⁺_1, A⁻_1, … with
// A⁺ = max(W, 0) and A⁻ = min(W, 0) (2M rows of C·KH·KW elements). Where
// x > 0 this equals ½·(Aᵀv ± |A|ᵀ(s⊙v)), but it is one transposed
// convolution, with twice the output channels, instead of two, and needs
// no separate sign and combination passes. With Group 1 it runs over the
// channels where dy⁺ or dy⁻ is non-zero only: a channel whose dy has one
// sign costs one product.
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][OH][OW]). bias
// may be nil (zeros). It panics if a slice is short.
func Conv2DBackwardExc(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, x, dx []float32) {
	p = p.normalized()
	if perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExc: needs whole images")
	}
	p.check("Conv2DBackwardExc", dx, parts, bias, dy)
	inPer, outPlane, wRow := p.C*p.H*p.W, p.OH*p.OW, p.C/p.Group*p.KH*p.KW
	outPer := p.M * outPlane
	if len(parts) < 2*p.M*wRow || len(x)*perImage < p.N*inPer || len(y)*perImage < p.N*outPer {
		panic("kernels.Conv2DBackwardExc: parts, x or y is too short")
	}
	if p.Group > 1 {
		convExcGrouped(p, perImage, dy, y, bias, parts, negative, x, dx)
		return
	}
	planesP := getFloats(2 * outPer)
	defer putFloats(planesP)
	planes := *planesP
	nonZero := make([]bool, 2*p.M)
	src := make([]int, 0, 2*p.M)
	workers := threads(2 * p.M * wRow * outPlane)
	one := p
	one.N = 1
	for r := range p.N {
		img := r / perImage
		dyr, yr := dy[r*outPer:(r+1)*outPer], y[img*outPer:(img+1)*outPer]
		// Plane slot s pairs with weight row s.
		parallelRange(workers, p.M, 2*outPer, func(m0, m1 int) {
			for m := m0; m < m1; m++ {
				nonZero[2*m], nonZero[2*m+1] = splitChannel(planes[2*m*outPlane:(2*m+2)*outPlane],
					dyr[m*outPlane:(m+1)*outPlane], yr[m*outPlane:(m+1)*outPlane], bias, m, negative)
			}
		})
		dxr := dx[r*inPer : (r+1)*inPer]
		xr := x[img*inPer : (img+1)*inPer]
		// Keep the non-zero planes, in order, and note their weight rows.
		src = src[:0]
		for s, nz := range nonZero {
			if nz {
				if k := len(src); k != s {
					copy(planes[k*outPlane:(k+1)*outPlane], planes[s*outPlane:(s+1)*outPlane])
				}
				src = append(src, s)
			}
		}
		if len(src) == 0 {
			clear(dxr)
			continue
		}
		one.M = len(src)
		convBackwardData(one, planes[:one.M*outPlane], parts, src, true, dxr, &groupHooks{mask: func(int, int) []float32 { return xr }})
	}
}

// convExcGrouped is Conv2DBackwardExc for Group > 1 (depthwise
// convolutions above all): a transposed convolution with 2·M/Group output
// channels per group, every plane with its own weight row, where each
// group's planes dy± and its masked dx are made while in cache.
func convExcGrouped(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, x, dx []float32) {
	mg, cg := p.M/p.Group, p.C/p.Group
	outPlane, inPlane := p.OH*p.OW, p.H*p.W
	two := p
	two.M = 2 * p.M
	convBackwardData(two, nil, parts, nil, true, dx, &groupHooks{
		dy: func(n, g int, s *scratch) []float32 {
			img := n / perImage
			planes := s.get(2, 2*mg*outPlane)
			for j := range mg {
				m := g*mg + j
				splitChannel(planes[2*j*outPlane:(2*j+2)*outPlane],
					dy[(n*p.M+m)*outPlane:][:outPlane], y[(img*p.M+m)*outPlane:][:outPlane], bias, m, negative)
			}
			return planes
		},
		mask: func(n, g int) []float32 {
			return x[(n/perImage*p.C+g*cg)*inPlane:][:cg*inPlane]
		},
	})
}

// splitChannel writes output channel m of dy (dym, with forward output ym),
// split by the sign of y − bias[m], into two planes that pair with the
// weight rows A⁺_m and A⁻_m: dy⁺_m then dy⁻_m for Exc+, swapped for Exc−.
// It reports which of the two planes has a non-zero element.
func splitChannel(two, dym, ym, bias []float32, m int, negative bool) (first, second bool) {
	var c float32
	if bias != nil {
		c = bias[m]
	}
	a, b := two[:len(dym)], two[len(dym):2*len(dym)]
	if negative {
		second, first = SplitSign(b, a, dym, ym, c)
		return first, second
	}
	return SplitSign(a, b, dym, ym, c)
}
