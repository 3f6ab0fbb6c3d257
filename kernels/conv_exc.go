package kernels

import "sync/atomic"

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
// A gate, when not nil, narrows the mask 1[x > 0] to its window (the
// product of a Clip or ReLU that makes x), read on gate.On instead of x:
// x is then not read.
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][OH][OW]). bias
// may be nil (zeros). top, when not nil, receives for every row of dx the
// largest bit pattern of |dx| (MaxAbsBits), found while dx is in cache. It
// panics if a slice is short.
func Conv2DBackwardExc(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, gate *Gate, x, dx []float32, top []uint32) {
	p = p.normalized()
	if perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExc: needs whole images")
	}
	p.check("Conv2DBackwardExc", dx, parts, bias, dy)
	x, window := nonNegativeMask(gate, x)
	inPer, outPlane, wRow := p.C*p.H*p.W, p.OH*p.OW, p.C/p.Group*p.KH*p.KW
	outPer := p.M * outPlane
	if len(parts) < 2*p.M*wRow || len(x)*perImage < p.N*inPer || len(y)*perImage < p.N*outPer {
		panic("kernels.Conv2DBackwardExc: parts, x or y is too short")
	}
	var tops []atomic.Uint32
	if top != nil {
		tops = make([]atomic.Uint32, p.N)
		defer func() {
			for r := range tops {
				top[r] = tops[r].Load()
			}
		}()
	}
	if p.Group > 1 {
		convExcGrouped(p, perImage, dy, y, bias, parts, negative, window, x, dx, tops)
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
				nonZero[2*m], nonZero[2*m+1] = splitChannel(planes[2*m*outPlane:(2*m+1)*outPlane], planes[(2*m+1)*outPlane:(2*m+2)*outPlane],
					dyr[m*outPlane:(m+1)*outPlane], yr[m*outPlane:(m+1)*outPlane], bias, m, negative)
			}
		})
		dxr := dx[r*inPer : (r+1)*inPer]
		xr := x[img*inPer : (img+1)*inPer]
		// The non-zero planes, each with its weight row.
		src = src[:0]
		for s, nz := range nonZero {
			if nz {
				src = append(src, s)
			}
		}
		if len(src) == 0 {
			clear(dxr)
			continue
		}
		one.M = len(src)
		hooks := &groupHooks{mask: func(int, int) []float32 { return xr }, window: window}
		if tops != nil {
			hooks.tops = tops[r : r+1]
		}
		convBackwardData(one, planes, parts, src, true, dxr, hooks)
	}
}

// convExcGrouped is Conv2DBackwardExc for Group > 1 (depthwise
// convolutions above all): a transposed convolution with 2·M/Group output
// channels per group, every plane with its own weight row, where each
// group's planes dy± and its masked dx are made while in cache.
func convExcGrouped(p ConvParams, perImage int, dy, y, bias, parts []float32, negative bool, window Window, x, dx []float32, tops []atomic.Uint32) {
	mg, cg := p.M/p.Group, p.C/p.Group
	outPlane, inPlane := p.OH*p.OW, p.H*p.W
	two := p
	two.M = 2 * p.M
	convBackwardData(two, nil, parts, nil, true, dx, &groupHooks{
		dy: func(n, g int, s *scratch) (planes []float32, m0, m1 int) {
			img := n / perImage
			planes = s.get(2, 2*mg*outPlane)
			m0, m1 = 2*mg, 0
			live := func(k int, ok bool) {
				if ok {
					m0, m1 = min(m0, k), max(m1, k+1)
				}
			}
			for j := range mg {
				m := g*mg + j
				first, second := splitChannel(planes[2*j*outPlane:(2*j+1)*outPlane], planes[(2*j+1)*outPlane:(2*j+2)*outPlane],
					dy[(n*p.M+m)*outPlane:][:outPlane], y[(img*p.M+m)*outPlane:][:outPlane], bias, m, negative)
				live(2*j, first)
				live(2*j+1, second)
			}
			return planes, m0, m1
		},
		mask: func(n, g int) []float32 {
			return x[(n/perImage*p.C+g*cg)*inPlane:][:cg*inPlane]
		},
		window: window,
		tops:   tops,
	})
}

