// Command asmgen generates the amd64 assembly micro-kernels of package
// kernels. Run it through `go generate` in the kernels directory.
//
// Every kernel computes one register tile of C = A·B:
//
//	C[i][j] (+)= bias[i] + Σ_p A(i, p) · B[offs[p] + j]   for i < rows, j < cols, p < kOuter·kInner
//
// where a nil bias counts as zeros. The depth runs in kOuter runs of kInner
// steps; after run r the A pointer skips jumps[r] more elements (aJump
// when jumps is nil), so with uniform jumps
// A(i, p) = a[i*lda + (p/kInner)*(kInner+aJump) + p%kInner].
// A is read in place: row-major with rows lda elements apart, or, for the
// "T" kernels, column-major (A[i][p] at a[p*lda + i]). B is read through a
// table of row offsets, so plain matrices (offs[p] = p*ldb) and shifted
// views of a padded image (implicit im2col) share one kernel.
package main

import (
	"fmt"

	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Tile geometry; must match the constants in kernels/gemm_amd64.go.
const (
	avx512Rows = 12 // rows of the AVX-512 tile (2 zmm accumulators per row)
	avx2Rows   = 6  // rows of the AVX2 tile (2 ymm accumulators per row)
	unroll     = 4  // k-loop unrolling
)

const (
	tileSignature = "func(kOuter int, kInner int, a *float32, lda int, aJump int, jumps *int, b *float32, offs *int, c *float32, ldc int, cols int, accumulate int, bias *float32)"
	rowSignature  = "func(k int, a *float32, b *float32, offs *int, c *float32, n int, rows int, ldb int, ldc int, accumulate int, bias *float32)"
)

func main() {
	ConstraintExpr("amd64,!purego")
	for _, trans := range []bool{false, true} {
		for r := 1; r <= avx512Rows; r++ {
			avx512Kernel(r, trans)
		}
		for r := 1; r <= avx2Rows; r++ {
			avx2Kernel(r, trans)
		}
	}
	rowKernel("rowAVX512", true)
	rowKernel("rowAVX2", false)
	gatherAVX512()
	scatterAdd2AVX512()
	maxRowAVX512(false)
	maxRowAVX512(true)
	ewKernels()
	Generate()
}

// aAddr returns the address of A[row][u] within the current unrolled block.
// Row-major A: bases point at rows 0, 3, 6, 9 and ldaReg holds lda in bytes.
// Column-major A (trans): bases[0] points at the block's current column.
func aAddr(trans bool, bases []Register, ldaReg Register, row, u int) Mem {
	if trans {
		return Mem{Base: bases[0], Disp: 4 * row}
	}
	m := Mem{Base: bases[row/3], Disp: 4 * u}
	if row%3 != 0 {
		m = m.Idx(ldaReg, uint8(row%3))
	}
	return m
}

// loadArgs loads the common arguments and returns the A base registers.
func loadArgs(rows int, trans bool) (kReg, ldaReg Register, bases []Register, bReg, offsReg, cReg, ldcReg Register) {
	kReg, ldaReg, bReg, offsReg, cReg, ldcReg = RCX, RDX, RDI, RBX, R12, R13
	Load(Param("lda"), ldaReg)
	SHLQ(U8(2), ldaReg)
	baseRegs := []Register{RSI, R8, R9, R10}
	Load(Param("a"), RSI)
	for j := 1; j*3 < rows && !trans; j++ {
		// base j = base j-1 + 3*lda
		LEAQ(Mem{Base: baseRegs[j-1], Index: ldaReg, Scale: 2}, baseRegs[j])
		ADDQ(ldaReg, baseRegs[j])
	}
	bases = baseRegs[:(rows+2)/3]
	Load(Param("b"), bReg)
	Load(Param("offs"), offsReg)
	Load(Param("c"), cReg)
	Load(Param("ldc"), ldcReg)
	SHLQ(U8(2), ldcReg)
	return
}

func avx512Kernel(rows int, trans bool) {
	name := fmt.Sprintf("tileAVX512x%d", rows)
	if trans {
		name = fmt.Sprintf("tileAVX512Tx%d", rows)
	}
	TEXT(name, NOSPLIT, tileSignature)
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx32 tile with AVX-512%s; cols in [1,32] selects the columns read and written.", name, rows, transDoc(trans)))
	kReg, ldaReg, bases, bReg, offsReg, cReg, ldcReg := loadArgs(rows, trans)

	// Column masks: K1 covers columns 0-15, K2 columns 16-31.
	Load(Param("cols"), RAX)
	MOVQ(U32(1), R11)
	SHLXQ(RAX, R11, R11) // cols <= 32, so no overflow
	DECQ(R11)
	KMOVD(R11.As32(), K1)
	KSHIFTRD(U8(16), K1, K2)

	acc := make([][2]VecPhysical, rows)
	for i := range acc {
		acc[i] = [2]VecPhysical{zmm(2 * i), zmm(2*i + 1)}
	}
	initAccumulators(name, acc, func(v VecPhysical) { VPXORD(v, v, v) })
	bVec := [2][2]VecPhysical{{Z24, Z25}, {Z26, Z27}}
	bcast := []VecPhysical{Z28, Z29, Z30, Z31}

	step := func(u int) {
		off := RAX
		if u%2 == 1 {
			off = R11
		}
		MOVQ(Mem{Base: offsReg, Disp: 8 * u}, off)
		bv := bVec[u%2]
		VMOVUPS_Z(Mem{Base: bReg, Index: off, Scale: 4}, K1, bv[0])
		VMOVUPS_Z(Mem{Base: bReg, Index: off, Scale: 4, Disp: 64}, K2, bv[1])
		for i := 0; i < rows; i++ {
			t := bcast[i%len(bcast)]
			VBROADCASTSS(aAddr(trans, bases, ldaReg, i, u), t)
			VFMADD231PS(bv[0], t, acc[i][0])
			VFMADD231PS(bv[1], t, acc[i][1])
		}
		if trans {
			// Column-major A is read in place with a large stride that
			// hardware prefetchers miss: fetch the line the next tiles need.
			PREFETCHT0(Mem{Base: bases[0], Disp: 64})
			ADDQ(ldaReg, bases[0])
		}
	}
	kLoop(name, trans, kReg, offsReg, bases, step)

	// Store: C (+)= acc.
	Load(Param("accumulate"), RAX)
	for i := 0; i < rows; i++ {
		c0 := Mem{Base: cReg}
		c1 := Mem{Base: cReg, Disp: 64}
		TESTQ(RAX, RAX)
		JE(LabelRef(fmt.Sprintf("%s_store%d", name, i)))
		VADDPS_Z(c0, acc[i][0], K1, acc[i][0])
		VADDPS_Z(c1, acc[i][1], K2, acc[i][1])
		Label(fmt.Sprintf("%s_store%d", name, i))
		VMOVUPS(acc[i][0], K1, c0)
		VMOVUPS(acc[i][1], K2, c1)
		if i+1 < rows {
			ADDQ(ldcReg, cReg)
		}
	}
	VZEROUPPER()
	RET()
}

func avx2Kernel(rows int, trans bool) {
	name := fmt.Sprintf("tileAVX2x%d", rows)
	if trans {
		name = fmt.Sprintf("tileAVX2Tx%d", rows)
	}
	TEXT(name, NOSPLIT, tileSignature)
	Pragma("noescape")
	Doc(fmt.Sprintf("%s computes a %dx16 tile with AVX2 and FMA%s; cols must be 16.", name, rows, transDoc(trans)))
	kReg, ldaReg, bases, bReg, offsReg, cReg, ldcReg := loadArgs(rows, trans)

	acc := make([][2]VecPhysical, rows)
	for i := range acc {
		acc[i] = [2]VecPhysical{ymm(2 * i), ymm(2*i + 1)}
	}
	initAccumulators(name, acc, func(v VecPhysical) { VXORPS(v, v, v) })
	bv := [2]VecPhysical{Y12, Y13}
	bcast := []VecPhysical{Y14, Y15}

	step := func(u int) {
		MOVQ(Mem{Base: offsReg, Disp: 8 * u}, RAX)
		VMOVUPS(Mem{Base: bReg, Index: RAX, Scale: 4}, bv[0])
		VMOVUPS(Mem{Base: bReg, Index: RAX, Scale: 4, Disp: 32}, bv[1])
		for i := 0; i < rows; i++ {
			t := bcast[i%len(bcast)]
			VBROADCASTSS(aAddr(trans, bases, ldaReg, i, u), t)
			VFMADD231PS(bv[0], t, acc[i][0])
			VFMADD231PS(bv[1], t, acc[i][1])
		}
		if trans {
			ADDQ(ldaReg, bases[0])
		}
	}
	kLoop(name, trans, kReg, offsReg, bases, step)

	Load(Param("accumulate"), RAX)
	for i := 0; i < rows; i++ {
		c0 := Mem{Base: cReg}
		c1 := Mem{Base: cReg, Disp: 32}
		TESTQ(RAX, RAX)
		JE(LabelRef(fmt.Sprintf("%s_store%d", name, i)))
		VADDPS(c0, acc[i][0], acc[i][0])
		VADDPS(c1, acc[i][1], acc[i][1])
		Label(fmt.Sprintf("%s_store%d", name, i))
		VMOVUPS(acc[i][0], c0)
		VMOVUPS(acc[i][1], c1)
		if i+1 < rows {
			ADDQ(ldcReg, cReg)
		}
	}
	VZEROUPPER()
	RET()
}

// rowKernel emits a one-row-of-A kernel over a 2-D block of B and C:
//
//	c[r*ldc + j] (+)= bias[0] + Σ_{p<k} a[p]·b[offs[p] + r*ldb + j]   for r < rows
//
// and j < n (AVX-512), or j < n − n%8 (AVX2, which leaves the last columns
// of every row to the caller). Columns go in chunks of `chunks` vector
// widths, the widest first, so long rows keep many independent accumulators.
func rowKernel(name string, avx512 bool) {
	TEXT(name, NOSPLIT, rowSignature)
	Pragma("noescape")
	if avx512 {
		Doc(name + " computes c[r*ldc+j] (+)= bias[0] + Σ_{p<k} a[p]·b[offs[p]+r*ldb+j] for r < rows, j < n with AVX-512 (nil bias: 0).")
	} else {
		Doc(name + " computes c[r*ldc+j] (+)= bias[0] + Σ_{p<k} a[p]·b[offs[p]+r*ldb+j] for r < rows, j < n − n%8 with AVX2 and FMA (nil bias: 0).")
	}
	a, b, offs, c, n, acc := RSI, RDI, RBX, R12, R13, R14
	rowsLeft, bRow, cRow := R9, R10, R11
	Load(Param("a"), a)
	Load(Param("offs"), offs)
	Load(Param("accumulate"), acc)
	Load(Param("rows"), rowsLeft)
	Load(Param("b"), bRow)
	Load(Param("c"), cRow)
	Label(name + "_row")
	TESTQ(rowsLeft, rowsLeft)
	JE(LabelRef(name + "_done"))
	MOVQ(bRow, b)
	MOVQ(cRow, c)
	Load(Param("n"), n)

	vecs := func(first, count int) []VecPhysical {
		all := []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17,
			Z18, Z19, Z20, Z21, Z22, Z23, Z24, Z25, Z26}
		if !avx512 {
			all = []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11, Y12, Y13, Y14, Y15}
		}
		return all[first : first+count]
	}
	lanes, width := 16, 64
	chunks := []int{8, 4} // vectors per chunk; the last one is masked (AVX-512)
	if !avx512 {
		lanes, width = 8, 32
		chunks = []int{4, 1}
	}
	for ci, nv := range chunks {
		label := fmt.Sprintf("%s_c%d", name, nv)
		masked := avx512 && ci == len(chunks)-1
		accs, bv := vecs(0, nv), vecs(nv+1, nv)
		bc := vecs(nv, 1)[0]
		masks := []Register{K1, K2, K3, K4}
		Label(label)
		if masked {
			TESTQ(n, n)
			JLE(LabelRef(name + "_next"))
			// masks for min(n, 64) columns (BZHI reads only the low 8 index bits)
			MOVQ(U32(64), R8)
			CMPQ(n, R8)
			CMOVQLT(n, R8)
			MOVQ(I32(-1), RAX)
			BZHIQ(R8, RAX, RAX)
			KMOVQ(RAX, K1)
			KSHIFTRQ(U8(16), K1, K2)
			KSHIFTRQ(U8(32), K1, K3)
			KSHIFTRQ(U8(48), K1, K4)
		} else {
			next := name + "_next"
			if ci+1 < len(chunks) {
				next = fmt.Sprintf("%s_c%d", name, chunks[ci+1])
			}
			CMPQ(n, U32(lanes*nv))
			JL(LabelRef(next))
		}
		Load(Param("bias"), RAX)
		TESTQ(RAX, RAX)
		JE(LabelRef(label + "_zero"))
		VBROADCASTSS(Mem{Base: RAX}, accs[0])
		for v := 1; v < nv; v++ {
			VMOVAPS(accs[0], accs[v])
		}
		JMP(LabelRef(label + "_init"))
		Label(label + "_zero")
		for _, v := range accs {
			VXORPS(v, v, v)
		}
		Label(label + "_init")
		Load(Param("k"), RCX)
		XORQ(RDX, RDX)
		// tap p into accumulators acc using B registers bregs and
		// broadcast register bcr
		tap := func(acc, bregs []VecPhysical, bcr VecPhysical, disp int) {
			MOVQ(Mem{Base: offs, Index: RDX, Scale: 8, Disp: 8 * disp}, RAX)
			VBROADCASTSS(Mem{Base: a, Index: RDX, Scale: 4, Disp: 4 * disp}, bcr)
			for v := range acc {
				m := Mem{Base: b, Index: RAX, Scale: 4, Disp: width * v}
				if masked {
					VMOVUPS_Z(m, masks[v], bregs[v])
				} else {
					VMOVUPS(m, bregs[v])
				}
				VFMADD231PS(bregs[v], bcr, acc[v])
			}
		}
		if masked {
			// Two taps per step into two accumulator sets (odd taps in
			// acc2), so a short chunk still has eight independent chains.
			acc2, bv2, bc2 := vecs(18, nv), vecs(22, nv), Z26
			for _, v := range acc2 {
				VXORPS(v, v, v)
			}
			DECQ(RCX)
			Label(label + "_k2")
			CMPQ(RDX, RCX)
			JGE(LabelRef(label + "_k1"))
			tap(accs, bv, bc, 0)
			tap(acc2, bv2, bc2, 1)
			ADDQ(U8(2), RDX)
			JMP(LabelRef(label + "_k2"))
			Label(label + "_k1")
			INCQ(RCX)
			CMPQ(RDX, RCX)
			JGE(LabelRef(label + "_sum"))
			tap(accs, bv, bc, 0)
			Label(label + "_sum")
			for v := range accs {
				VADDPS(acc2[v], accs[v], accs[v])
			}
		} else {
			Label(label + "_k")
			tap(accs, bv, bc, 0)
			INCQ(RDX)
			CMPQ(RDX, RCX)
			JL(LabelRef(label + "_k"))
		}
		TESTQ(acc, acc)
		JE(LabelRef(label + "_store"))
		for v := range accs {
			m := Mem{Base: c, Disp: width * v}
			if masked {
				VADDPS_Z(m, accs[v], masks[v], accs[v])
			} else {
				VADDPS(m, accs[v], accs[v])
			}
		}
		Label(label + "_store")
		for v := range accs {
			m := Mem{Base: c, Disp: width * v}
			if masked {
				VMOVUPS(accs[v], masks[v], m)
			} else {
				VMOVUPS(accs[v], m)
			}
		}
		ADDQ(U32(width*nv), b)
		ADDQ(U32(width*nv), c)
		SUBQ(U32(lanes*nv), n)
		JMP(LabelRef(label))
	}
	Label(name + "_next")
	Load(Param("ldb"), RAX)
	SHLQ(U8(2), RAX)
	ADDQ(RAX, bRow)
	Load(Param("ldc"), RAX)
	SHLQ(U8(2), RAX)
	ADDQ(RAX, cRow)
	DECQ(rowsLeft)
	JMP(LabelRef(name + "_row"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// initAccumulators sets row i of the accumulators to bias[i], or to zero
// when the bias argument is nil. It uses RAX.
func initAccumulators(name string, acc [][2]VecPhysical, zero func(VecPhysical)) {
	Load(Param("bias"), RAX)
	TESTQ(RAX, RAX)
	JE(LabelRef(name + "_zero"))
	for i := range acc {
		VBROADCASTSS(Mem{Base: RAX, Disp: 4 * i}, acc[i][0])
		VMOVAPS(acc[i][0], acc[i][1])
	}
	JMP(LabelRef(name + "_init"))
	Label(name + "_zero")
	for i := range acc {
		zero(acc[i][0])
		zero(acc[i][1])
	}
	Label(name + "_init")
}

func transDoc(trans bool) string {
	if trans {
		return " from column-major A"
	}
	return ""
}

// gatherAVX512 emits gatherStridedAVX512: dst[j] = src[j*stride], j < n.
func gatherAVX512() {
	iota := GLOBL("stridedIota", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(i))
	}
	TEXT("gatherStridedAVX512", NOSPLIT, "func(dst *float32, src *float32, n int, stride int)")
	Pragma("noescape")
	Doc("gatherStridedAVX512 sets dst[j] = src[j*stride] for j < n (n·stride < 2³¹).")
	dst, src, n, stride := RDI, RSI, RCX, RDX
	Load(Param("dst"), dst)
	Load(Param("src"), src)
	Load(Param("n"), n)
	Load(Param("stride"), stride)
	VPBROADCASTD(stride.As32(), Z1)
	VPMULLD(iota, Z1, Z1) // lane indices 0, stride, 2·stride, …
	step := R8            // bytes spanned by 16 strided elements
	MOVQ(stride, step)
	SHLQ(U8(6), step)
	at := Mem{Base: src, Index: Z1, Scale: 4}
	Label("gather_loop")
	CMPQ(n, U8(16))
	JL(LabelRef("gather_tail"))
	KXNORW(K1, K1, K1) // the gather consumes its mask
	VGATHERDPS(at, K1, Z0)
	VMOVUPS(Z0, Mem{Base: dst})
	ADDQ(step, src)
	ADDQ(U8(64), dst)
	SUBQ(U8(16), n)
	JMP(LabelRef("gather_loop"))
	Label("gather_tail")
	TESTQ(n, n)
	JE(LabelRef("gather_done"))
	MOVQ(U32(1), RAX)
	SHLXQ(n, RAX, RAX)
	DECQ(RAX)
	KMOVW(EAX, K1)
	KMOVW(EAX, K2)
	VGATHERDPS(at, K1, Z0)
	VMOVUPS(Z0, K2, Mem{Base: dst})
	Label("gather_done")
	VZEROUPPER()
	RET()
}

// scatterAdd2AVX512 emits scatterAdd2AVX512, a stride-2 scatter-add over
// a block of rows: dst[r*ldd + 2j] += src[r*lds + j] for r < rows, j < n.
// Each 16 sources are spread over the even lanes of two vectors of dst with
// permutes and merge-masked adds; masks keep every access within
// dst[r*ldd : r*ldd + 2n − 1].
func scatterAdd2AVX512() {
	lo := GLOBL("spreadLo", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(i/2))
	}
	hi := GLOBL("spreadHi", RODATA|NOPTR)
	for i := range 16 {
		DATA(4*i, U32(8+i/2))
	}
	TEXT("scatterAdd2AVX512", NOSPLIT, "func(dst *float32, src *float32, n int, rows int, ldd int, lds int)")
	Pragma("noescape")
	Doc("scatterAdd2AVX512 sets dst[r*ldd + 2j] += src[r*lds + j] for r < rows, j < n (n ≥ 1).")
	dst, src, rem, rowsLeft, dRow, sRow := RDI, RSI, RCX, R9, R10, R11
	Load(Param("dst"), dRow)
	Load(Param("src"), sRow)
	Load(Param("rows"), rowsLeft)
	VMOVDQU32(lo, Z4)
	VMOVDQU32(hi, Z5)
	MOVL(U32(0x5555), EAX)
	KMOVW(EAX, K1) // even lanes
	Label("spread_row")
	TESTQ(rowsLeft, rowsLeft)
	JE(LabelRef("spread_done"))
	MOVQ(dRow, dst)
	MOVQ(sRow, src)
	Load(Param("n"), rem)
	Label("spread_chunk")
	TESTQ(rem, rem)
	JLE(LabelRef("spread_next"))
	// source mask: min(rem, 16) lanes; destination: 2·min(rem, 16) − 1 lanes
	MOVQ(U32(16), R8)
	CMPQ(rem, R8)
	CMOVQLT(rem, R8)
	MOVQ(I32(-1), RAX)
	BZHIQ(R8, RAX, RDX)
	KMOVW(EDX, K2)
	LEAQ(Mem{Base: R8, Index: R8, Scale: 1, Disp: -1}, R8)
	BZHIQ(R8, RAX, RDX)
	KMOVW(EDX, K3) // dst lanes 0-15
	SHRQ(U8(16), RDX)
	KMOVW(EDX, K4) // dst lanes 16-31
	VMOVUPS_Z(Mem{Base: src}, K2, Z0)
	VPERMPS(Z0, Z4, Z1)
	VPERMPS(Z0, Z5, Z2)
	VMOVUPS_Z(Mem{Base: dst}, K3, Z6)
	VMOVUPS_Z(Mem{Base: dst, Disp: 64}, K4, Z7)
	VADDPS(Z1, Z6, K1, Z6)
	VADDPS(Z2, Z7, K1, Z7)
	VMOVUPS(Z6, K3, Mem{Base: dst})
	VMOVUPS(Z7, K4, Mem{Base: dst, Disp: 64})
	ADDQ(U8(64), src)
	ADDQ(U32(128), dst)
	SUBQ(U8(16), rem)
	JMP(LabelRef("spread_chunk"))
	Label("spread_next")
	Load(Param("ldd"), RAX)
	SHLQ(U8(2), RAX)
	ADDQ(RAX, dRow)
	Load(Param("lds"), RAX)
	SHLQ(U8(2), RAX)
	ADDQ(RAX, sRow)
	DECQ(rowsLeft)
	JMP(LabelRef("spread_row"))
	Label("spread_done")
	VZEROUPPER()
	RET()
}

