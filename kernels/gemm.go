package kernels

//go:generate go run ./internal/asmgen -out gemm_amd64.s -stubs gemm_amd64_stub.go -pkg kernels

import "unsafe"

// tileFunc computes one register tile of C = A·B. For i below the tile's
// fixed row count and j < cols:
//
//	c[i*ldc+j] = (accumulate != 0 ? c[i*ldc+j] : 0) + bias[i] + Σ_{p<k} A(i,p)·b[offs[p]+j]
//
// where A(i,p) is a[i*lda+p] (a[p*lda+i] for the column-major variants) and
// a nil bias counts as zeros. k ≥ 1. Pointers address the first element of
// each operand.
type tileFunc func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, accumulate int, bias *float32)

// tileKernels is a family of tile functions for one instruction set.
type tileKernels struct {
	name       string
	rows, cols int        // full tile size
	anyCols    bool       // tiles accept any cols in [1, cols]; otherwise exactly cols
	tiles      []tileFunc // tiles[r-1] computes r rows, r in [1, rows]
	tilesT     []tileFunc // as tiles, for column-major A
	// row computes c[j] (+)= bias[0] + Σ_{p<k} a[p]·b[offs[p]+j] for the
	// first n - n%rowTail columns (all of them when rowTail is 1); a nil
	// bias counts as zero.
	row     func(k int, a *float32, b *float32, offs *int, c *float32, n int, accumulate int, bias *float32)
	rowTail int
}

// Blocking parameters of the GEMM driver.
const (
	blockK     = 256  // depth of one pass over a tile (keeps A's tile rows in L1)
	maxBlockN  = 1024 // columns of B processed by one task (B block fits in L2)
	tasksPerWk = 4    // tasks per worker, for load balance
	// blockKTrans is the depth of one pass for column-major A, whose every
	// step touches a new page: a shallow pass keeps those pages in the TLB.
	blockKTrans = 64
)

// gemmOffsets computes, for i < m and j < n,
//
//	C[i*ldc+j] = (accumulate ? C[i*ldc+j] : 0) + bias[i] + Σ_{p<k} A(i,p)·B[offs[p]+j]
//
// on up to workers goroutines, where A(i,p) is A[i*lda+p], or A[p*lda+i]
// when transA; a nil bias counts as zeros. Row p of B is the n floats at
// B[offs[p]:]; the caller guarantees they are in bounds. Nothing is read
// from C when accumulate is false. m, n, k ≥ 1.
func gemmOffsets(m, n, k int, a []float32, lda int, transA bool, b []float32, offs []int, c []float32, ldc int, accumulate bool, bias []float32, workers int) {
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
		var ai []float32
		if transA {
			ai = a[i0:]
		} else {
			ai = a[i0*lda:]
		}
		gemmBlock(&kern, i1-i0, j1-j0, k, ai, lda, transA, b[j0:], offs, c[i0*ldc+j0:], ldc, accumulate, bi)
	})
}

// gemmBlock is the single-threaded part of gemmOffsets.
func gemmBlock(kern *tileKernels, m, n, k int, a []float32, lda int, transA bool, b []float32, offs []int, c []float32, ldc int, accumulate bool, bias []float32) {
	tiles, kb := kern.tiles, blockK
	rowStep, colStep := lda, 1 // distance between A(i,p) and A(i+1,p), A(i,p+1)
	if transA {
		tiles, kb = kern.tilesT, blockKTrans
		rowStep, colStep = 1, lda
	}
	fullCols := n
	if !kern.anyCols {
		fullCols -= n % kern.cols
	}
	for p0 := 0; p0 < k; p0 += kb {
		kc := min(kb, k-p0)
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
			tile := tiles[rows-1]
			ap := &a[i*rowStep+p0*colStep]
			var bp *float32
			if bi != nil {
				bp = &bi[i]
			}
			for j := 0; j < fullCols; j += kern.cols {
				tile(kc, ap, lda, &b[j], &offs[p0], &c[i*ldc+j], ldc, min(kern.cols, fullCols-j), acc, bp)
			}
		}
		if fullCols < n {
			edgeColumns(tiles, kern, m, n-fullCols, kc, a[p0*colStep:], lda, rowStep, b[fullCols:], offs[p0:], c[fullCols:], ldc, acc, bi)
		}
	}
}