// nonNegativeMask returns what the mask of a product over an input x with
// no negative value reads, and its window: x and x > 0, or, with a gate,
// gate.On and the gate's window, which keeps what x > 0 keeps below zero.
func nonNegativeMask(gate *Gate, x []float32) ([]float32, Window) {
	if gate == nil {
		return x, Window{}
	}
	return gate.On, Window{Lo: max(gate.Lo, 0), Hi: gate.Hi, Upper: gate.Upper}
}

// channelBias returns bias[m], or 0 when bias is nil.
func channelBias(bias []float32, m int) float32 {
	if bias == nil {
		return 0
	}
	return bias[m]
}

// splitChannel writes output channel m of dy (dym, with forward output ym),
// split by the sign of y − bias[m], into two planes that pair with the
// weight rows A⁺_m and A⁻_m: dy⁺_m then dy⁻_m for Exc+, swapped for Exc−.
// It reports which of the two planes has a non-zero element.
func splitChannel(first, second, dym, ym, bias []float32, m int, negative bool) (firstLive, secondLive bool) {
	c := channelBias(bias, m)
	if negative {
		secondLive, firstLive = SplitSign(second, first, dym, ym, c)
		return firstLive, secondLive
	}
	return SplitSign(first, second, dym, ym, c)
}

// Pointwise reports whether p is a 1×1 convolution with unit strides, no
// padding and one group: a plain matrix product per position, which
// Conv2DBackwardExcPointwise handles.
func (p ConvParams) Pointwise() bool {
	p = p.normalized()
	return p.KH == 1 && p.KW == 1 && p.StrideH == 1 && p.StrideW == 1 && p.Group == 1 &&
		p.PadT == 0 && p.PadL == 0 && p.PadB == 0 && p.PadR == 0 && p.OH == p.H && p.OW == p.W
}

// pointwiseBlockFloats bounds the vector of one block of positions that
// Conv2DBackwardExcPointwise makes (with the block of v it is made from, a
// few hundred KiB: both stay in L2 for the products).
const pointwiseBlockFloats = 1 << 16

