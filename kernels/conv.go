package kernels

import "fmt"

// ConvParams describes a 2-D convolution of NCHW tensors:
//
//	y[n][m][oh][ow] = bias[m] + Σ_{c,kh,kw} w[m][c][kh][kw] ·
//	                  x[n][g·C/Group + c][oh·StrideH + kh·DilH − PadT][ow·StrideW + kw·DilW − PadL]
//
// where g = m / (M/Group), c < C/Group, and x is zero outside its H×W
// planes. The weight has ONNX layout [M][C/Group][KH][KW]. OH and OW are
// given by the caller; PadB and PadR are implied by them and not read.
// Zero strides, dilations and Group are read as 1.
type ConvParams struct {
	N, C, H, W             int // input batch, channels, height, width
	M                      int // output channels
	KH, KW                 int // kernel height and width
	OH, OW                 int // output height and width
	StrideH, StrideW       int
	DilH, DilW             int
	PadT, PadL, PadB, PadR int
	Group                  int
}

// check panics with a description when p is inconsistent or a tensor is
// shorter than p says; op names the calling function.
func (p ConvParams) check(op string, x, w, bias, y []float32) {
	bad := func(format string, args ...any) {
		panic(fmt.Sprintf("kernels.%s: ", op) + fmt.Sprintf(format, args...))
	}
	for _, v := range []int{p.N, p.C, p.H, p.W, p.M, p.KH, p.KW, p.OH, p.OW} {
		if v < 0 {
			bad("negative size in %+v", p)
		}
	}
	if p.StrideH < 1 || p.StrideW < 1 || p.DilH < 1 || p.DilW < 1 || p.Group < 1 {
		bad("strides, dilations and group must be positive: %+v", p)
	}
	if p.C%p.Group != 0 || p.M%p.Group != 0 {
		bad("%d input and %d output channels do not split into %d groups", p.C, p.M, p.Group)
	}
	if p.KH < 1 || p.KW < 1 {
		bad("empty kernel %dx%d", p.KH, p.KW)
	}
	for _, t := range []struct {
		name string
		s    []float32
		n    int
	}{
		{"x", x, p.N * p.C * p.H * p.W},
		{"w", w, p.M * (p.C / p.Group) * p.KH * p.KW},
		{"y", y, p.N * p.M * p.OH * p.OW},
	} {
		if len(t.s) < t.n {
			bad("%s has %d elements, needs %d", t.name, len(t.s), t.n)
		}
	}
	if bias != nil && len(bias) < p.M {
		bad("bias has %d elements, needs %d", len(bias), p.M)
	}
}

// normalized returns p with zero strides, dilations and Group set to 1.
func (p ConvParams) normalized() ConvParams {
	one := func(v *int) {
		if *v == 0 {
			*v = 1
		}
	}
	one(&p.StrideH)
	one(&p.StrideW)
	one(&p.DilH)
	one(&p.DilW)
	one(&p.Group)
	return p
}

// Conv2D computes y = conv(x, w) + bias as described by ConvParams.
// x is [N][C][H][W], w is [M][C/Group][KH][KW], bias is [M] or nil, and y
// is [N][M][OH][OW]; y is overwritten (not read). It panics if p is
// inconsistent or a slice is too short.
func Conv2D(p ConvParams, x, w, bias, y []float32) {
	p = p.normalized()
	p.check("Conv2D", x, w, bias, y)
	if p.N == 0 || p.M == 0 || p.OH <= 0 || p.OW <= 0 {
		return
	}
	if p.C == 0 {
		// No input channels: y is the bias alone.
		outPlane := p.OH * p.OW
		for i := range p.N * p.M {
			var v float32
			if bias != nil {
				v = bias[i%p.M]
			}
			plane := y[i*outPlane : (i+1)*outPlane]
			for j := range plane {
				plane[j] = v
			}
		}
		return
	}
	l := newForwardLayout(p)
	defer l.release()
	cg, mg := p.C/p.Group, p.M/p.Group
	inPlane, outPlane := p.H*p.W, p.OH*p.OW
	wPer := mg * l.k
	forEachGroup(p.N, p.Group, 2*mg*l.k*outPlane, func(n, g, workers int, s *scratch) {
		var bg []float32
		if bias != nil {
			bg = bias[g*mg : (g+1)*mg]
		}
		xg := x[(n*p.C+g*cg)*inPlane : (n*p.C+(g+1)*cg)*inPlane]
		yg := y[(n*p.M+g*mg)*outPlane : (n*p.M+(g+1)*mg)*outPlane]
		l.run(xg, w[g*wPer:(g+1)*wPer], bg, yg, workers, s)
	})
}

