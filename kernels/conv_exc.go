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
// The mask 1[x > 0] is the zero Window; a narrower window (lo < x < hi,
// lo ≥ 0) takes in the product of a Clip or ReLU that makes x.
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][OH][OW]). bias
// may be nil (zeros). It panics if a slice is short or window.Lo < 0.
func Conv2DBackwardExc(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, window Window, x, dx []float32) {
	p = p.normalized()
	if perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExc: needs whole images")
	}
	p.check("Conv2DBackwardExc", dx, parts, bias, dy)
	if window.Lo < 0 {
		panic("kernels.Conv2DBackwardExc: the window must exclude x ≤ 0")
	}
	inPer, outPlane, wRow := p.C*p.H*p.W, p.OH*p.OW, p.C/p.Group*p.KH*p.KW
	outPer := p.M * outPlane
	if len(parts) < 2*p.M*wRow || len(x)*perImage < p.N*inPer || len(y)*perImage < p.N*outPer {
		panic("kernels.Conv2DBackwardExc: parts, x or y is too short")
	}
	if p.Group > 1 {
		convExcGrouped(p, perImage, dy, y, bias, parts, negative, window, x, dx)
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
		convBackwardData(one, planes[:one.M*outPlane], parts, src, true, dxr, &groupHooks{mask: func(int, int) []float32 { return xr }, window: window})
	}
}

// convExcGrouped is Conv2DBackwardExc for Group > 1 (depthwise
// convolutions above all): a transposed convolution with 2·M/Group output
// channels per group, every plane with its own weight row, where each
// group's planes dy± and its masked dx are made while in cache.
func convExcGrouped(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, window Window, x, dx []float32) {
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
		window: window,
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

// Pointwise reports whether p is a 1×1 convolution with unit strides, no
// padding and one group: a plain matrix product per position, which
// Conv2DBackwardExcPointwise handles.
func (p ConvParams) Pointwise() bool {
	p = p.normalized()
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.Group == 1 &&
		p.PadT == 0 && p.PadL == 0 && p.PadB == 0 && p.PadR == 0 && p.OH == p.H && p.OW == p.W
}

// pointwiseBlockFloats bounds the signed vector of one block of positions in
// Conv2DBackwardExcPointwise (with the block of v it is made from, a few
// hundred KiB: both stay in L2 for the two products).
const pointwiseBlockFloats = 1 << 16

// Conv2DBackwardExcPointwise stores in dx the excitation product of a
// pointwise convolution (p.Pointwise) whose input x may have either sign
// (SPEC §5.2):
//
//	dx = ½·1[x ≠ 0]·(Wᵀv ± sign(x)·|W|ᵀ(s⊙v))
//
// with v = dy, s = sign(y − bias) (+1 where y = bias), + for Exc+ and − for
// Exc− (negative), zeroed outside gate when gate is not nil. absW holds |W|.
// It works on blocks of positions, making
// each block's s⊙v, both products and their combination while the block is
// in cache: the two separate products need three more passes over the wide
// vector (the signs, a second read of v, the combination).
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][H][W]). bias
// may be nil (zeros). It panics if p is not pointwise or a slice is short.
func Conv2DBackwardExcPointwise(p ConvParams, perImage int, dy, y, bias, w, absW []float32, negative bool, gate *Window, x, dx []float32) {
	p = p.normalized()
	if !p.Pointwise() || perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExcPointwise: needs a pointwise convolution and whole images")
	}
	p.check("Conv2DBackwardExcPointwise", dx, w, bias, dy)
	plane := p.H * p.W
	if len(absW) < len(w) || len(x)*perImage < p.N*p.C*plane || len(y)*perImage < p.N*p.M*plane {
		panic("kernels.Conv2DBackwardExcPointwise: absW, x or y is too short")
	}
	if p.N == 0 || p.C == 0 || plane == 0 {
		return
	}
	if p.M == 0 {
		clear(dx[:p.N*p.C*plane])
		return
	}
	kern := &activeKernels
	workers := threads(4 * p.M * p.C * plane)
	tasks := tasksPerWk * workers
	// Blocks of positions small enough for L2 and many enough for the
	// workers; with few positions, the input channels are split too.
	cols := min(plane, pointwiseBlockFloats/p.M/kern.cols*kern.cols, ceilDiv(ceilDiv(plane, tasks), kern.cols)*kern.cols)
	cols = max(cols, min(plane, kern.cols))
	colBlocks := ceilDiv(plane, cols)
	rowTiles := ceilDiv(p.C, kern.rows)
	rowsPer := ceilDiv(rowTiles, min(rowTiles, ceilDiv(tasks, colBlocks))) * kern.rows
	rowBlocks := ceilDiv(p.C, rowsPer)
	// A(c, m) = W[m][c]: runs of one element, C apart.
	aW := matA{data: w, ld: 1, run: 1, skip: p.C - 1}
	aAbs := aW
	aAbs.data = absW
	offsP, blockOffsP := getInts(p.M), getInts(p.M)
	defer putInts(offsP)
	defer putInts(blockOffsP)
	offs, blockOffs := *offsP, *blockOffsP
	for m := range p.M {
		offs[m], blockOffs[m] = m*plane, m*cols
	}
	// Tasks that share their positions share one signed vector, made first.
	var shared []float32
	if rowBlocks > 1 {
		sharedP := getFloats(p.M * plane)
		defer putFloats(sharedP)
		shared = *sharedP
	}
	signs := func(dst, dyr, yr []float32, ld, j0, n, m0, m1 int) {
		for m := m0; m < m1; m++ {
			var c float32
			if bias != nil {
				c = bias[m]
			}
			SignFlip(dst[m*ld:][:n], dyr[m*plane+j0:][:n], yr[m*plane+j0:][:n], c)
		}
	}
	for r := range p.N {
		img := r / perImage
		dyr, yr := dy[r*p.M*plane:][:p.M*plane], y[img*p.M*plane:][:p.M*plane]
		xr, dxr := x[img*p.C*plane:][:p.C*plane], dx[r*p.C*plane:][:p.C*plane]
		var mask *inputMask
		if gate != nil {
			mask = &inputMask{x: xr, window: *gate}
		}
		if shared != nil {
			parallelRange(workers, p.M, p.M*plane, func(m0, m1 int) { signs(shared, dyr, yr, plane, 0, plane, m0, m1) })
		}
		parallelFor(workers, colBlocks*rowBlocks, func(t int) {
			j0, i0 := t/rowBlocks*cols, t%rowBlocks*rowsPer
			n, rows := min(plane-j0, cols), min(p.C-i0, rowsPer)
			bufP := getFloats(p.M*cols + rows*n)
			defer putFloats(bufP)
			signed, signedOffs, b := (*bufP)[:p.M*cols], blockOffs, (*bufP)[p.M*cols:]
			if shared != nil {
				signed, signedOffs = shared[j0:], offs
			} else {
				signs(signed, dyr, yr, cols, j0, n, 0, p.M)
			}
			gemmBlock(kern, i0, rows, n, p.M, &aW, dyr[j0:], offs, dxr[i0*plane+j0:], plane, false, nil)
			gemmBlock(kern, i0, rows, n, p.M, &aAbs, signed, signedOffs, b, n, false, nil)
			for i := range rows {
				c := (i0 + i) * plane
				CombineExc(dxr[c+j0:][:n], b[i*n:][:n], xr[c+j0:][:n], negative)
				if mask != nil {
					mask.zero(dxr[c+j0:][:n], c+j0)
				}
			}
		})
	}
}
