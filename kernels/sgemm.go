package kernels

import "fmt"

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major float32
// matrices, where op(X) is X or Xᵀ as selected by transA and transB.
//
// op(A) is m×k, op(B) is k×n and C is m×n. A is stored m×k (k×m when
// transA) with row stride lda; B is stored k×n (n×k when transB) with row
// stride ldb; C has row stride ldc. When beta is 0, C is not read (NaNs in
// it do not propagate). m, n, k ≥ 0. Large products run on up to
// GOMAXPROCS goroutines. The slices must hold every element addressed.
//
// It panics if a dimension is negative, a leading dimension is smaller than
// its row length, or a slice is too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("kernels.Sgemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	aRows, aCols := m, k
	if transA {
		aRows, aCols = k, m
	}
	bRows, bCols := k, n
	if transB {
		bRows, bCols = n, k
	}
	checkMatrix("A", aRows, aCols, a, lda)
	checkMatrix("B", bRows, bCols, b, ldb)
	checkMatrix("C", m, n, c, ldc)
	if k == 0 || alpha == 0 {
		scaleMatrix(m, n, beta, c, ldc)
		return
	}
	accumulate := true
	switch beta {
	case 0:
		accumulate = false
	case 1:
	default:
		scaleMatrix(m, n, beta, c, ldc)
	}

	workers := threads(2 * m * n * k)
	if transB && m < swapRows {
		sgemmSwapped(transA, m, n, k, alpha, a, lda, b, ldb, c, ldc, accumulate, workers)
		return
	}

	// A operand, read in place in either orientation; alpha is folded into
	// a scaled copy when it is not 1.
	aOp, ldaOp := a, lda
	if alpha != 1 {
		rows, cols := m, k
		if transA {
			rows, cols = k, m
		}
		buf := getFloats(rows * cols)
		defer putFloats(buf)
		aOp, ldaOp = *buf, cols
		for i := range rows {
			dst := aOp[i*cols : (i+1)*cols]
			for j, v := range a[i*lda : i*lda+cols] {
				dst[j] = alpha * v
			}
		}
	}

	// B operand: row-major k×n.
	bOp, ldbOp := b, ldb
	if transB {
		buf := getFloats(k * n)
		defer putFloats(buf)
		bOp, ldbOp = *buf, n
		transpose(n, k, b, ldb, bOp, n)
	}
	offsBuf := getInts(k)
	defer putInts(offsBuf)
	offs := *offsBuf
	for p := range offs {
		offs[p] = p * ldbOp
	}

	if m == 1 && !transA {
		// One output row: split its columns across workers.
		chunk := ceilDiv(ceilDiv(n, workers), 64) * 64
		parallelFor(workers, ceilDiv(n, chunk), func(t int) {
			j0 := t * chunk
			gemmRows(k, aOp, bOp[j0:], offs, c[j0:], min(chunk, n-j0), 1, 0, 0, accumulate, nil)
		})
		return
	}
	gemmOffsets(m, n, k, matA{data: aOp, ld: ldaOp, trans: transA}, bOp, offs, c, ldc, accumulate, nil, workers)
}

// swapRows is the row count of op(A) below which C = op(A)·Bᵀ is computed
// as Cᵀ = B·op(A)ᵀ, reading B in place instead of transposing it.
const swapRows = 64

// sgemmSwapped computes C (+)= alpha·op(A)·Bᵀ for B stored n×k, as
// Cᵀ = B·(alpha·op(A))ᵀ with B as the row-major left operand.
func sgemmSwapped(transA bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, workers int) {
	// Right operand op(A)ᵀ, k×m with row stride ldr.
	rhs, ldr := a, lda
	switch {
	case alpha != 1 || (!transA && m > 1):
		buf := getFloats(k * m)
		defer putFloats(buf)
		rhs, ldr = *buf, m
		for i := range m {
			for p := range k {
				if transA {
					rhs[p*m+i] = alpha * a[p*lda+i]
				} else {
					rhs[p*m+i] = alpha * a[i*lda+p]
				}
			}
		}
	case !transA: // m == 1: op(A)ᵀ is A's only row, one element per row
		ldr = 1
	}
	offsP := getInts(k)
	defer putInts(offsP)
	offs := *offsP
	for p := range offs {
		offs[p] = p * ldr
	}
	if m == 1 {
		gemmOffsets(n, 1, k, matA{data: b, ld: ldb}, rhs, offs, c, 1, accumulate, nil, workers)
		return
	}
	ctP := getFloats(n * m)
	defer putFloats(ctP)
	ct := *ctP
	gemmOffsets(n, m, k, matA{data: b, ld: ldb}, rhs, offs, ct, m, false, nil, workers)
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		for j := range row {
			if accumulate {
				row[j] += ct[j*m+i]
			} else {
				row[j] = ct[j*m+i]
			}
		}
	}
}

// checkMatrix panics unless s holds a rows×cols matrix with row stride ld.
func checkMatrix(name string, rows, cols int, s []float32, ld int) {
	if rows == 0 || cols == 0 {
		return
	}
	if ld < cols {
		panic(fmt.Sprintf("kernels.Sgemm: leading dimension of %s is %d, below its %d columns", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("kernels.Sgemm: %s has %d elements, needs %d", name, len(s), need))
	}
}

// scaleMatrix sets C = beta·C for an m×n matrix (C = 0 when beta is 0).
func scaleMatrix(m, n int, beta float32, c []float32, ldc int) {
	if beta == 1 {
		return
	}
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// transpose writes the transpose of the rows×cols matrix src (row stride
// lds) into dst (cols×rows, row stride ldd), in cache-sized blocks.
func transpose(rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	const blk = 32
	for i0 := 0; i0 < rows; i0 += blk {
		i1 := min(rows, i0+blk)
		for j0 := 0; j0 < cols; j0 += blk {
			j1 := min(cols, j0+blk)
			for i := i0; i < i1; i++ {
				s := src[i*lds+j0 : i*lds+j1]
				for j, v := range s {
					dst[(j0+j)*ldd+i] = v
				}
			}
		}
	}
}
