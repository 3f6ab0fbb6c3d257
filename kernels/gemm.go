package kernels

//go:generate go run ./internal/asmgen -out gemm_amd64.s -stubs gemm_amd64_stub.go -pkg kernels

import (
	"slices"
	"unsafe"
)

// tileFunc computes one register tile of C = A·B. For i below the tile's
// fixed row count and j < cols:
//
//	c[i*ldc+j] = (accumulate != 0 ? c[i*ldc+j] : 0) + bias[i] + Σ_{p<k} A(i,p)·b[offs[p]+j]
//
// with depth k = kOuter·kInner ≥ 1 and a nil bias counting as zeros. The
// depth runs in kOuter runs of kInner steps; run r starts s_r elements into
// a, with s_0 = 0 and s_{r+1} = s_r + kInner·step + J_r, where step is 1
// for the row-major variants and lda for the column-major ones, and J_r is
// jumps[r], or aJump for every run when jumps is nil. Then
//
//	row-major:    A(i,p) = a[i*lda + s_{p/kInner} + p%kInner]
//	column-major: A(i,p) = a[s_{p/kInner} + (p%kInner)*lda + i]
//
// Pointers address the first element of each operand.
type tileFunc func(kOuter, kInner int, a *float32, lda, aJump int, jumps *int, b *float32, offs *int, c *float32, ldc int, cols int, accumulate int, bias *float32)

// tileKernels is a family of tile functions for one instruction set.
type tileKernels struct {
	name       string
	rows, cols int        // full tile size
	anyCols    bool       // tiles accept any cols in [1, cols]; otherwise exactly cols
	tiles      []tileFunc // tiles[r-1] computes r rows, r in [1, rows]
	tilesT     []tileFunc // as tiles, for column-major A
	// row computes c[r*ldc+j] (+)= bias[0] + Σ_{p<k} a[p]·b[offs[p]+r*ldb+j]
	// for r < rows and the first n - n%rowTail columns (all of them when
	// rowTail is 1); a nil bias counts as zero.
	row     func(k int, a *float32, b *float32, offs *int, c *float32, n, rows, ldb, ldc int, accumulate int, bias *float32)
	rowTail int
	// gather, when not nil, sets dst[j] = src[j*stride] for j < n.
	gather func(dst *float32, src *float32, n int, stride int)
	// scatterAdd2, when not nil, sets dst[r*ldd + 2j] += src[r*lds + j] for
	// r < rows, j < n.
	scatterAdd2 func(dst *float32, src *float32, n, rows, ldd, lds int)
	// maxRow and argmaxRow, when not nil, set c[j] = max_{p<k} b[offs[p]+j]
	// (taps in order, strict comparison) for j < n; argmaxRow also sets
	// idx[j] = base[j] + tap[p] of the first maximising p, or -1.
	maxRow    func(k int, b *float32, offs *int, c *float32, n int)
	argmaxRow func(k int, b *float32, offs *int, c *float32, n int, tap *int32, base *int32, idx *int32)
}

// Blocking parameters of the GEMM driver.
const (
	blockK     = 256 // depth of one pass over a tile (keeps A's tile rows in L1)
	maxBlockN  = 512 // columns of B processed by one task (B block stays in L2)
	tasksPerWk = 4   // tasks per worker, for load balance
	// blockKTrans is the depth of one pass for column-major A, whose every
	// step touches a new page: a shallow pass keeps those pages in the TLB.
	blockKTrans = 64
)

// matA is the left operand of a GEMM, read in place.
//
// Row-major (trans false): A(i,p) = data[i*ld + p], or, when run > 0, the
// depth is made of runs of run contiguous elements each followed by skip
// unused ones: A(i,p) = data[i*ld + (p/run)·(run+skip) + p%run].
// Column-major (trans true): A(i,p) = data[p*ld + i].
// With starts (run > 0), run r begins starts[r] elements into the row
// instead (row-major), or at data[starts[r] + i] (column-major: run r
// covers A(i, p) = data[starts[p/run] + (p%run)·ld + i]), and jumps[r] =
// starts[r+1] − starts[r] − run·step (step 1 row-major, ld column-major)
// is the gap the tile kernels skip after it: any sequence of runs, in any
// order.
type matA struct {
	data          []float32
	ld            int
	trans         bool
	run, skip     int
	starts, jumps []int
}