// Conv2DBackwardExcPointwise stores in dx the excitation product of a
// pointwise convolution (p.Pointwise), block by block of positions: each
// block's vector, products and finish are made while the block is in cache,
// sparing the passes over the wide vector that whole-tensor steps make, and
// each block skips the channels where its vector is zero (a seeded
// classifier has one left).
//
// With split false, x may have either sign, and
//
//	dx = ½·1[x ≠ 0]·(Wᵀv ± sign(x)·|W|ᵀ(s⊙v))
//
// with v = dy, s = sign(y − bias) (+1 where y = bias), + for Exc+ and − for
// Exc− (negative); weights holds Wᵀ then |W|ᵀ, each C rows of M.
//
// With split true, x has no negative value, and (as in Conv2DBackwardExc)
//
//	Exc+: dx = 1[x > 0] ⊙ Σ_m (A⁺_mᵀ·v⁺_m + A⁻_mᵀ·v⁻_m)
//	Exc−: dx = 1[x > 0] ⊙ Σ_m (A⁻_mᵀ·v⁺_m + A⁺_mᵀ·v⁻_m)
//
// with v± the parts of v where y − bias ≥ 0 and < 0; weights holds C rows
// of 2M: max(W_m, 0), min(W_m, 0) for m = 0, 1, ….
//
// Either way, when gate is not nil, dx is also zeroed wherever gate.On lies
// outside gate.Window; with split true, x is then not read. The weights
// are transposed so that the products read their rows contiguously.
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][H][W]). bias
// may be nil (zeros). top, when not nil, receives for every row of dx the
// largest bit pattern of |dx| (MaxAbsBits). It panics if p is not pointwise
// or a slice is short.
func Conv2DBackwardExcPointwise(p ConvParams, perImage int, dy, y, bias, weights []float32, split, negative bool, gate *Gate, x, dx []float32, top []uint32) {
	p = p.normalized()
	if !p.Pointwise() || perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExcPointwise: needs a pointwise convolution and whole images")
	}
	p.check("Conv2DBackwardExcPointwise", dx, weights, bias, dy)
	plane := p.H * p.W
	if len(weights) < 2*p.M*p.C || len(x)*perImage < p.N*p.C*plane || len(y)*perImage < p.N*p.M*plane {
		panic("kernels.Conv2DBackwardExcPointwise: weights, x or y is too short")
	}
	if top != nil {
		clear(top[:p.N])
	}
	if p.N == 0 || p.C == 0 || plane == 0 {
		return
	}
	// The block's vector: s⊙v (M rows), or v⁺ and v⁻ in the order of the
	// weight rows they meet (2M rows).
	vecRows := p.M
	if split {
		vecRows = 2 * p.M
	}
	kern := &activeKernels
	workers := threads(4 * p.M * p.C * plane)
	tasks := tasksPerWk * workers
	// Blocks of positions small enough for L2 and many enough for the
	// workers; with few positions, the input channels are split too.
	cols := min(plane, pointwiseBlockFloats/max(1, vecRows)/kern.cols*kern.cols, ceilDiv(ceilDiv(plane, tasks), kern.cols)*kern.cols)
	cols = max(cols, min(plane, kern.cols))
	colBlocks := ceilDiv(plane, cols)
	rowTiles := ceilDiv(p.C, kern.rows)
	rowsPer := ceilDiv(rowTiles, min(rowTiles, ceilDiv(tasks, colBlocks))) * kern.rows
	rowBlocks := ceilDiv(p.C, rowsPer)
	// fill writes the vector of channels [m0, m1), positions [j0, j0+n), in
	// rows of ld floats of dst, and notes which rows are not zero.
	fill := func(dst []float32, live []bool, dyr, yr []float32, ld, j0, n, m0, m1 int) {
		for m := m0; m < m1; m++ {
			v, ym := dyr[m*plane+j0:][:n], yr[m*plane+j0:][:n]
			if split {
				live[2*m], live[2*m+1] = splitChannel(dst[2*m*ld:][:n], dst[(2*m+1)*ld:][:n], v, ym, bias, m, negative)
				continue
			}
			row := dst[m*ld:][:n]
			SignFlip(row, v, ym, channelBias(bias, m))
			live[m] = MaxAbsBits(row) != 0
		}
	}
	// Tasks that share their positions share one vector, made first.
	var shared []float32
	var sharedLive []bool
	if rowBlocks > 1 {
		sharedP := getFloats(vecRows * plane)
		defer putFloats(sharedP)
		shared, sharedLive = *sharedP, make([]bool, vecRows)
	}
	for r := range p.N {
		img := r / perImage
		dyr, yr := dy[r*p.M*plane:][:p.M*plane], y[img*p.M*plane:][:p.M*plane]
		xr, dxr := x[img*p.C*plane:][:p.C*plane], dx[r*p.C*plane:][:p.C*plane]
		var rowTop atomic.Uint32
		var mask *inputMask
		switch {
		case split:
			on, window := nonNegativeMask(gate, x)
			mask = &inputMask{x: on[img*p.C*plane:][:p.C*plane], window: window}
		case gate != nil:
			mask = &inputMask{x: gate.On[img*p.C*plane:][:p.C*plane], window: gate.Window}
		}
		if mask != nil && top != nil {
			mask.top = &rowTop
		}
		var sharedRows *liveRows
		if shared != nil {
			parallelRange(workers, p.M, vecRows*plane, func(m0, m1 int) { fill(shared, sharedLive, dyr, yr, plane, 0, plane, m0, m1) })
			sharedRows = newLiveRows(sharedLive, plane, plane)
		}
		parallelFor(workers, colBlocks*rowBlocks, func(t int) {
			j0, i0 := t/rowBlocks*cols, t%rowBlocks*rowsPer
			n, rows := min(plane-j0, cols), min(p.C-i0, rowsPer)
			bufP := getFloats(vecRows*cols + rows*n)
			defer putFloats(bufP)
			vec, lr, b := (*bufP)[:vecRows*cols], sharedRows, (*bufP)[vecRows*cols:]
			if shared != nil {
				vec = shared[j0:]
			} else {
				live := make([]bool, vecRows)
				fill(vec, live, dyr, yr, cols, j0, n, 0, p.M)
				// v's rows are plane apart, those of the block's vector cols.
				lr = newLiveRows(live, plane, cols)
				defer lr.release()
			}
			dxb := dxr[i0*plane+j0:]
			if split {
				lr.product(kern, i0, rows, n, weights, vecRows, vec, lr.offsVec, dxb, plane)
			} else {
				lr.product(kern, i0, rows, n, weights[:p.M*p.C], p.M, dyr[j0:], lr.offsV, dxb, plane)
				lr.product(kern, i0, rows, n, weights[p.M*p.C:], p.M, vec, lr.offsVec, b, n)
			}
			for i := range rows {
				c := (i0 + i) * plane
				if !split {
					m := CombineExc(dxr[c+j0:][:n], b[i*n:][:n], xr[c+j0:][:n], negative)
					if mask == nil {
						raise(&rowTop, m)
					}
				}
				if mask != nil {
					mask.zero(dxr[c+j0:][:n], c+j0)
				}
			}
		})
		if sharedRows != nil {
			sharedRows.release()
		}
		if top != nil {
			top[r] = rowTop.Load()
		}
	}
}

