package kernels

import (
	"fmt"
	"math"
	"sync/atomic"
)

// Conv2DBackwardData adds to dx the vector-Jacobian product of Conv2D with
// respect to its input: dx += convᵀ(dy, w), that is
//
//	dx[n][g·C/Group + c][oh·StrideH + kh·DilH − PadT][ow·StrideW + kw·DilW − PadL] += w[m][c][kh][kw] · dy[n][m][oh][ow]
//
// summed over m in group g and every tap, for positions inside dx. dy is
// [N][M][OH][OW], w is [M][C/Group][KH][KW] and dx is [N][C][H][W]. N is
// whatever batch dy and dx have (the product is linear in dy).
//
// Unit-stride convolutions (and strided ones with one input channel per
// group) run as implicit GEMMs per output stride phase: dx positions with
// the same (h mod StrideH, w mod StrideW) receive contributions from a
// fixed subset of taps, each a constant shift of a zero-padded copy of dy.
// Other strided convolutions multiply dy by the transposed weights and
// scatter the resulting columns (col2im).
//
// It panics if p is inconsistent or a slice is too short.
func Conv2DBackwardData(p ConvParams, dy, w, dx []float32) {
	convBackwardData(p, dy, w, nil, false, dx, nil)
}

// Conv2DBackwardDataSet is Conv2DBackwardData storing the product:
// dx = convᵀ(dy, w), whatever dx held. It spares clearing dx first and, on
// most shapes, reading it back while accumulating.
func Conv2DBackwardDataSet(p ConvParams, dy, w, dx []float32) {
	convBackwardData(p, dy, w, nil, true, dx, nil)
}

// groupHooks let a caller of convBackwardData make each group's dy on the
// fly and mask each group's dx while both are still in cache.
type groupHooks struct {
	// dy, when not nil, returns the M/Group planes of image n, group g,
	// written into scratch buffer 2 (s.get(2, …)), and a range [m0, m1)
	// outside which they are zero; convBackwardData's dy is then unused.
	dy func(n, g int, s *scratch) (planes []float32, m0, m1 int)
	// mask, when not nil, returns the forward input x of image n, group g
	// (dx's layout): dx is zeroed wherever x lies outside window.
	mask   func(n, g int) []float32
	window Window
	// tops, when not nil, receives for each image n the largest bit
	// pattern of |dx| after the mask (see MaxAbsBits).
	tops []atomic.Uint32
}

// Window is the set of forward input values at which an excitation
// product keeps dx: the open interval (Lo, Hi), or (Lo, ∞) when Upper is
// false. Its zero value, x > 0, is the excitation's own 1[x > 0]; a Clip
// or ReLU before the convolution narrows it to take in its own product.
type Window struct {
	Lo, Hi float32
	Upper  bool
}

// Gate narrows the mask of an excitation product: dx is also zeroed
// wherever On (x's layout) lies outside Window.
type Gate struct {
	Window
	On []float32
}

// inputMask zeroes a backward product wherever the forward input x lies
// outside the window, and raises top (when not nil) to the largest bit
// pattern of |dx| it leaves.
type inputMask struct {
	x      []float32
	window Window
	top    *atomic.Uint32
}

// zero zeroes dx wherever x[off:] lies outside the window.
func (m *inputMask) zero(dx []float32, off int) {
	Band(dx, dx, m.x[off:off+len(dx)], m.window.Lo, m.window.Hi, m.window.Upper, false)
	if m.top != nil {
		raise(m.top, MaxAbsBits(dx))
	}
}

// raise sets top to max(top, v).
func raise(top *atomic.Uint32, v uint32) {
	for old := top.Load(); v > old && !top.CompareAndSwap(old, v); old = top.Load() {
	}
}

