package kernels

// Conv2DBackwardExc stores in dx the excitation product of a group-1
// convolution whose input x has no negative value (SPEC §5.2):
//
//	Exc+: dx = 1[x > 0] ⊙ Σ_m (A⁺_mᵀ·dy⁺_m + A⁻_mᵀ·dy⁻_m)
//	Exc−: dx = 1[x > 0] ⊙ Σ_m (A⁻_mᵀ·dy⁺_m + A⁺_mᵀ·dy⁻_m)
//
// where dy⁺_m and dy⁻_m are output channel m of dy where y − bias[m] ≥ 0
// and < 0, and parts holds the weight rows A⁺_0, A⁻_0, A⁺_1, A⁻_1, … with
// A⁺ = max(W, 0) and A⁻ = min(W, 0) (2M rows of C·KH·KW elements). Where
// x > 0 this equals ½·(Aᵀv ± |A|ᵀ(s⊙v)), but it is one transposed
// convolution over the channels where dy⁺ or dy⁻ is non-zero instead of two
// over all channels: a channel whose dy has one sign costs one product.
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][OH][OW]). bias
// may be nil (zeros). It panics if p.Group is not 1 or a slice is short.
func Conv2DBackwardExc(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, x, dx []float32) {
	p = p.normalized()
	if p.Group != 1 || perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExc: needs Group 1 and whole images")
	}
	p.check("Conv2DBackwardExc", dx, parts, bias, dy)
	inPer, outPlane, wRow := p.C*p.H*p.W, p.OH*p.OW, p.C*p.KH*p.KW
	outPer := p.M * outPlane
	if len(parts) < 2*p.M*wRow || len(x)*perImage < p.N*inPer || len(y)*perImage < p.N*outPer {
		panic("kernels.Conv2DBackwardExc: parts, x or y is too short")
	}
	planesP := getFloats(2 * outPer)
	defer putFloats(planesP)
	planes := *planesP
	nonZero := make([]bool, 2*p.M)
	src := make([]int, 0, 2*p.M)
	workers := threads(2 * p.M * wRow * outPlane)
	flip := 0 // slot s = 2m + sign pairs with weight row s ^ flip
	if negative {
		flip = 1
	}
	one := p
	one.N = 1
	for r := range p.N {
		img := r / perImage
		dyr, yr := dy[r*outPer:(r+1)*outPer], y[img*outPer:(img+1)*outPer]
		// Slots 2m and 2m+1 receive dy⁺_m and dy⁻_m.
		parallelRange(workers, p.M, 2*outPer, func(m0, m1 int) {
			for m := m0; m < m1; m++ {
				var c float32
				if bias != nil {
					c = bias[m]
				}
				nonZero[2*m], nonZero[2*m+1] = SplitSign(planes[2*m*outPlane:(2*m+1)*outPlane],
					planes[(2*m+1)*outPlane:(2*m+2)*outPlane], dyr[m*outPlane:(m+1)*outPlane], yr[m*outPlane:(m+1)*outPlane], c)
			}
		})
		// Keep the non-zero planes, in order, and note their weight rows.
		src = src[:0]
		for s, nz := range nonZero {
			if nz {
				if k := len(src); k != s {
					copy(planes[k*outPlane:(k+1)*outPlane], planes[s*outPlane:(s+1)*outPlane])
				}
				src = append(src, s^flip)
			}
		}
		dxr := dx[r*inPer : (r+1)*inPer]
		clear(dxr)
		if len(src) == 0 {
			continue
		}
		one.M = len(src)
		convBackwardData(one, planes[:one.M*outPlane], parts, src, dxr)
		xr := x[img*inPer : (img+1)*inPer]
		parallelRange(workers, inPer, inPer, func(lo, hi int) { Band(dxr[lo:hi], dxr[lo:hi], xr[lo:hi], 0, 0, false, false) })
	}
}