// index returns the position of A(i,p) in data; for run-structured A, p
// must be a multiple of run.
func (a *matA) index(i, p int) int {
	switch {
	case a.starts != nil && a.trans:
		return a.starts[p/a.run] + i
	case a.starts != nil:
		return i*a.ld + a.starts[p/a.run]
	case a.trans:
		return p*a.ld + i
	case a.run > 0:
		return i*a.ld + p/a.run*(a.run+a.skip)
	}
	return i*a.ld + p
}

// jumpsAt returns the jump table from depth p on (nil for uniform runs).
func (a *matA) jumpsAt(p int) *int {
	if a.jumps == nil {
		return nil
	}
	return &a.jumps[p/a.run]
}

// gemmOffsets computes, for i < m and j < n,
//
//	C[i*ldc+j] = (accumulate ? C[i*ldc+j] : 0) + bias[i] + Σ_{p<k} A(i,p)·B[offs[p]+j]
//
// on up to workers goroutines; a nil bias counts as zeros. Row p of B is
// the n floats at B[offs[p]:]; the caller guarantees they are in bounds.
// Nothing is read from C when accumulate is false. m, n, k ≥ 1; for
// run-structured A, k is a multiple of the run length.
func gemmOffsets(m, n, k int, a matA, b []float32, offs []int, c []float32, ldc int, accumulate bool, bias []float32, workers int) {
	gemmOffsetsThen(m, n, k, a, b, offs, c, ldc, accumulate, bias, workers, nil)
}

// gemmOffsetsThen is gemmOffsets that calls then(i0, i1, j0, j1), when not
// nil, on every block of C (rows [i0, i1), columns [j0, j1)) once that block
// is complete, on the goroutine that computed it, while it is in cache.
func gemmOffsetsThen(m, n, k int, a matA, b []float32, offs []int, c []float32, ldc int, accumulate bool, bias []float32, workers int, then func(i0, i1, j0, j1 int)) {
	kern := activeKernels
	rowTiles := (m + kern.rows - 1) / kern.rows
	colTiles := (n + kern.cols - 1) / kern.cols
	// Split into rowBlocks × colBlocks tasks, halving the larger side until
	// there is enough parallel slack, and keeping column blocks L2-sized.
	rowsPer, colsPer := rowTiles, colTiles
	for colsPer*kern.cols > maxBlockN {
		colsPer = (colsPer + 1) / 2
	}
	for workers > 1 && ceilDiv(rowTiles, rowsPer)*ceilDiv(colTiles, colsPer) < tasksPerWk*workers {
		if colsPer >= rowsPer && colsPer > 1 {
			colsPer = (colsPer + 1) / 2
		} else if rowsPer > 1 {
			rowsPer = (rowsPer + 1) / 2
		} else {
			break
		}
	}
	rowBlocks := ceilDiv(rowTiles, rowsPer)
	colBlocks := ceilDiv(colTiles, colsPer)
	parallelFor(workers, rowBlocks*colBlocks, func(t int) {
		i0 := (t / colBlocks) * rowsPer * kern.rows
		j0 := (t % colBlocks) * colsPer * kern.cols
		i1 := min(m, i0+rowsPer*kern.rows)
		j1 := min(n, j0+colsPer*kern.cols)
		var bi []float32
		if bias != nil {
			bi = bias[i0:]
		}
		gemmBlock(&kern, i0, i1-i0, j1-j0, k, &a, b[j0:], offs, c[i0*ldc+j0:], ldc, accumulate, bi)
		if then != nil {
			then(i0, i1, j0, j1)
		}
	})
}