// convBackwardData is Conv2DBackwardData (Conv2DBackwardDataSet when set
// is true) where, when rows is not nil (Group 1, one image), output channel
// m is dy plane rows[m] with weight row rows[m] of w (rows of C·KH·KW
// elements), both read in place, and where hooks, when not nil, make dy and
// finish dx per group.
func convBackwardData(p ConvParams, dy, w []float32, rows []int, set bool, dx []float32, hooks *groupHooks) {
	p = p.normalized()
	cg, mg := p.C/p.Group, p.M/p.Group
	taps := p.KH * p.KW
	outPlane := p.OH * p.OW
	if rows != nil {
		if p.Group != 1 || p.N != 1 {
			panic("kernels: a row map needs Group 1 and one image")
		}
		for _, r := range rows[:p.M] {
			if r < 0 || (r+1)*cg*taps > len(w) || (r+1)*outPlane > len(dy) {
				panic(fmt.Sprintf("kernels: row %d is outside w (%d elements) or dy (%d)", r, len(w), len(dy)))
			}
		}
		if cg == 1 {
			// The one-channel paths walk the weights one output channel
			// per step: gather the mapped rows and planes.
			row := cg * taps
			gp := getFloats(p.M * (row + outPlane))
			defer putFloats(gp)
			g, planes := (*gp)[:p.M*row], (*gp)[p.M*row:]
			parallelRange(threads(2*len(*gp)), p.M, len(*gp), func(m0, m1 int) {
				for m := m0; m < m1; m++ {
					r := rows[m]
					copy(g[m*row:(m+1)*row], w[r*row:(r+1)*row])
					copy(planes[m*outPlane:(m+1)*outPlane], dy[r*outPlane:(r+1)*outPlane])
				}
			})
			w, dy, rows = g, planes, nil
		}
	}
	if hooks == nil && rows == nil {
		p.check("Conv2DBackwardData", dx, w, nil, dy)
	}
	if p.N == 0 || p.C == 0 {
		return
	}
	if p.M == 0 || p.OH <= 0 || p.OW <= 0 {
		if set {
			clear(dx[:p.N*p.C*p.H*p.W])
		}
		return
	}
	inPlane := p.H * p.W
	wPer := mg * cg * taps
	// group returns the operands of image n, group g, and the range of dy
	// planes that may be non-zero.
	group := func(n, g int, s *scratch) (dyg, wg, dxg []float32, m0, m1 int) {
		wg = w
		if rows == nil {
			wg = w[g*wPer : (g+1)*wPer]
		}
		m0, m1 = 0, mg
		switch {
		case hooks != nil && hooks.dy != nil:
			dyg, m0, m1 = hooks.dy(n, g, s)
		case rows != nil:
			dyg = dy // planes mapped by rows
		default:
			dyg = dy[(n*p.M+g*mg)*outPlane : (n*p.M+(g+1)*mg)*outPlane]
		}
		return dyg, wg, dx[(n*p.C+g*cg)*inPlane : (n*p.C+(g+1)*cg)*inPlane], m0, m1
	}
	maskOf := func(n, g int, s *scratch) *inputMask {
		if hooks == nil || hooks.mask == nil {
			return nil
		}
		s.mask = inputMask{x: hooks.mask(n, g), window: hooks.window}
		if hooks.tops != nil {
			s.mask.top = &hooks.tops[n]
		}
		return &s.mask
	}
	// finish applies the mask where the product could not, group by group.
	finish := func(dxg []float32, mask *inputMask, masked bool) {
		if mask != nil && !masked {
			mask.zero(dxg, 0)
		}
	}
	// With unit strides the single phase uses every tap in order, so the
	// weights are read in place; otherwise each phase's taps are gathered.
	weightsInPlace := p.StrideH == 1 && p.StrideW == 1
	if !weightsInPlace && cg > 1 {
		// Strided: a GEMM with the weights read in place (transposed) plus
		// col2im beats gathering the weights per phase.
		forEachGroup(p.N, p.Group, 2*wPer*outPlane, func(n, g, workers int, s *scratch) {
			dyg, wg, dxg, _, _ := group(n, g, s)
			backwardCol2im(&p, dyg, wg, rows, set, maskOf(n, g, s), dxg, workers, s)
		})
		return
	}
	l := newBackwardLayout(p, rows)
	defer l.release()
	if !weightsInPlace {
		l.prepareWeights(w)
	}
	// The phases partition dx; one without taps receives nothing, so a
	// stored product must start from zeros there.
	store := set && len(l.phases) == min(p.StrideH, p.H)*min(p.StrideW, p.W)
	forEachGroup(p.N, p.Group, 2*wPer*outPlane, func(n, g, workers int, s *scratch) {
		dyg, wg, dxg, m0, m1 := group(n, g, s)
		if !weightsInPlace {
			wg = l.weights[g*wPer : (g+1)*wPer]
		}
		if set && !store {
			clear(dxg)
		}
		mask := maskOf(n, g, s)
		finish(dxg, mask, l.run(dyg, m0, m1, wg, rows, weightsInPlace, store, mask, dxg, workers, s))
	})
}