// liveRows lists the rows of a block's vector that are not zero (a seeded
// classifier has one), as the runs and jumps of a matA reading the matching
// weights, with their offsets in v (offsV) and in the block's own vector
// (offsVec).
type liveRows struct {
	rows, jumps, offsV, offsVec []int
	all                         bool // every row is live
	buf                         *[]int
}

func newLiveRows(live []bool, ldV, ldVec int) *liveRows {
	k := len(live)
	lr := &liveRows{buf: getInts(4 * k)}
	b := *lr.buf
	lr.rows, lr.jumps, lr.offsV, lr.offsVec = b[:0], b[k:k], b[2*k:2*k], b[3*k:3*k]
	for r, ok := range live {
		if ok {
			if n := len(lr.rows); n > 0 {
				lr.jumps = append(lr.jumps, r-lr.rows[n-1]-1)
			}
			lr.rows, lr.offsV, lr.offsVec = append(lr.rows, r), append(lr.offsV, r*ldV), append(lr.offsVec, r*ldVec)
		}
	}
	lr.jumps = append(lr.jumps, 0)
	lr.all = len(lr.rows) == k
	return lr
}

func (lr *liveRows) release() { putInts(lr.buf) }

// product stores in c (row stride ldc) rows [i0, i0+rows) of Aᵀ·v over n
// positions, where A's transpose aT has rows of k weights and the live rows
// of v lie at offs, skipping the others.
func (lr *liveRows) product(kern *tileKernels, i0, rows, n int, aT []float32, k int, v []float32, offs []int, c []float32, ldc int) {
	if len(lr.rows) == 0 {
		for i := range rows {
			clear(c[i*ldc:][:n])
		}
		return
	}
	a := matA{data: aT, ld: k}
	if !lr.all {
		// A(i, p) = aT[i][rows[p]]: runs of one weight, jumping over the
		// rows of v left out.
		a = matA{data: aT, ld: k, run: 1, starts: lr.rows, jumps: lr.jumps}
	}
	gemmBlock(kern, i0, rows, n, len(lr.rows), &a, v, offs, c, ldc, false, nil)
}

// colsBlockFloats bounds the columns of one block of output rows in
// Conv2DBackwardExcCols: the block's signed vector and both products'
// columns stay in L2.
const colsBlockFloats = 1 << 16

