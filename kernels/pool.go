package kernels

import "math"

// PoolParams describes 2-D pooling of NCHW tensors with ONNX Runtime
// semantics. Output (oh, ow) covers input rows oh·StrideH − PadT + kh·DilH
// for kh < KH, and likewise for columns; positions outside the H×W plane are
// padding. OH and OW are given by the caller (floor or ceil mode).
// Zero strides and dilations are read as 1.
type PoolParams struct {
	N, C, H, W             int // input batch, channels, height, width
	KH, KW                 int // window height and width
	OH, OW                 int // output height and width
	StrideH, StrideW       int
	DilH, DilW             int
	PadT, PadL, PadB, PadR int
	// CountIncludePad makes AvgPool2D divide by the window size clipped to
	// the padded input (H+PadB, W+PadR) instead of by the number of input
	// elements in the window.
	CountIncludePad bool
}

func (p PoolParams) normalized() PoolParams {
	for _, v := range []*int{&p.StrideH, &p.StrideW, &p.DilH, &p.DilW} {
		if *v == 0 {
			*v = 1
		}
	}
	return p
}

// windowRange returns the taps [lo, hi) of a window starting at start (in
// input coordinates, step dil, k taps) that fall inside [0, size).
func windowRange(start, k, dil, size int) (lo, hi int) {
	lo = 0
	if start < 0 {
		lo = (-start + dil - 1) / dil
	}
	hi = k
	if last := start + (k-1)*dil; last >= size {
		hi = k - (last-size)/dil - 1
	}
	return min(lo, k), max(hi, 0)
}

// poolWindows holds, per output row and column, the window start (in input
// coordinates), its taps [lo, hi) inside the input, and the taps inside the
// padded input (ONNX Runtime's count_include_pad divisor factor).
type poolWindows struct {
	rowStart, rowLo, rowHi, rowPadded []int
	colStart, colLo, colHi, colPadded []int
	buf                               *[]int
}

func newPoolWindows(p *PoolParams) *poolWindows {
	buf := getInts(4 * (p.OH + p.OW))
	s := *buf
	w := &poolWindows{buf: buf}
	w.rowStart, w.rowLo, w.rowHi, w.rowPadded = s[:p.OH], s[p.OH:2*p.OH], s[2*p.OH:3*p.OH], s[3*p.OH:4*p.OH]
	s = s[4*p.OH:]
	w.colStart, w.colLo, w.colHi, w.colPadded = s[:p.OW], s[p.OW:2*p.OW], s[2*p.OW:3*p.OW], s[3*p.OW:4*p.OW]
	fill := func(start, lo, hi, padded []int, stride, pad, k, dil, size, padEnd int) {
		for o := range start {
			st := o*stride - pad
			start[o] = st
			lo[o], hi[o] = windowRange(st, k, dil, size)
			end := min(st+k*dil, size+padEnd)
			padded[o] = 1 + (end-st-1)/dil
		}
	}
	fill(w.rowStart, w.rowLo, w.rowHi, w.rowPadded, p.StrideH, p.PadT, p.KH, p.DilH, p.H, p.PadB)
	fill(w.colStart, w.colLo, w.colHi, w.colPadded, p.StrideW, p.PadL, p.KW, p.DilW, p.W, p.PadR)
	return w
}

func (w *poolWindows) release() { putInts(w.buf) }

// MaxPool2D computes y = max over each window of x, ignoring padding.
// x is [N][C][H][W] and y is [N][C][OH][OW]. When argmax is not nil
// ([N][C][OH][OW]) it receives the index h·W + w, within the input plane,
// of the selected element; ties pick the first maximum in row-major window
// order. A window with no input element yields -math.MaxFloat32 (and
// index -1). Which element a window holding NaNs yields is unspecified.
func MaxPool2D(p PoolParams, x, y []float32, argmax []int32) {
	p = p.normalized()
	win := newPoolWindows(&p)
	defer win.release()
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * p.C
	if activeKernels.maxRow != nil {
		maxPoolImplicit(&p, win, x, y, argmax)
		return
	}
	parallelRange(threads(planes*outPlane*p.KH*p.KW), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			var am []int32
			if argmax != nil {
				am = argmax[pl*outPlane : (pl+1)*outPlane]
			}
			maxPoolPlane(&p, win, x[pl*inPlane:(pl+1)*inPlane], y[pl*outPlane:(pl+1)*outPlane], am)
		}
	})
}