// rowRuns returns the run starts and jumps (see matA) that read weight row
// rows[k], of rowLen elements, as run k, when a run reads span elements.
func rowRuns(rows []int, rowLen, span int) (starts, jumps []int) {
	starts, jumps = make([]int, len(rows)), make([]int, len(rows))
	for k, r := range rows {
		starts[k] = r * rowLen
		if k > 0 {
			jumps[k-1] = starts[k] - starts[k-1] - span
		}
	}
	return starts, jumps
}

// backwardCol2im adds the data gradient of one group of one image to dxg as
// col = wgᵀ·dyg (rows (c, kh, kw), one column per output position) followed
// by scattering col back onto the input positions, then zeroes it outside
// mask's window (when mask is not nil). Output channel m uses weight row
// wRows[m] of wg when wRows is not nil.
func backwardCol2im(p *ConvParams, dyg, wg []float32, wRows []int, set bool, mask *inputMask, dxg []float32, workers int, s *scratch) {
	cg, mg, taps := p.C/p.Group, p.M/p.Group, p.KH*p.KW
	rows, cols := cg*taps, p.OH*p.OW
	a := matA{data: wg, ld: rows, trans: true}
	if wRows != nil {
		// Column p of Aᵀ is weight row wRows[p], read in place.
		a.run = 1
		a.starts, a.jumps = rowRuns(wRows[:mg], rows, rows)
	}
	offsP := getInts(mg)
	offs := *offsP
	for m := range offs {
		offs[m] = m * cols
		if wRows != nil {
			offs[m] = wRows[m] * cols // dy plane wRows[m] too
		}
	}
	col := s.get(0, rows*cols)
	gemmOffsets(rows, cols, mg, a, dyg, offs, col, cols, false, nil, workers)
	putInts(offsP)
	if rangeWorkers(workers, cg, rows*cols) == 1 {
		col2imRange(p, col, set, mask, dxg, 0, cg)
	} else {
		parallelRange(workers, cg, rows*cols, func(c0, c1 int) { col2imRange(p, col, set, mask, dxg, c0, c1) })
	}
}

// col2imRange scatters the col rows of input channels [c0, c1) onto dxg,
// clearing those channels first when set is true and masking them after
// when mask is not nil.
func col2imRange(p *ConvParams, col []float32, set bool, mask *inputMask, dxg []float32, c0, c1 int) {
	cols, inPlane := p.OH*p.OW, p.H*p.W
	for c := c0; c < c1; c++ {
		dst := dxg[c*inPlane : (c+1)*inPlane]
		if set {
			clear(dst)
		}
		for kh := range p.KH {
			for kw := range p.KW {
				src := col[((c*p.KH+kh)*p.KW+kw)*cols:][:cols]
				col2imTap(p, dst, src, kh*p.DilH-p.PadT, kw*p.DilW-p.PadL)
			}
		}
		if mask != nil {
			mask.zero(dst, c*inPlane)
		}
	}
}

// col2imTap adds src[oh][ow] (OH×OW) to dst[oh·StrideH + dh][ow·StrideW + dw]
// wherever that lies inside the H×W plane dst.
func col2imTap(p *ConvParams, dst, src []float32, dh, dw int) {
	col2imTapRows(p, dst, src, 0, p.OH, dh, dw)
}

// col2imTapRows is col2imTap for output rows [oh0, oh1) only, src holding
// those rows.
func col2imTapRows(p *ConvParams, dst, src []float32, oh0, oh1, dh, dw int) {
	sh, sw := p.StrideH, p.StrideW
	owLo := max(0, floorDiv(-dw+sw-1, sw))
	owHi := min(p.OW, floorDiv(p.W-1-dw, sw)+1)
	ohLo := max(oh0, floorDiv(-dh+sh-1, sh))
	ohHi := min(oh1, floorDiv(p.H-1-dh, sh)+1)
	if owLo >= owHi || ohLo >= ohHi {
		return
	}
	scatterPlane(dst[(ohLo*sh+dh)*p.W+owLo*sw+dw:], ohHi-ohLo, owHi-owLo, sh*p.W, sw, src[(ohLo-oh0)*p.OW+owLo:], p.OW, true)
}