// Conv2DBackwardExcCols stores in dx the excitation product of a
// convolution with one group whose input x may have either sign (a first
// layer, on an image):
//
//	dx = ½·1[x ≠ 0]·(Aᵀv ± sign(x)·|A|ᵀ(s⊙v))
//
// with v = dy, s = sign(y − bias) (+1 where y = bias), + for Exc+ and − for
// Exc− (negative); absW holds |W|. It works by blocks of output rows: each
// block's s⊙v, the columns of both products (Wᵀ·v, rows (c, kh, kw), as in
// col2im) and their scatter onto the input positions are made in cache,
// into planes of each worker's own that are summed at the end. The two
// whole products would each write and read back a column matrix KH·KW/
// (StrideH·StrideW) times the size of dx, and the signs a pass of their own.
//
// dy and dx have p.N rows; rows r·perImage … (r+1)·perImage − 1 belong to
// image r of x ([N/perImage][C][H][W]) and y ([N/perImage][M][OH][OW]). bias
// may be nil (zeros). top, when not nil, receives for every row of dx the
// largest bit pattern of |dx| (MaxAbsBits). It panics if p.Group is not 1
// or a slice is short.
func Conv2DBackwardExcCols(p ConvParams, perImage int, dy, y, bias, w, absW []float32, negative bool, x, dx []float32, top []uint32) {
	p = p.normalized()
	if p.Group != 1 || perImage < 1 || p.N%perImage != 0 {
		panic("kernels.Conv2DBackwardExcCols: needs one group and whole images")
	}
	p.check("Conv2DBackwardExcCols", dx, w, bias, dy)
	inPer, outPlane, rows := p.C*p.H*p.W, p.OH*p.OW, p.C*p.KH*p.KW
	if len(absW) < len(w) || len(x)*perImage < p.N*inPer || len(y)*perImage < p.N*p.M*outPlane {
		panic("kernels.Conv2DBackwardExcCols: absW, x or y is too short")
	}
	if top != nil {
		clear(top[:p.N])
	}
	if p.N == 0 || inPer == 0 {
		return
	}
	if p.M == 0 || outPlane == 0 {
		clear(dx[:p.N*inPer])
		return
	}
	kern := &activeKernels
	blockRows := min(p.OH, max(1, colsBlockFloats/(max(rows, p.M)*p.OW)))
	// Contiguous ranges of output rows, one per worker, each scattering
	// into planes a and b of its own.
	ranges := min(threads(4*p.M*rows*outPlane), ceilDiv(p.OH, blockRows))
	chunk := ceilDiv(p.OH, ranges)
	accP := getFloats(2 * ranges * inPer)
	defer putFloats(accP)
	acc := *accP
	aW, aAbs := matA{data: w, ld: rows, trans: true}, matA{data: absW, ld: rows, trans: true}
	for r := range p.N {
		img := r / perImage
		dyr, yr := dy[r*p.M*outPlane:][:p.M*outPlane], y[img*p.M*outPlane:][:p.M*outPlane]
		clear(acc)
		parallelFor(ranges, ranges, func(k int) {
			a, b := acc[2*k*inPer:][:inPer], acc[(2*k+1)*inPer:][:inPer]
			n := blockRows * p.OW
			bufP := getFloats((p.M + 2*rows) * n)
			defer putFloats(bufP)
			offsP := getInts(2 * p.M)
			defer putInts(offsP)
			offsV, offsS := (*offsP)[:p.M], (*offsP)[p.M:]
			for oh0 := k * chunk; oh0 < min(p.OH, (k+1)*chunk); oh0 += blockRows {
				oh1 := min(oh0+blockRows, (k+1)*chunk, p.OH)
				n := (oh1 - oh0) * p.OW
				signed, colA, colB := (*bufP)[:p.M*n], (*bufP)[p.M*n:][:rows*n], (*bufP)[(p.M+rows)*n:][:rows*n]
				for m := range p.M {
					offsV[m], offsS[m] = m*outPlane+oh0*p.OW, m*n
					SignFlip(signed[m*n:][:n], dyr[offsV[m]:][:n], yr[offsV[m]:][:n], channelBias(bias, m))
				}
				gemmBlock(kern, 0, rows, n, p.M, &aW, dyr, offsV, colA, n, false, nil)
				gemmBlock(kern, 0, rows, n, p.M, &aAbs, signed, offsS, colB, n, false, nil)
				for c := range p.C {
					for kh := range p.KH {
						for kw := range p.KW {
							row := ((c*p.KH+kh)*p.KW + kw) * n
							dh, dw := kh*p.DilH-p.PadT, kw*p.DilW-p.PadL
							col2imTapRows(&p, a[c*p.H*p.W:], colA[row:][:n], oh0, oh1, dh, dw)
							col2imTapRows(&p, b[c*p.H*p.W:], colB[row:][:n], oh0, oh1, dh, dw)
						}
					}
				}
			}
		})
		a, b := acc[:inPer], acc[inPer:2*inPer]
		for k := 1; k < ranges; k++ {
			AddScaled(a, acc[2*k*inPer:][:inPer], 1)
			AddScaled(b, acc[(2*k+1)*inPer:][:inPer], 1)
		}
		dxr := dx[r*inPer:][:inPer]
		copy(dxr, a)
		m := CombineExc(dxr, b, x[img*inPer:][:inPer], negative)
		if top != nil {
			top[r] = m
		}
	}
}