// minRowWidth is the output row length from which one-channel convolutions
// run the row kernel row by row (writing the result in place) rather than
// over whole planes followed by a compaction copy.
const minRowWidth = 48

// forEachGroup calls run(n, g, workers, scratch) for every image and group,
// either one after another with all workers each, or, when the groups are
// many and small, spread over the workers with one each. Each goroutine
// passes its own scratch to its calls.
func forEachGroup(n, groups, flopsPerGroup int, run func(n, g, workers int, s *scratch)) {
	jobs := n * groups
	all := threads(flopsPerGroup * jobs)
	if all > 1 && jobs >= 2*all && flopsPerGroup < 8<<20 {
		chunk := ceilDiv(jobs, 4*all)
		parallelFor(all, ceilDiv(jobs, chunk), func(t int) {
			var s scratch
			defer s.release()
			for j := t * chunk; j < min(jobs, (t+1)*chunk); j++ {
				run(j/groups, j%groups, 1, &s)
			}
		})
		return
	}
	var s scratch
	defer s.release()
	for t := range jobs {
		run(t/groups, t%groups, threads(flopsPerGroup), &s)
	}
}

// scratch holds a goroutine's reusable work buffers.
type scratch struct {
	bufs [3]*[]float32
	// planesOwner is the layout whose zero-padded planes buffer 0 holds
	// (their padding is still zero), or nil.
	planesOwner any
	// mask is the current group's input mask (see convBackwardData),
	// kept here so that no group allocates one.
	mask inputMask
}

// planes returns buffer 0 with length n for the padded planes of owner.
// Its padding holds pad: only interior elements may be written.
func (s *scratch) planes(owner any, n int, pad float32) []float32 {
	if s.planesOwner == owner && s.bufs[0] != nil && len(*s.bufs[0]) == n {
		return *s.bufs[0]
	}
	buf := s.get(0, n)
	if pad == 0 {
		clear(buf)
	} else if n > 0 {
		buf[0] = pad
		for filled := 1; filled < n; filled *= 2 {
			copy(buf[filled:], buf[:filled])
		}
	}
	s.planesOwner = owner
	return buf
}

// get returns buffer i (0, 1 or 2) with length n and unspecified contents.
func (s *scratch) get(i, n int) []float32 {
	if i == 0 {
		s.planesOwner = nil
	}
	if b := s.bufs[i]; b != nil && cap(*b) >= n {
		return (*b)[:n]
	}
	if s.bufs[i] != nil {
		putFloats(s.bufs[i])
	}
	s.bufs[i] = getFloats(n)
	return *s.bufs[i]
}

// release returns the buffers to the pool.
func (s *scratch) release() {
	for _, b := range s.bufs {
		if b != nil {
			putFloats(b)
		}
	}
}

// forwardLayout is the implicit-GEMM form of one group of a convolution.
//
// The group's input channels are copied, zero-padded, into stride-phase
// planes: plane (ph, pw, c) holds x[c][i·StrideH + ph − PadT][j·StrideW + pw − PadL]
// at [i][j] for i < hq, j < wq. Kernel tap (kh, kw) then reads, for output
// (oh, ow), plane (kh·DilH mod StrideH, kw·DilW mod StrideW, c) at
// [oh + kh·DilH/StrideH][ow + kw·DilW/StrideW], so for output column
// q = oh·wq + ow every tap is a fixed offset from q: B[tap][q] = buf[offs[tap] + q].
// The GEMM computes q < ncols, including wq − OW ignored columns per output
// row, which a compaction step drops unless wq == OW.
type forwardLayout struct {
	p           ConvParams
	k           int   // GEMM depth: C/Group · KH · KW
	hq, wq      int   // plane size
	phaseSlot   []int // StrideH·StrideW entries: buffer slot of the phase or -1
	phases      int   // phases in use
	inPlace     bool  // x's own planes serve as the buffer (no copy)
	chanStride  int   // floats between channel planes in the buffer
	bufLen      int   // floats in the buffer of one group
	ncols       int   // GEMM columns: (OH−1)·wq + OW
	offsetsPool *[]int
	offs        []int
}