// backwardPhase is the implicit GEMM of one output stride phase.
type backwardPhase struct {
	rh, rw  int   // phase: dx rows ≡ rh (mod StrideH), columns ≡ rw (mod StrideW)
	hi, wi  int   // dx rows and columns in the phase
	taps    []int // kernel taps kh·KW + kw that reach the phase
	offs    []int // GEMM depth index (m, tap) → offset into the padded dy
	ncols   int   // GEMM columns: (hi−1)·wq + wi
	wOffset int   // start of the phase's weights within a group's weights
}

// backwardLayout holds the phases of a data-gradient convolution.
//
// dy's planes are copied, zero-padded, into hq×wq planes: plane m holds
// dy[m][u − pt][v − pl] at [u][v]. For dx position (i·StrideH + rh,
// j·StrideW + rw), tap (kh, kw) of the phase contributes dy plane m at
// [i − e + pt][j − f + pl] where e = (kh·DilH − rh − PadT)/StrideH and
// f = (kw·DilW − rw − PadL)/StrideW are exact, so with column index
// q = i·wq + j every (m, tap) is a fixed offset from q.
type backwardLayout struct {
	p          ConvParams
	hq, wq     int
	pt, pl     int
	inPlace    bool  // dy's own planes serve as the padded copy
	planeRows  []int // when not nil, padded plane m is dy plane planeRows[m]
	chanStride int
	phases     []backwardPhase
	weightsP   *[]float32
	weights    []float32 // per group, per phase: [c][m][tap] gathered from w
	offsP      *[]int
}

// tapShift returns, for dx phase r of a dimension with the given stride,
// dilation and leading pad, the shift e of tap t (dy index = i − e) and
// whether the tap reaches the phase at all.
func tapShift(t, r, stride, dil, pad int) (int, bool) {
	v := t*dil - r - pad
	if floorDiv(v, stride)*stride != v {
		return 0, false
	}
	return v / stride, true
}

// newBackwardLayout returns the layout of p's data gradient; with
// planeRows, padded plane m is dy plane planeRows[m].
func newBackwardLayout(p ConvParams, planeRows []int) *backwardLayout {
	l := &backwardLayout{p: p, planeRows: planeRows}
	mg := p.M / p.Group
	// Shift range over all phases and taps, per dimension.
	shiftRange := func(stride, dil, pad, k, size int) (lo, hi int) {
		lo, hi = math.MaxInt, math.MinInt
		for r := range min(stride, size) {
			for t := range k {
				if e, ok := tapShift(t, r, stride, dil, pad); ok {
					lo, hi = min(lo, e), max(hi, e)
				}
			}
		}
		return lo, hi
	}
	eLo, eHi := shiftRange(p.StrideH, p.DilH, p.PadT, p.KH, p.H)
	fLo, fHi := shiftRange(p.StrideW, p.DilW, p.PadL, p.KW, p.W)
	if eLo > eHi || fLo > fHi {
		return l // no tap reaches dx
	}
	l.pt, l.pl = eHi, fHi
	l.hq = ceilDiv(p.H, p.StrideH) + eHi - eLo
	l.wq = ceilDiv(p.W, p.StrideW) + fHi - fLo
	// Mapped planes are copied, in order, even where they could serve in
	// place.
	l.inPlace = l.pt == 0 && l.pl == 0 && l.wq == p.OW && l.hq <= p.OH && planeRows == nil
	l.chanStride = l.hq * l.wq
	if l.inPlace {
		l.chanStride = p.OH * p.OW
	}

	total := 0
	for rh := range min(p.StrideH, p.H) {
		for rw := range min(p.StrideW, p.W) {
			ph := backwardPhase{rh: rh, rw: rw, hi: ceilDiv(p.H-rh, p.StrideH), wi: ceilDiv(p.W-rw, p.StrideW)}
			for kh := range p.KH {
				if _, ok := tapShift(kh, rh, p.StrideH, p.DilH, p.PadT); !ok {
					continue
				}
				for kw := range p.KW {
					if _, ok := tapShift(kw, rw, p.StrideW, p.DilW, p.PadL); ok {
						ph.taps = append(ph.taps, kh*p.KW+kw)
					}
				}
			}
			if len(ph.taps) == 0 {
				continue
			}
			ph.ncols = (ph.hi-1)*l.wq + ph.wi
			ph.wOffset = total
			total += len(ph.taps)
			l.phases = append(l.phases, ph)
		}
	}
	l.offsP = getInts(mg * total)
	offs := *l.offsP
	for i := range l.phases {
		ph := &l.phases[i]
		ph.offs = offs[mg*ph.wOffset : mg*(ph.wOffset+len(ph.taps))]
		for m := range mg {
			for ti, t := range ph.taps {
				e, _ := tapShift(t/p.KW, ph.rh, p.StrideH, p.DilH, p.PadT)
				f, _ := tapShift(t%p.KW, ph.rw, p.StrideW, p.DilW, p.PadL)
				ph.offs[m*len(ph.taps)+ti] = m*l.chanStride + (l.pt-e)*l.wq + l.pl - f
			}
		}
	}
	return l
}