// maxPoolImplicit is MaxPool2D on the vector row-max kernels. Each plane is
// copied, -Inf padded and split by stride phase exactly like a convolution
// input (forwardLayout), so every window is a fixed set of offsets from its
// output column q = oh·wq + ow.
func maxPoolImplicit(p *PoolParams, win *poolWindows, x, y []float32, argmax []int32) {
	cp := ConvParams{N: 1, C: 1, H: p.H, W: p.W, M: 1, KH: p.KH, KW: p.KW, OH: p.OH, OW: p.OW,
		StrideH: p.StrideH, StrideW: p.StrideW, DilH: p.DilH, DilW: p.DilW,
		PadT: p.PadT, PadL: p.PadL, PadB: p.PadB, PadR: p.PadR, Group: 1}
	l := newForwardLayout(cp)
	defer l.release()
	taps, wq := p.KH*p.KW, l.wq
	ncols := (p.OH-1)*wq + p.OW
	var tap, base []int32
	if argmax != nil {
		// Input index of tap t for column q: base[q] + tap[t].
		tap, base = make([]int32, taps), make([]int32, ncols)
		for kh := range p.KH {
			for kw := range p.KW {
				tap[kh*p.KW+kw] = int32(kh*p.DilH*p.W + kw*p.DilW)
			}
		}
		for q := range base {
			base[q] = int32((q/wq*p.StrideH-p.PadT)*p.W + q%wq*p.StrideW - p.PadL)
		}
	}
	empty := false // some window holds no input element
	for oh := range p.OH {
		empty = empty || win.rowLo[oh] >= win.rowHi[oh]
	}
	for ow := range p.OW {
		empty = empty || win.colLo[ow] >= win.colHi[ow]
	}
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * p.C
	parallelRange(threads(planes*outPlane*taps), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		var s scratch
		defer s.release()
		out := s.get(1, ncols)
		var idx []int32
		if argmax != nil {
			idx = make([]int32, ncols)
		}
		for pl := lo; pl < hi; pl++ {
			src := x[pl*inPlane : (pl+1)*inPlane]
			if !l.inPlace {
				buf := s.planes(l, l.bufLen, float32(math.Inf(-1)))
				l.fillRange(buf, src, 1, 0, 1)
				src = buf
			}
			ys := y[pl*outPlane : (pl+1)*outPlane]
			if argmax == nil {
				activeKernels.maxRow(taps, &src[0], &l.offs[0], &out[0], ncols)
			} else {
				activeKernels.argmaxRow(taps, &src[0], &l.offs[0], &out[0], ncols, &tap[0], &base[0], &idx[0])
				am := argmax[pl*outPlane : (pl+1)*outPlane]
				for oh := range p.OH {
					copy(am[oh*p.OW:(oh+1)*p.OW], idx[oh*wq:])
				}
			}
			scatterPlane(ys, p.OH, p.OW, p.OW, 1, out, wq, false)
			if empty {
				for o := range ys {
					if win.rowLo[o/p.OW] >= win.rowHi[o/p.OW] || win.colLo[o%p.OW] >= win.colHi[o%p.OW] {
						ys[o] = -math.MaxFloat32
					}
				}
			}
		}
	})
}