// gemmBlock is the single-threaded part of gemmOffsets for rows i0..i0+m
// of A (and of C, bias, which the caller has already offset).
func gemmBlock(kern *tileKernels, i0, m, n, k int, a *matA, b []float32, offs []int, c []float32, ldc int, accumulate bool, bias []float32) {
	tiles, kb := kern.tiles, blockK
	if a.trans {
		tiles, kb = kern.tilesT, blockKTrans
	}
	run, skip := 0, a.skip
	if a.run > 0 {
		run = a.run
		kb = max(run, kb-kb%run)
	}
	fullCols := n
	if !kern.anyCols {
		fullCols -= n % kern.cols
	}
	for p0 := 0; p0 < k; p0 += kb {
		kc := min(kb, k-p0)
		outer, inner := 1, kc
		if run > 0 {
			outer, inner = kc/run, run
		}
		acc := 0
		if accumulate || p0 > 0 {
			acc = 1
		}
		var bi []float32
		if p0 == 0 {
			bi = bias
		}
		for i := 0; i < m; i += kern.rows {
			rows := min(kern.rows, m-i)
			ap := &a.data[a.index(i0+i, p0)]
			var bp *float32
			if bi != nil {
				bp = &bi[i]
			}
			for j := 0; j < fullCols; j += kern.cols {
				tiles[rows-1](outer, inner, ap, a.ld, skip, a.jumpsAt(p0), &b[j], &offs[p0], &c[i*ldc+j], ldc, min(kern.cols, fullCols-j), acc, bp)
			}
		}
		if fullCols < n {
			edgeColumns(tiles, kern, i0, m, n-fullCols, p0, outer, inner, a, b[fullCols:], offs[p0:], c[fullCols:], ldc, acc, bi)
		}
	}
}

// edgeColumns handles the last cols < kern.cols columns for kernels that
// only do full-width tiles: B's columns are copied into a zero-padded panel
// and each tile is computed into a scratch tile first.
func edgeColumns(tiles []tileFunc, kern *tileKernels, i0, m, cols, p0, outer, inner int, a *matA, b []float32, offs []int, c []float32, ldc int, acc int, bias []float32) {
	w := kern.cols
	k := outer * inner
	panelP := getFloats(k*w + kern.rows*w)
	panel, tmp := (*panelP)[:k*w], (*panelP)[k*w:]
	clear(panel)
	for p := range k {
		copy(panel[p*w:p*w+cols], b[offs[p]:offs[p]+cols])
	}
	offP := getInts(k)
	po := *offP
	for p := range po {
		po[p] = p * w
	}
	for i := 0; i < m; i += kern.rows {
		rows := min(kern.rows, m-i)
		var bp *float32
		if bias != nil {
			bp = &bias[i]
		}
		tiles[rows-1](outer, inner, &a.data[a.index(i0+i, p0)], a.ld, a.skip, a.jumpsAt(p0), &panel[0], &po[0], &tmp[0], w, w, 0, bp)
		for r := range rows {
			dst := c[(i+r)*ldc : (i+r)*ldc+cols]
			src := tmp[r*w : r*w+cols]
			if acc != 0 {
				for j := range dst {
					dst[j] += src[j]
				}
			} else {
				copy(dst, src)
			}
		}
	}
	putInts(offP)
	putFloats(panelP)
}

// gemmRows computes, single-threaded, for r < rows and j < n:
//
//	c[r*ldc+j] = (accumulate ? c[r*ldc+j] : 0) + bias + Σ_{p<k} a[p]·b[offs[p]+r*ldb+j]
//
// that is one row of A against a rows×n window of every row of B, with
// *bias (zero when bias is nil). k, n ≥ 1.
func gemmRows(k int, a, b []float32, offs []int, c []float32, n, rows, ldb, ldc int, accumulate bool, bias *float32) {
	if rows == 0 {
		return
	}
	acc := 0
	if accumulate {
		acc = 1
	}
	kern := &activeKernels
	fast := n - n%kern.rowTail
	if fast > 0 {
		maxOff := 0
		for _, o := range offs[:k] {
			maxOff = max(maxOff, o)
		}
		_ = b[maxOff+(rows-1)*ldb+n-1]
		_ = c[(rows-1)*ldc+n-1]
		kern.row(k, &a[0], &b[0], &offs[0], &c[0], fast, rows, ldb, ldc, acc, bias)
	}
	if fast == n {
		return
	}
	var bv float32
	if bias != nil {
		bv = *bias
	}
	for r := range rows {
		rowGo(k, a, b[r*ldb+fast:], offs, c[r*ldc+fast:r*ldc+n], accumulate, bv)
	}
}

