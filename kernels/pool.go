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

// MaxPool2D computes y = max over each window of x, ignoring padding.
// x is [N][C][H][W] and y is [N][C][OH][OW]. When argmax is not nil
// ([N][C][OH][OW]) it receives the index h·W + w, within the input plane,
// of the selected element; ties pick the first maximum in row-major window
// order. A window with no input element yields -math.MaxFloat32 and index -1.
func MaxPool2D(p PoolParams, x, y []float32, argmax []int32) {
	p = p.normalized()
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * p.C
	parallelRange(threads(planes*outPlane*p.KH*p.KW), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			var am []int32
			if argmax != nil {
				am = argmax[pl*outPlane : (pl+1)*outPlane]
			}
			maxPoolPlane(&p, x[pl*inPlane:(pl+1)*inPlane], y[pl*outPlane:(pl+1)*outPlane], am)
		}
	})
}

func maxPoolPlane(p *PoolParams, x, y []float32, argmax []int32) {
	for oh := range p.OH {
		hs := oh*p.StrideH - p.PadT
		khLo, khHi := windowRange(hs, p.KH, p.DilH, p.H)
		for ow := range p.OW {
			ws := ow*p.StrideW - p.PadL
			kwLo, kwHi := windowRange(ws, p.KW, p.DilW, p.W)
			best, at := float32(-math.MaxFloat32), -1
			for kh := khLo; kh < khHi; kh++ {
				row := (hs + kh*p.DilH) * p.W
				for kw := kwLo; kw < kwHi; kw++ {
					i := row + ws + kw*p.DilW
					if v := x[i]; at < 0 || v > best {
						best, at = v, i
					}
				}
			}
			y[oh*p.OW+ow] = best
			if argmax != nil {
				argmax[oh*p.OW+ow] = int32(at)
			}
		}
	}
}

// MaxPool2DBackward adds dy to dx at the positions MaxPool2D selected:
// dx[b][c][argmax[b/seedsPerImage][c][o]] += dy[b][c][o]. p describes the
// forward pass (N images); dy and dx have N·seedsPerImage rows, so every
// forward image is shared by seedsPerImage consecutive gradient rows.
// Negative indices (empty windows) are skipped. seedsPerImage ≥ 1.
func MaxPool2DBackward(p PoolParams, dy []float32, argmax []int32, dx []float32, seedsPerImage int) {
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * seedsPerImage * p.C
	parallelRange(threads(planes*outPlane), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			b, c := pl/p.C, pl%p.C
			fwd := (b/seedsPerImage)*p.C + c
			am := argmax[fwd*outPlane : (fwd+1)*outPlane]
			d := dy[pl*outPlane : (pl+1)*outPlane]
			out := dx[pl*inPlane : (pl+1)*inPlane]
			for o, i := range am {
				if i >= 0 {
					out[i] += d[o]
				}
			}
		}
	})
}

// avgDivisor returns the number AvgPool2D divides a window's sum by, or 0
// when the window holds no input element.
func avgDivisor(p *PoolParams, hs, ws, khLo, khHi, kwLo, kwHi int) float32 {
	if khLo >= khHi || kwLo >= kwHi {
		return 0
	}
	if !p.CountIncludePad {
		return float32((khHi - khLo) * (kwHi - kwLo))
	}
	// The window clipped to the padded input, ONNX Runtime style.
	he := min(hs+p.KH*p.DilH, p.H+p.PadB)
	we := min(ws+p.KW*p.DilW, p.W+p.PadR)
	return float32((1 + (he-hs-1)/p.DilH) * (1 + (we-ws-1)/p.DilW))
}

// AvgPool2D computes y = the average of each window of x (see
// PoolParams.CountIncludePad for the divisor). A window with no input
// element yields 0. x is [N][C][H][W] and y is [N][C][OH][OW].
func AvgPool2D(p PoolParams, x, y []float32) {
	p = p.normalized()
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * p.C
	parallelRange(threads(planes*outPlane*p.KH*p.KW), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			xs, ys := x[pl*inPlane:(pl+1)*inPlane], y[pl*outPlane:(pl+1)*outPlane]
			for oh := range p.OH {
				hs := oh*p.StrideH - p.PadT
				khLo, khHi := windowRange(hs, p.KH, p.DilH, p.H)
				for ow := range p.OW {
					ws := ow*p.StrideW - p.PadL
					kwLo, kwHi := windowRange(ws, p.KW, p.DilW, p.W)
					div := avgDivisor(&p, hs, ws, khLo, khHi, kwLo, kwHi)
					var s float32
					for kh := khLo; kh < khHi; kh++ {
						row := (hs+kh*p.DilH)*p.W + ws
						for kw := kwLo; kw < kwHi; kw++ {
							s += xs[row+kw*p.DilW]
						}
					}
					if div != 0 {
						s /= div
					}
					ys[oh*p.OW+ow] = s
				}
			}
		}
	})
}

// AvgPool2DBackward adds to dx the vector-Jacobian product of AvgPool2D:
// each dy element, divided by its window's divisor, is added to every input
// element of the window. dy is [N][C][OH][OW] and dx is [N][C][H][W].
func AvgPool2DBackward(p PoolParams, dy, dx []float32) {
	p = p.normalized()
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	planes := p.N * p.C
	parallelRange(threads(planes*outPlane*p.KH*p.KW), planes, planes*(inPlane+outPlane), func(lo, hi int) {
		for pl := lo; pl < hi; pl++ {
			ds, xs := dy[pl*outPlane:(pl+1)*outPlane], dx[pl*inPlane:(pl+1)*inPlane]
			for oh := range p.OH {
				hs := oh*p.StrideH - p.PadT
				khLo, khHi := windowRange(hs, p.KH, p.DilH, p.H)
				for ow := range p.OW {
					ws := ow*p.StrideW - p.PadL
					kwLo, kwHi := windowRange(ws, p.KW, p.DilW, p.W)
					div := avgDivisor(&p, hs, ws, khLo, khHi, kwLo, kwHi)
					if div == 0 {
						continue
					}
					g := ds[oh*p.OW+ow] / div
					for kh := khLo; kh < khHi; kh++ {
						row := (hs+kh*p.DilH)*p.W + ws
						for kw := kwLo; kw < kwHi; kw++ {
							xs[row+kw*p.DilW] += g
						}
					}
				}
			}
		}
	})
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