func maxPoolPlane(p *PoolParams, win *poolWindows, x, y []float32, argmax []int32) {
	for oh := range p.OH {
		hs, khLo, khHi := win.rowStart[oh], win.rowLo[oh], win.rowHi[oh]
		yr := y[oh*p.OW : (oh+1)*p.OW]
		for ow := range yr {
			ws, kwLo, kwHi := win.colStart[ow], win.colLo[ow], win.colHi[ow]
			best, at := float32(-math.MaxFloat32), -1
			switch {
			case khLo >= khHi || kwLo >= kwHi:
			case argmax == nil:
				// Branch-free running maximum (random data defeats branch
				// prediction).
				best = x[(hs+khLo*p.DilH)*p.W+ws+kwLo*p.DilW]
				for kh := khLo; kh < khHi; kh++ {
					row := x[(hs+kh*p.DilH)*p.W+ws+kwLo*p.DilW:]
					for t := range kwHi - kwLo {
						best = max(best, row[t*p.DilW])
					}
				}
			default:
				at = (hs+khLo*p.DilH)*p.W + ws + kwLo*p.DilW
				best = x[at]
				for kh := khLo; kh < khHi; kh++ {
					first := (hs+kh*p.DilH)*p.W + ws + kwLo*p.DilW // first tap of the row
					row := x[first:]
					for t := range kwHi - kwLo {
						// Strictly greater: ties keep the first maximum.
						if v := row[t*p.DilW]; v > best {
							best, at = v, first+t*p.DilW
						}
					}
				}
			}
			yr[ow] = best
			if argmax != nil {
				argmax[oh*p.OW+ow] = int32(at)
			}
		}
	}
}

// MaxPool2DBackward adds dy to dx at the positions MaxPool2D selected:
// dx[b][c][argmax[b/seedsPerImage][c][o]] += dy[b][c][o], or, when set is
// true, stores the sum over those positions in a dx that starts from zero,
// whatever it held. p describes the forward pass (N images); dy and dx have
// N·seedsPerImage rows, so every forward image is shared by seedsPerImage
// consecutive gradient rows. Negative indices (empty windows) are skipped.
// seedsPerImage ≥ 1.
func MaxPool2DBackward(p PoolParams, dy []float32, argmax []int32, dx []float32, seedsPerImage int, set bool) {
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * seedsPerImage * p.C
	parallelRange(threads(planes*outPlane), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			b, c := pl/p.C, pl%p.C
			fwd := (b/seedsPerImage)*p.C + c
			am := argmax[fwd*outPlane : (fwd+1)*outPlane]
			d := dy[pl*outPlane : (pl+1)*outPlane]
			out := dx[pl*inPlane : (pl+1)*inPlane]
			if set {
				clear(out)
			}
			for o, i := range am {
				if i >= 0 {
					out[i] += d[o]
				}
			}
		}
	})
}

// AvgPool2D computes y = the average of each window of x (see
// PoolParams.CountIncludePad for the divisor). A window with no input
// element yields 0. x is [N][C][H][W] and y is [N][C][OH][OW].
//
// The window sums are a convolution of every plane with unit weights.
func AvgPool2D(p PoolParams, x, y []float32) {
	p = p.normalized()
	if p.N*p.C == 0 || p.OH <= 0 || p.OW <= 0 {
		return
	}
	cp, ones := p.unitConv()
	Conv2D(cp, x, ones, nil, y)
	div := p.divisors()
	defer putFloats(div)
	outPlane := p.OH * p.OW
	for pl := range p.N * p.C {
		ys := y[pl*outPlane : (pl+1)*outPlane]
		for o, d := range (*div)[:outPlane] {
			if d != 0 {
				ys[o] /= d
			}
		}
	}
}

// AvgPool2DBackward adds to dx the vector-Jacobian product of AvgPool2D:
// each dy element, divided by its window's divisor, is added to every input
// element of the window. dy is [N][C][OH][OW] and dx is [N][C][H][W].
func AvgPool2DBackward(p PoolParams, dy, dx []float32) {
	p = p.normalized()
	if p.N*p.C == 0 || p.OH <= 0 || p.OW <= 0 {
		return
	}
	cp, ones := p.unitConv()
	div := p.divisors()
	defer putFloats(div)
	outPlane := p.OH * p.OW
	scaledP := getFloats(p.N * p.C * outPlane)
	defer putFloats(scaledP)
	scaled := *scaledP
	for pl := range p.N * p.C {
		src, dst := dy[pl*outPlane:(pl+1)*outPlane], scaled[pl*outPlane:(pl+1)*outPlane]
		for o, d := range (*div)[:outPlane] {
			if d != 0 {
				dst[o] = src[o] / d
			} else {
				dst[o] = 0
			}
		}
	}
	Conv2DBackwardData(cp, scaled, ones, dx)
}