// rowGo computes c[j] = (accumulate ? c[j] : 0) + bias + Σ_{p<k} a[p]·b[offs[p]+j]
// for j < len(c).
func rowGo(k int, a, b []float32, offs []int, c []float32, accumulate bool, bias float32) {
	if !accumulate {
		clear(c)
	}
	if bias != 0 {
		for j := range c {
			c[j] += bias
		}
	}
	for p, o := range offs[:k] {
		av := a[p]
		for j, bv := range b[o : o+len(c)] {
			c[j] += av * bv
		}
	}
}

// gatherStrided sets dst[j] = src[j*stride] for j < len(dst).
func gatherStrided(dst, src []float32, stride int) {
	n := len(dst)
	if n == 0 {
		return
	}
	_ = src[(n-1)*stride]
	if f := activeKernels.gather; f != nil && n >= 8 {
		f(&dst[0], &src[0], n, stride)
		return
	}
	for j := range dst {
		dst[j] = src[j*stride]
	}
}

// scatterAddStrided sets dst[j*stride] += src[j] for j < len(src); stride ≥ 1.
func scatterAddStrided(dst, src []float32, stride int) {
	n := len(src)
	if n == 0 {
		return
	}
	_ = dst[(n-1)*stride]
	if f := activeKernels.scatterAdd2; f != nil && stride == 2 && n >= 8 {
		f(&dst[0], &src[0], n, 1, 0, 0)
		return
	}
	for j, v := range src {
		dst[j*stride] += v
	}
}

// addTo sets dst[i] += src[i]; long rows go through the row kernel (an
// exact 1·src + dst).
func addTo(dst, src []float32) {
	src = src[:len(dst)]
	if len(dst) >= 32 {
		gemmRows(1, unitWeight[:], src, zeroOffset[:], dst, len(dst), 1, 0, 0, true, nil)
		return
	}
	for i, v := range src {
		dst[i] += v
	}
}

var (
	unitWeight = [1]float32{1}
	zeroOffset = [1]int{0}
)

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// tileGo is the portable tile kernel: up to goRows rows, any cols ≤ goCols.
// It keeps 4×4 blocks of C (four-row tiles) or four columns of one row in
// registers.
func tileGo(trans bool, rows, kOuter, kInner int, a *float32, lda, aJump int, jumps *int, b *float32, offs *int, c *float32, ldc int, cols int, accumulate int, bias *float32) {
	k := kOuter * kInner
	// A(r, p) = as[r*rowStep + runs[p/kInner] + (p%kInner)*innerStep].
	rowStep, innerStep := lda, 1
	if trans {
		rowStep, innerStep = 1, lda
	}
	var runBuf [blockK]int
	runs := runBuf[:0]
	if kOuter > blockK {
		runs = make([]int, 0, kOuter)
	}
	var js []int
	if jumps != nil {
		js = unsafe.Slice(jumps, kOuter)
	}
	for o, start := 0, 0; o < kOuter; o++ {
		runs = append(runs, start)
		start += kInner * innerStep
		if js != nil {
			start += js[o]
		} else {
			start += aJump
		}
	}
	// Jumps may be negative: address A from its lowest run start.
	low := slices.Min(runs)
	for o := range runs {
		runs[o] -= low
	}
	as := unsafe.Slice((*float32)(unsafe.Add(unsafe.Pointer(a), 4*low)), (rows-1)*rowStep+slices.Max(runs)+(kInner-1)*innerStep+1)
	os := unsafe.Slice(offs, k)
	maxOff := 0
	for _, o := range os {
		maxOff = max(maxOff, o)
	}
	bs := unsafe.Slice(b, maxOff+cols)
	cs := unsafe.Slice(c, (rows-1)*ldc+cols)
	var bv []float32
	if bias != nil {
		bv = unsafe.Slice(bias, rows)
	}
	// With four rows the 4×4 blocks cover cols − cols%4 columns; the
	// per-row loop below then starts at that column.
	first := 0
	if rows == 4 {
		tileGo4(as, rowStep, runs, innerStep, kInner, bs, os, cs, ldc, cols, accumulate, bv)
		first = cols - cols%4
	}
	for r := range rows {
		var init float32
		if bv != nil {
			init = bv[r]
		}
		ar := as[r*rowStep:]
		cr := cs[r*ldc : r*ldc+cols]
		j0 := first
		for ; j0+4 <= cols; j0 += 4 {
			s0, s1, s2, s3 := init, init, init, init
			p := 0
			for _, aOff := range runs {
				for range kInner {
					av := ar[aOff]
					aOff += innerStep
					brow := bs[os[p]+j0 : os[p]+j0+4]
					p++
					s0 += av * brow[0]
					s1 += av * brow[1]
					s2 += av * brow[2]
					s3 += av * brow[3]
				}
			}
			store := cr[j0 : j0+4]
			if accumulate != 0 {
				s0, s1, s2, s3 = s0+store[0], s1+store[1], s2+store[2], s3+store[3]
			}
			store[0], store[1], store[2], store[3] = s0, s1, s2, s3
		}
		for ; j0 < cols; j0++ {
			sum := init
			p := 0
			for _, aOff := range runs {
				for range kInner {
					sum += ar[aOff] * bs[os[p]+j0]
					aOff += innerStep
					p++
				}
			}
			if accumulate != 0 {
				sum += cr[j0]
			}
			cr[j0] = sum
		}
	}
}