// maxRowAVX512 emits the max-pooling row kernels:
//
//	c[j] = max_{p<k} b[offs[p] + j]   for j < n
//
// taking taps in order with a strict comparison (a NaN is kept only when it
// comes first), and, with argmax, idx[j] = base[j] + tap[p] for the first
// maximising p, or -1 when no tap exceeds -Inf. 64 columns at a time, the
// last chunk masked.
func maxRowAVX512(argmax bool) {
	name, sig := "maxRowAVX512", "func(k int, b *float32, offs *int, c *float32, n int)"
	if argmax {
		name, sig = "argmaxRowAVX512", "func(k int, b *float32, offs *int, c *float32, n int, tap *int32, base *int32, idx *int32)"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	if argmax {
		Doc(name + " sets c[j] = max_{p<k} b[offs[p]+j] and idx[j] = base[j] + tap[p] of the first maximising p (-1 if none exceeds -Inf), j < n.")
	} else {
		Doc(name + " sets c[j] = max_{p<k} b[offs[p]+j] for j < n, taking taps in order (a NaN is kept only when first).")
	}
	b, offs, c, n := RDI, RBX, R12, R13
	Load(Param("b"), b)
	Load(Param("offs"), offs)
	Load(Param("c"), c)
	Load(Param("n"), n)
	var tap, base, idx Register
	if argmax {
		tap, base, idx = R8, R9, R10
		Load(Param("tap"), tap)
		Load(Param("base"), base)
		Load(Param("idx"), idx)
	}
	masks := []Register{K1, K2, K3, K4}
	acc := []VecPhysical{Z0, Z1, Z2, Z3}
	val := []VecPhysical{Z4, Z5, Z6, Z7}
	accIdx := []VecPhysical{Z8, Z9, Z10, Z11}
	baseV := []VecPhysical{Z12, Z13, Z14, Z15}
	cand := []VecPhysical{Z16, Z17, Z18, Z19}
	negInf, tapV, minusOne := Z20, Z21, Z22
	MOVL(U32(0xff800000), EAX)
	VPBROADCASTD(EAX, negInf)
	MOVL(I32(-1), EAX)
	VPBROADCASTD(EAX, minusOne)

	Label(name + "_chunk")
	TESTQ(n, n)
	JLE(LabelRef(name + "_done"))
	// masks for min(n, 64) columns (BZHI reads only the low 8 index bits)
	MOVQ(U32(64), R11)
	CMPQ(n, R11)
	CMOVQLT(n, R11)
	MOVQ(I32(-1), RAX)
	BZHIQ(R11, RAX, RAX)
	KMOVQ(RAX, K1)
	KSHIFTRQ(U8(16), K1, K2)
	KSHIFTRQ(U8(32), K1, K3)
	KSHIFTRQ(U8(48), K1, K4)
	for v := range acc {
		VMOVAPS(negInf, acc[v])
		if argmax {
			VMOVDQA32(minusOne, accIdx[v])
			VMOVDQU32_Z(Mem{Base: base, Disp: 64 * v}, masks[v], baseV[v])
		}
	}
	Load(Param("k"), RCX)
	XORQ(RDX, RDX)
	Label(name + "_k")
	MOVQ(Mem{Base: offs, Index: RDX, Scale: 8}, RAX)
	if argmax {
		VPBROADCASTD(Mem{Base: tap, Index: RDX, Scale: 4}, tapV)
	}
	for v := range acc {
		VMOVUPS_Z(Mem{Base: b, Index: RAX, Scale: 4, Disp: 64 * v}, masks[v], val[v])
		if !argmax {
			VMAXPS(acc[v], val[v], acc[v]) // acc = val > acc ? val : acc
			continue
		}
		gt := []Register{K5, K6, K7, K5}[v]
		VCMPPS(U8(0x1e), acc[v], val[v], gt) // val > acc (ordered)
		VMOVAPS(val[v], gt, acc[v])
		VPADDD(tapV, baseV[v], cand[v])
		VMOVDQA32(cand[v], gt, accIdx[v])
	}
	INCQ(RDX)
	CMPQ(RDX, RCX)
	JL(LabelRef(name + "_k"))
	for v := range acc {
		VMOVUPS(acc[v], masks[v], Mem{Base: c, Disp: 64 * v})
		if argmax {
			VMOVDQU32(accIdx[v], masks[v], Mem{Base: idx, Disp: 64 * v})
		}
	}
	ADDQ(U32(256), b)
	ADDQ(U32(256), c)
	if argmax {
		ADDQ(U32(256), base)
		ADDQ(U32(256), idx)
	}
	SUBQ(U8(64), n)
	JMP(LabelRef(name + "_chunk"))
	Label(name + "_done")
	VZEROUPPER()
	RET()
}

// kLoop emits the depth loop: kOuter runs of kInner steps, each run
// unrolled by `unroll`, calling step(u) for the u-th step of an unrolled
// block; step addresses the offset table with displacement 8u and row-major
// A with displacement 4u, while column-major A (trans) is advanced by step
// itself. After run r the A bases skip jumps[r] elements, or aJump when
// jumps is nil (the pointer argument is advanced in place). Uses RAX, R11,
// R14.
func kLoop(name string, trans bool, kReg, offsReg Register, bases []Register, step func(u int)) {
	jumpBases := bases
	if trans {
		bases = nil
	}
	Load(Param("kOuter"), R14)
	Label(name + "_run")
	Load(Param("kInner"), kReg)
	Label(name + "_block")
	CMPQ(kReg, U8(unroll))
	JL(LabelRef(name + "_tail"))
	for u := 0; u < unroll; u++ {
		step(u)
	}
	ADDQ(U8(8*unroll), offsReg)
	for _, r := range bases {
		ADDQ(U8(4*unroll), r)
	}
	SUBQ(U8(unroll), kReg)
	JMP(LabelRef(name + "_block"))

	Label(name + "_tail")
	TESTQ(kReg, kReg)
	JE(LabelRef(name + "_done"))
	step(0)
	ADDQ(U8(8), offsReg)
	for _, r := range bases {
		ADDQ(U8(4), r)
	}
	DECQ(kReg)
	JMP(LabelRef(name + "_tail"))
	Label(name + "_done")
	Load(Param("jumps"), RAX)
	TESTQ(RAX, RAX)
	JE(LabelRef(name + "_uniform"))
	MOVQ(Mem{Base: RAX}, R11)
	ADDQ(U8(8), RAX)
	Store(RAX, Param("jumps"))
	JMP(LabelRef(name + "_jump"))
	Label(name + "_uniform")
	Load(Param("aJump"), R11)
	Label(name + "_jump")
	SHLQ(U8(2), R11)
	for _, r := range jumpBases {
		ADDQ(R11, r)
	}
	DECQ(R14)
	JNZ(LabelRef(name + "_run"))
}

func zmm(i int) VecPhysical {
	return []VecPhysical{Z0, Z1, Z2, Z3, Z4, Z5, Z6, Z7, Z8, Z9, Z10, Z11, Z12, Z13, Z14, Z15, Z16, Z17, Z18, Z19, Z20, Z21, Z22, Z23}[i]
}
func ymm(i int) VecPhysical {
	return []VecPhysical{Y0, Y1, Y2, Y3, Y4, Y5, Y6, Y7, Y8, Y9, Y10, Y11}[i]
}