func newForwardLayout(p ConvParams) *forwardLayout {
	cg := p.C / p.Group
	taps := p.KH * p.KW
	l := &forwardLayout{p: p, k: cg * taps}
	hp := (p.OH-1)*p.StrideH + (p.KH-1)*p.DilH + 1
	wp := (p.OW-1)*p.StrideW + (p.KW-1)*p.DilW + 1
	l.hq, l.wq = ceilDiv(hp, p.StrideH), ceilDiv(wp, p.StrideW)
	l.phaseSlot = make([]int, p.StrideH*p.StrideW)
	for i := range l.phaseSlot {
		l.phaseSlot[i] = -1
	}
	for kh := range p.KH {
		for kw := range p.KW {
			ph := (kh*p.DilH%p.StrideH)*p.StrideW + kw*p.DilW%p.StrideW
			if l.phaseSlot[ph] < 0 {
				l.phaseSlot[ph] = l.phases
				l.phases++
			}
		}
	}
	l.inPlace = p.StrideH == 1 && p.StrideW == 1 && p.PadT == 0 && p.PadL == 0 && l.wq == p.W && l.hq <= p.H
	l.chanStride = l.hq * l.wq
	if l.inPlace {
		l.chanStride = p.H * p.W
	}
	l.bufLen = l.phases * cg * l.chanStride
	l.ncols = (p.OH-1)*l.wq + p.OW
	l.offsetsPool = getInts(l.k)
	l.offs = *l.offsetsPool
	for c := range cg {
		for kh := range p.KH {
			for kw := range p.KW {
				ph := (kh*p.DilH%p.StrideH)*p.StrideW + kw*p.DilW%p.StrideW
				l.offs[(c*p.KH+kh)*p.KW+kw] = (l.phaseSlot[ph]*cg+c)*l.chanStride +
					kh*p.DilH/p.StrideH*l.wq + kw*p.DilW/p.StrideW
			}
		}
	}
	return l
}

func (l *forwardLayout) release() { putInts(l.offsetsPool) }

// run computes one group of one image: yg = conv(xg, wg) + bias.
func (l *forwardLayout) run(xg, wg, bias, yg []float32, workers int, s *scratch) {
	p := &l.p
	mg := p.M / p.Group
	cg := p.C / p.Group
	src := xg
	if !l.inPlace {
		src = s.planes(l, l.bufLen, 0)
		l.fill(src, xg, cg, workers)
	}
	if mg == 1 {
		var b *float32
		if bias != nil && bias[0] != 0 {
			b = &bias[0]
		}
		if p.OW >= minRowWidth || l.wq == p.OW {
			// One output channel: the row kernel writes y's rows directly.
			gemmRows(l.k, wg, src, l.offs, yg, p.OW, p.OH, l.wq, p.OW, false, b)
			return
		}
		// Short rows: one long row over the planes, then compaction.
		out := s.get(1, l.ncols)
		gemmRows(l.k, wg, src, l.offs, out, l.ncols, 1, 0, 0, false, b)
		scatterPlane(yg, p.OH, p.OW, p.OW, 1, out, l.wq, false)
		return
	}
	a := matA{data: wg, ld: l.k}
	outPlane := p.OH * p.OW
	if l.wq == p.OW {
		gemmOffsets(mg, l.ncols, l.k, a, src, l.offs, yg, outPlane, false, bias, workers)
		return
	}
	out := s.get(1, mg*l.ncols)
	gemmOffsets(mg, l.ncols, l.k, a, src, l.offs, out, l.ncols, false, bias, workers)
	if rangeWorkers(workers, mg, mg*outPlane) == 1 {
		l.compact(yg, out, 0, mg)
	} else {
		parallelRange(workers, mg, mg*outPlane, func(m0, m1 int) { l.compact(yg, out, m0, m1) })
	}
}

// compact copies output channels [m0, m1) from the GEMM result out (row
// pitch wq, ncols per channel) to yg.
func (l *forwardLayout) compact(yg, out []float32, m0, m1 int) {
	p := &l.p
	outPlane := p.OH * p.OW
	for m := m0; m < m1; m++ {
		scatterPlane(yg[m*outPlane:(m+1)*outPlane], p.OH, p.OW, p.OW, 1, out[m*l.ncols:], l.wq, false)
	}
}