// tileGo4 is tileGo for four rows and the first cols − cols%4 columns; it
// keeps a 4×4 block of C in registers.
func tileGo4(as []float32, rowStep int, runs []int, innerStep, kInner int, bs []float32, os []int, cs []float32, ldc, cols, accumulate int, bv []float32) {
	var i0, i1, i2, i3 float32
	if bv != nil {
		i0, i1, i2, i3 = bv[0], bv[1], bv[2], bv[3]
	}
	for j0 := 0; j0+4 <= cols; j0 += 4 {
		c00, c01, c02, c03 := i0, i0, i0, i0
		c10, c11, c12, c13 := i1, i1, i1, i1
		c20, c21, c22, c23 := i2, i2, i2, i2
		c30, c31, c32, c33 := i3, i3, i3, i3
		p := 0
		for _, aOff := range runs {
			for range kInner {
				br := bs[os[p]+j0 : os[p]+j0+4]
				p++
				b0, b1, b2, b3 := br[0], br[1], br[2], br[3]
				a0, a1, a2, a3 := as[aOff], as[aOff+rowStep], as[aOff+2*rowStep], as[aOff+3*rowStep]
				aOff += innerStep
				c00, c01, c02, c03 = c00+a0*b0, c01+a0*b1, c02+a0*b2, c03+a0*b3
				c10, c11, c12, c13 = c10+a1*b0, c11+a1*b1, c12+a1*b2, c13+a1*b3
				c20, c21, c22, c23 = c20+a2*b0, c21+a2*b1, c22+a2*b2, c23+a2*b3
				c30, c31, c32, c33 = c30+a3*b0, c31+a3*b1, c32+a3*b2, c33+a3*b3
			}
		}
		for r, row := range [4][4]float32{{c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}} {
			dst := cs[r*ldc+j0 : r*ldc+j0+4]
			for j, v := range row {
				if accumulate != 0 {
					v += dst[j]
				}
				dst[j] = v
			}
		}
	}
}

// goTiles returns the portable tiles of 1 … goRows rows.
func goTiles(trans bool) []tileFunc {
	tiles := make([]tileFunc, goRows)
	for r := range tiles {
		tiles[r] = func(ko, ki int, a *float32, lda, aj int, jumps *int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(trans, r+1, ko, ki, a, lda, aj, jumps, b, offs, c, ldc, cols, acc, bias)
		}
	}
	return tiles
}

// Portable tile geometry.
const (
	goRows = 4
	goCols = 16
)

var goKernels = tileKernels{
	name: "go", rows: goRows, cols: goCols, anyCols: true,
	row: func(k int, a *float32, b *float32, offs *int, c *float32, n, rows, ldb, ldc int, acc int, bias *float32) {
		os := unsafe.Slice(offs, k)
		maxOff := 0
		for _, o := range os {
			maxOff = max(maxOff, o)
		}
		var bv float32
		if bias != nil {
			bv = *bias
		}
		bs := unsafe.Slice(b, maxOff+(rows-1)*ldb+n)
		cs := unsafe.Slice(c, (rows-1)*ldc+n)
		for r := range rows {
			rowGo(k, unsafe.Slice(a, k), bs[r*ldb:], os, cs[r*ldc:r*ldc+n], acc != 0, bv)
		}
	},
	rowTail: 1,
	tiles:   goTiles(false),
	tilesT:  goTiles(true),
}