func (l *backwardLayout) release() {
	if l.offsP != nil {
		putInts(l.offsP)
	}
	if l.weightsP != nil {
		putFloats(l.weightsP)
	}
}

// prepareWeights gathers, per group and phase, the GEMM A operand
// A[c][(m, tap)] = w[m][c][tap] (c < C/Group) from w.
func (l *backwardLayout) prepareWeights(w []float32) {
	p := &l.p
	cg, mg, taps := p.C/p.Group, p.M/p.Group, p.KH*p.KW
	wPer := mg * cg * taps
	l.weightsP = getFloats(p.Group * wPer)
	l.weights = *l.weightsP
	parallelRange(threads(2*len(w)), p.Group*cg, len(w), func(lo, hi int) {
		for gc := lo; gc < hi; gc++ {
			g, c := gc/cg, gc%cg
			wg := w[g*wPer : (g+1)*wPer]
			dst := l.weights[g*wPer:]
			for _, ph := range l.phases {
				k := mg * len(ph.taps)
				row := dst[mg*ph.wOffset*cg+c*k:][:k]
				for m := range mg {
					src := wg[(m*cg+c)*taps:][:taps]
					for ti, t := range ph.taps {
						row[m*len(ph.taps)+ti] = src[t]
					}
				}
			}
		}
	})
}