// edgeColumns handles the last cols < kern.cols columns for kernels that
// only do full-width tiles: B's columns are copied into a zero-padded panel
// and each tile is computed into a scratch tile first.
// rowStep is the distance in a between A(i,p) and A(i+1,p).
func edgeColumns(tiles []tileFunc, kern *tileKernels, m, cols, k int, a []float32, lda, rowStep int, b []float32, offs []int, c []float32, ldc int, acc int, bias []float32) {
	w := kern.cols
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
		tiles[rows-1](k, &a[i*rowStep], lda, &panel[0], &po[0], &tmp[0], w, w, 0, bp)
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

// gemmRow computes c[j] = (accumulate ? c[j] : 0) + bias + Σ_{p<k} a[p]·b[offs[p]+j]
// for j < n, single-threaded. Row p of B is b[offs[p]:offs[p]+n]. k, n ≥ 1.
func gemmRow(k int, a, b []float32, offs []int, c []float32, n int, accumulate bool, bias float32) {
	acc := 0
	if accumulate {
		acc = 1
	}
	kern := &activeKernels
	fast := n - n%kern.rowTail
	if fast > 0 {
		var bp *float32
		if bias != 0 {
			bp = &bias
		}
		kern.row(k, &a[0], &b[0], &offs[0], &c[0], fast, acc, bp)
	}
	if fast < n {
		rowGo(k, a, b[fast:], offs, c[fast:n], accumulate, bias)
	}
}

// rowGo is the portable form of tileKernels.row for len(c) columns.
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

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// tileGo is the portable tile kernel: up to goRows rows, any cols ≤ goCols.
// A(i,p) is a[i*lda+p], or a[p*lda+i] when trans.
func tileGo(trans bool, rows, k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, accumulate int, bias *float32) {
	rowStep, colStep := lda, 1
	if trans {
		rowStep, colStep = 1, lda
	}
	as := unsafe.Slice(a, (rows-1)*rowStep+(k-1)*colStep+1)
	os := unsafe.Slice(offs, k)
	maxOff := 0
	for _, o := range os {
		maxOff = max(maxOff, o)
	}
	bs := unsafe.Slice(b, maxOff+cols)
	cs := unsafe.Slice(c, (rows-1)*ldc+cols)
	var acc [goRows][goCols]float32
	if bias != nil {
		for r, bv := range unsafe.Slice(bias, rows) {
			for j := range cols {
				acc[r][j] = bv
			}
		}
	}
	for p, o := range os {
		brow := bs[o : o+cols]
		for r := range rows {
			av := as[r*rowStep+p*colStep]
			ar := acc[r][:cols]
			for j, bv := range brow {
				ar[j] += av * bv
			}
		}
	}
	for r := range rows {
		dst := cs[r*ldc : r*ldc+cols]
		if accumulate != 0 {
			for j := range dst {
				dst[j] += acc[r][j]
			}
		} else {
			copy(dst, acc[r][:cols])
		}
	}
}

// Portable tile geometry.
const (
	goRows = 4
	goCols = 16
)

var goKernels = tileKernels{
	name: "go", rows: goRows, cols: goCols, anyCols: true,
	row: func(k int, a *float32, b *float32, offs *int, c *float32, n int, acc int, bias *float32) {
		os := unsafe.Slice(offs, k)
		maxOff := 0
		for _, o := range os {
			maxOff = max(maxOff, o)
		}
		var bv float32
		if bias != nil {
			bv = *bias
		}
		rowGo(k, unsafe.Slice(a, k), unsafe.Slice(b, maxOff+n), os, unsafe.Slice(c, n), acc != 0, bv)
	},
	rowTail: 1,
	tiles: []tileFunc{
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(false, 1, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(false, 2, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(false, 3, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(false, 4, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
	},
	tilesT: []tileFunc{
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(true, 1, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(true, 2, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(true, 3, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
		func(k int, a *float32, lda int, b *float32, offs *int, c *float32, ldc int, cols int, acc int, bias *float32) {
			tileGo(true, 4, k, a, lda, b, offs, c, ldc, cols, acc, bias)
		},
	},
}