// fill copies the group's input channels into the phase planes of buf.
func (l *forwardLayout) fill(buf, xg []float32, channels, workers int) {
	if rangeWorkers(workers, channels, l.bufLen) == 1 {
		l.fillRange(buf, xg, channels, 0, channels)
		return
	}
	parallelRange(workers, channels, l.bufLen, func(c0, c1 int) { l.fillRange(buf, xg, channels, c0, c1) })
}

// fillRange is fill for channels [c0, c1).
func (l *forwardLayout) fillRange(buf, xg []float32, channels, c0, c1 int) {
	p := &l.p
	plane := p.H * p.W
	sh, sw := p.StrideH, p.StrideW
	for ph := range sh * sw {
		slot := l.phaseSlot[ph]
		if slot < 0 {
			continue
		}
		for c := c0; c < c1; c++ {
			dst := buf[(slot*channels+c)*l.chanStride:][:l.hq*l.wq]
			gatherPlane(dst, l.hq, l.wq, xg[c*plane:(c+1)*plane], p.H, p.W, sh, sw, ph/sw-p.PadT, ph%sw-p.PadL)
		}
	}
}

// gatherPlane sets dst[i][j] (hq×wq) to src[i·sh + r0][j·sw + c0] where that
// lies inside the h×w plane src; the other elements of dst must already be
// zero and are left alone.
func gatherPlane(dst []float32, hq, wq int, src []float32, h, w, sh, sw, r0, c0 int) {
	jlo := max(0, floorDiv(-c0+sw-1, sw))
	jhi := min(wq, floorDiv(w-1-c0, sw)+1)
	if jlo >= jhi {
		return
	}
	for i := max(0, floorDiv(-r0+sh-1, sh)); i < hq; i++ {
		r := i*sh + r0
		if r >= h {
			break
		}
		row := dst[i*wq : (i+1)*wq]
		s := src[r*w : (r+1)*w]
		if sw == 1 {
			copy(row[jlo:jhi], s[jlo+c0:jhi+c0])
			continue
		}
		gatherStrided(row[jlo:jhi], s[jlo*sw+c0:], sw)
	}
}

// scatterPlane writes (or adds, when accumulate) the rows×cols block of src
// (row pitch srcPitch) to dst[i·rowStride + j·colStride].
func scatterPlane(dst []float32, rows, cols, rowStride, colStride int, src []float32, srcPitch int, accumulate bool) {
	if f := activeKernels.scatterAdd2; f != nil && accumulate && colStride == 2 && rows > 0 && cols > 0 {
		_ = dst[(rows-1)*rowStride+2*(cols-1)]
		_ = src[(rows-1)*srcPitch+cols-1]
		f(&dst[0], &src[0], cols, rows, rowStride, srcPitch)
		return
	}
	for i := range rows {
		s := src[i*srcPitch : i*srcPitch+cols]
		if colStride == 1 {
			d := dst[i*rowStride : i*rowStride+cols]
			if accumulate {
				addTo(d, s)
			} else {
				copy(d, s)
			}
			continue
		}
		d := dst[i*rowStride:]
		if accumulate {
			scatterAddStrided(d, s, colStride)
			continue
		}
		for j, v := range s {
			d[j*colStride] = v
		}
	}
}

// floorDiv returns ⌊a/b⌋ for b > 0.
func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && a < 0 {
		q--
	}
	return q
}

// rangeWorkers returns how many goroutines parallelRange uses for n items
// and work floats touched: splitting small jobs does not pay.
func rangeWorkers(workers, n, work int) int {
	if work < 1<<15 {
		return 1
	}
	return max(1, min(workers, n))
}

// parallelRange splits [0, n) into contiguous chunks handled by up to
// workers goroutines (see rangeWorkers). Callers on hot paths check
// rangeWorkers first so the single-goroutine case needs no closure.
func parallelRange(workers, n, work int, body func(lo, hi int)) {
	workers = rangeWorkers(workers, n, work)
	if workers <= 1 {
		body(0, n)
		return
	}
	chunk := ceilDiv(n, workers)
	parallelFor(workers, workers, func(t int) {
		lo := t * chunk
		if lo < n {
			body(lo, min(n, lo+chunk))
		}
	})
}