// run adds the data gradient of one group of one image to dxg, or stores
// it when store is true (every phase has taps). wg is the group's weights,
// in ONNX layout when inPlace (output channel m using row wRows[m] when
// wRows is not nil), otherwise as gathered by prepareWeights. With a mask
// (dxg's layout) on a single phase, each block of dxg is zeroed outside the
// mask's window as soon as it is complete; run reports whether it did so.
// With one input channel per group, only dy planes [m0, m1) are read (the
// others are zero).
func (l *backwardLayout) run(dyg []float32, m0, m1 int, wg []float32, wRows []int, inPlace, store bool, mask *inputMask, dxg []float32, workers int, s *scratch) (masked bool) {
	p := &l.p
	cg, mg := p.C/p.Group, p.M/p.Group
	if cg > 1 {
		m0, m1 = 0, mg
	} else if m0 >= m1 {
		if store {
			clear(dxg)
		}
		return true // zeros need no mask
	}
	src := dyg
	if !l.inPlace && len(l.phases) > 0 {
		src = s.planes(l, mg*l.chanStride, 0)
		if rangeWorkers(workers, m1-m0, (m1-m0)*l.chanStride) == 1 {
			l.pad(src, dyg, m0, m1)
		} else {
			parallelRange(workers, m1-m0, (m1-m0)*l.chanStride, func(lo, hi int) { l.pad(src, dyg, m0+lo, m0+hi) })
		}
	}
	inPlane := p.H * p.W
	cleared := false
	for i := range l.phases {
		ph := &l.phases[i]
		k := mg * len(ph.taps)
		a := matA{data: wg[mg*ph.wOffset*cg:][:cg*k], ld: k}
		if inPlace {
			// A(c, (m, t)) = wg[(m·cg + c)·taps + t]
			taps := len(ph.taps)
			a = matA{data: wg, ld: taps, run: taps, skip: (cg - 1) * taps}
			if wRows != nil {
				a.starts, a.jumps = rowRuns(wRows[:mg], cg*taps, taps)
			}
		}
		dst := dxg[ph.rh*p.W+ph.rw:] // dx position (rh, rw) of every channel
		if cg == 1 {
			// One input channel: the row kernel handles the phase's rows;
			// its depth (m, tap) is contiguous in a, and planes [m0, m1)
			// are a contiguous part of it.
			k, wm, planes := (m1-m0)*len(ph.taps), a.data[m0*len(ph.taps):], src[m0*l.chanStride:]
			if p.StrideW == 1 && ph.wi >= minRowWidth {
				gemmRows(k, wm, planes, ph.offs, dst, ph.wi, ph.hi, l.wq, p.StrideH*p.W, !store, nil)
				continue
			}
			out := s.get(1, ph.ncols)
			gemmRows(k, wm, planes, ph.offs, out, ph.ncols, 1, 0, 0, false, nil)
			accumulate := !store
			if store && p.StrideW == 2 {
				// Adding every other element has a vector kernel, storing
				// does not: clear the (one-channel, cached) plane first.
				if !cleared {
					clear(dxg)
					cleared = true
				}
				accumulate = true
			}
			scatterPlane(dst, ph.hi, ph.wi, p.StrideH*p.W, p.StrideW, out, l.wq, accumulate)
			continue
		}
		// A single phase covers every position of dx: its blocks are final.
		single := len(l.phases) == 1 && mask != nil
		if p.StrideH == 1 && p.StrideW == 1 && l.wq == p.W {
			// Phase columns are dx's own layout: write in place.
			var then func(i0, i1, j0, j1 int)
			if single {
				then = func(i0, i1, j0, j1 int) {
					for c := i0; c < i1; c++ {
						mask.zero(dxg[c*inPlane+j0:c*inPlane+j1], c*inPlane+j0)
					}
				}
			}
			gemmOffsetsThen(cg, ph.ncols, k, a, src, ph.offs, dxg, inPlane, !store, nil, workers, then)
			masked = single
			continue
		}
		out := s.get(1, cg*ph.ncols)
		gemmOffsets(cg, ph.ncols, k, a, src, ph.offs, out, ph.ncols, false, nil, workers)
		var planeMask *inputMask
		if single && p.StrideH == 1 && p.StrideW == 1 {
			planeMask, masked = mask, true
		}
		if rangeWorkers(workers, cg, cg*ph.ncols) == 1 {
			l.scatter(dst, out, ph, store, planeMask, 0, cg)
		} else {
			parallelRange(workers, cg, cg*ph.ncols, func(c0, c1 int) { l.scatter(dst, out, ph, store, planeMask, c0, c1) })
		}
	}
	return masked
}

// pad copies dy channels [m0, m1) into their zero-padded planes in buf.
func (l *backwardLayout) pad(buf, dyg []float32, m0, m1 int) {
	p := &l.p
	outPlane := p.OH * p.OW
	for m := m0; m < m1; m++ {
		from := m
		if l.planeRows != nil {
			from = l.planeRows[m]
		}
		gatherPlane(buf[m*l.chanStride:(m+1)*l.chanStride], l.hq, l.wq, dyg[from*outPlane:(from+1)*outPlane], p.OH, p.OW, 1, 1, -l.pt, -l.pl)
	}
}

// scatter adds (stores, when store is true) the phase result out of input
// channels [c0, c1) to their dx positions; dst starts at the phase's first
// position of channel 0. A mask (dx's layout, for a unit-stride single
// phase covering whole planes) then zeroes each plane outside its window.
func (l *backwardLayout) scatter(dst, out []float32, ph *backwardPhase, store bool, mask *inputMask, c0, c1 int) {
	p := &l.p
	inPlane := p.H * p.W
	for c := c0; c < c1; c++ {
		scatterPlane(dst[c*inPlane:], ph.hi, ph.wi, p.StrideH*p.W, p.StrideW, out[c*ph.ncols:], l.wq, !store)
		if mask != nil {
			mask.zero(dst[c*inPlane:(c+1)*inPlane], c*inPlane)
		}
	}
}