// unitConv returns the convolution that sums p's windows: every plane of
// x as a one-channel image, and its all-ones weights.
func (p *PoolParams) unitConv() (ConvParams, []float32) {
	ones := make([]float32, p.KH*p.KW)
	for i := range ones {
		ones[i] = 1
	}
	return ConvParams{N: p.N * p.C, C: 1, H: p.H, W: p.W, M: 1, KH: p.KH, KW: p.KW, OH: p.OH, OW: p.OW,
		StrideH: p.StrideH, StrideW: p.StrideW, DilH: p.DilH, DilW: p.DilW,
		PadT: p.PadT, PadL: p.PadL, PadB: p.PadB, PadR: p.PadR, Group: 1}, ones
}

// divisors returns, per output position, the number AvgPool2D divides the
// window sum by (0 for windows with no input element): the window's input
// elements, or with CountIncludePad its taps inside the padded input
// (H+PadB, W+PadR), as ONNX Runtime does.
func (p *PoolParams) divisors() *[]float32 {
	win := newPoolWindows(p)
	defer win.release()
	divP := getFloats(p.OH * p.OW)
	div := *divP
	for oh := range p.OH {
		for ow := range p.OW {
			rows, cols := win.rowHi[oh]-win.rowLo[oh], win.colHi[ow]-win.colLo[ow]
			d := 0
			switch {
			case rows <= 0 || cols <= 0:
			case p.CountIncludePad:
				d = win.rowPadded[oh] * win.colPadded[ow]
			default:
				d = rows * cols
			}
			div[oh*p.OW+ow] = float32(d)
		}
	}
	return divP
}

// GlobalAvgPool sets y[i] to the mean of x[i·hw : (i+1)·hw] for each of the
// n·c planes. hw ≥ 1.
func GlobalAvgPool(n, c, hw int, x, y []float32) {
	inv := 1 / float32(hw)
	for i := range n * c {
		var s float32
		for _, v := range x[i*hw : (i+1)*hw] {
			s += v
		}
		y[i] = s * inv
	}
}

// GlobalAvgPoolBackward adds dy[i]/hw to every element of plane i of dx.
func GlobalAvgPoolBackward(n, c, hw int, dy, dx []float32) {
	inv := 1 / float32(hw)
	for i := range n * c {
		g := dy[i] * inv
		plane := dx[i*hw : (i+1)*hw]
		for j := range plane {
			plane[j] += g
		}
	}
}

// GlobalMaxPool sets y[i] to the maximum of plane i of x and, when argmax
// is not nil, argmax[i] to its index within the plane (first maximum wins).
func GlobalMaxPool(n, c, hw int, x, y []float32, argmax []int32) {
	for i := range n * c {
		plane := x[i*hw : (i+1)*hw]
		best, at := plane[0], 0
		for j, v := range plane {
			if v > best {
				best, at = v, j
			}
		}
		y[i] = best
		if argmax != nil {
			argmax[i] = int32(at)
		}
	}
}

// GlobalMaxPoolBackward adds dy[b][c] to dx[b][c][argmax[b/seedsPerImage][c]].
// n is the forward batch; dy and dx have n·seedsPerImage rows.
func GlobalMaxPoolBackward(n, c, hw int, dy []float32, argmax []int32, dx []float32, seedsPerImage int) {
	for i := range n * seedsPerImage * c {
		b, ch := i/c, i%c
		dx[i*hw+int(argmax[(b/seedsPerImage)*c+ch])] += dy[i]
	}
}
