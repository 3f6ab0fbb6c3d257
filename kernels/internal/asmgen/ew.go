package main

import (
	. "github.com/mmcloughlin/avo/build"
	. "github.com/mmcloughlin/avo/operand"
	. "github.com/mmcloughlin/avo/reg"
)

// Element-wise kernels (AVX2, 8 lanes). Each processes n/8 blocks of 8
// elements; the Go wrappers handle the remaining n%8. They are memory bound,
// so 256-bit vectors serve AVX-512 machines as well.

// Comparison predicates of VCMPPS (dst = src1 OP src2).
const (
	cmpLTOQ  = 0x11 // less than, ordered, quiet: false for NaN
	cmpNEQUQ = 0x04 // not equal, unordered, quiet: true for NaN
)

// broadcastBits sets every lane of y to the 32-bit pattern bits.
func broadcastBits(bits uint32, y VecVirtual) {
	r := GP32()
	MOVL(U32(bits), r)
	x := XMM()
	VMOVD(r, x)
	VPBROADCASTD(x, y)
}

// reduceStore folds the 8 lanes of acc with op (VPMAXUD or VORPS on 32-bit
// patterns) and stores the result as return value i.
func reduceStore(acc VecVirtual, op func(ops ...Op), i int) {
	h, l := XMM(), acc.AsX()
	VEXTRACTI128(U8(1), acc, h)
	op(h, l, l)
	VPSHUFD(U8(0x4e), l, h)
	op(h, l, l)
	VPSHUFD(U8(0xb1), l, h)
	op(h, l, l)
	r := GP32()
	VMOVD(l, r)
	Store(r, ReturnIndex(i))
}

// advance moves every pointer to the next 8-element block and loops to
// label while blocks remain in n.
func advance(label string, n Register, ptrs ...Register) {
	for _, p := range ptrs {
		ADDQ(U8(32), p)
	}
	DECQ(n)
	JNZ(LabelRef(label))
}

// blocks loads n, turns it into a count of 8-element blocks and jumps to
// done when there is none.
func blocks(done string) Register {
	n := GP64()
	Load(Param("n"), n)
	SHRQ(U8(3), n)
	JZ(LabelRef(done))
	return n
}

func ewKernels() {
	bandAVX2()
	clampAVX2()
	combineAVX2()
	signFlipAVX2()
	splitSignAVX2()
	signMatchAVX2()
	nonZeroSignAVX2()
	sumF64AVX2("dotF64AVX2", true)
	sumF64AVX2("sumF64AVX2", false)
	maxAbsBitsAVX2()
	addScaledAVX2()
}

// addScaledAVX2: dst += src·f, the product rounded before the sum (no FMA,
// as the Go code).
func addScaledAVX2() {
	TEXT("addScaledAVX2", NOSPLIT, "func(dst *float32, src *float32, n int, f float32)")
	Pragma("noescape")
	Doc("addScaledAVX2 sets dst[i] += src[i]*f, rounding the product first, for i < n - n%8.")
	dst, src := Load(Param("dst"), GP64()), Load(Param("src"), GP64())
	f := YMM()
	VBROADCASTSS(NewParamAddr("f", 24), f)
	n := blocks("axpy_done")
	Label("axpy_loop")
	t := YMM()
	VMULPS(Mem{Base: src}, f, t)
	VADDPS(Mem{Base: dst}, t, t)
	VMOVUPS(t, Mem{Base: dst})
	advance("axpy_loop", n, dst, src)
	Label("axpy_done")
	VZEROUPPER()
	RET()
}

// bandAVX2: dst (+)= v where lo < x (and x < hi when upper), else 0.
func bandAVX2() {
	TEXT("bandAVX2", NOSPLIT, "func(dst *float32, v *float32, x *float32, n int, lo float32, hi float32, upper int, accumulate int)")
	Pragma("noescape")
	Doc("bandAVX2 sets dst[i] = (accumulate != 0 ? dst[i] : 0) + (lo < x[i] && (upper == 0 || x[i] < hi) ? v[i] : 0)",
		"for i < n - n%8; comparisons with NaN are false.")
	dst, v, x := Load(Param("dst"), GP64()), Load(Param("v"), GP64()), Load(Param("x"), GP64())
	lo, hi := YMM(), YMM()
	VBROADCASTSS(NewParamAddr("lo", 32), lo)
	VBROADCASTSS(NewParamAddr("hi", 36), hi)
	upper, acc := Load(Param("upper"), GP64()), Load(Param("accumulate"), GP64())
	n := blocks("band_done")
	variant := func(name string, withUpper, accumulate bool) {
		Label(name)
		xv, m, m2, r := YMM(), YMM(), YMM(), YMM()
		VMOVUPS(Mem{Base: x}, xv)
		VCMPPS(U8(cmpLTOQ), xv, lo, m) // lo < x
		if withUpper {
			VCMPPS(U8(cmpLTOQ), hi, xv, m2) // x < hi
			VANDPS(m2, m, m)
		}
		VANDPS(Mem{Base: v}, m, r)
		if accumulate {
			VADDPS(Mem{Base: dst}, r, r)
		}
		VMOVUPS(r, Mem{Base: dst})
		advance(name, n, dst, v, x)
		JMP(LabelRef("band_done"))
	}
	TESTQ(upper, upper)
	JNZ(LabelRef("band_upper"))
	TESTQ(acc, acc)
	JNZ(LabelRef("band_lower_acc"))
	variant("band_lower_set", false, false)
	variant("band_lower_acc", false, true)
	Label("band_upper")
	TESTQ(acc, acc)
	JNZ(LabelRef("band_upper_acc"))
	variant("band_upper_set", true, false)
	variant("band_upper_acc", true, true)
	Label("band_done")
	VZEROUPPER()
	RET()
}

// clampAVX2: y = min(max(x, lo), hi), NaN passing through.
func clampAVX2() {
	TEXT("clampAVX2", NOSPLIT, "func(y *float32, x *float32, n int, lo float32, hi float32)")
	Pragma("noescape")
	Doc("clampAVX2 sets y[i] = min(max(x[i], lo), hi) for i < n - n%8; a NaN x[i] gives NaN.")
	y, x := Load(Param("y"), GP64()), Load(Param("x"), GP64())
	lo, hi := YMM(), YMM()
	VBROADCASTSS(NewParamAddr("lo", 24), lo)
	VBROADCASTSS(NewParamAddr("hi", 28), hi)
	n := blocks("clamp_done")
	Label("clamp_loop")
	t := YMM()
	// MAXPS and MINPS return their second source when either is NaN.
	VMAXPS(Mem{Base: x}, lo, t)
	VMINPS(t, hi, t)
	VMOVUPS(t, Mem{Base: y})
	advance("clamp_loop", n, y, x)
	Label("clamp_done")
	VZEROUPPER()
	RET()
}

// combineAVX2: a = ½·1[x≠0]·(a ± sign(x)·b), returning max |a| as bits.
func combineAVX2() {
	TEXT("combineAVX2", NOSPLIT, "func(a *float32, b *float32, x *float32, n int, flip uint32) uint32")
	Pragma("noescape")
	Doc("combineAVX2 sets a[i] = 0.5·(a[i] + b[i] with its sign bit flipped by those of x[i] and flip), then 0 where",
		"x[i] is ±0, for i < n - n%8; it returns the largest bit pattern of |a[i]| (0 when n < 8).")
	a, b, x := Load(Param("a"), GP64()), Load(Param("b"), GP64()), Load(Param("x"), GP64())
	sign, half, flip, zero, top := YMM(), YMM(), YMM(), YMM(), YMM()
	broadcastBits(0x80000000, sign)
	broadcastBits(0x3f000000, half)
	fr := Load(Param("flip"), GP32())
	fx := XMM()
	VMOVD(fr, fx)
	VPBROADCASTD(fx, flip)
	VXORPS(zero, zero, zero)
	VXORPS(top, top, top)
	n := blocks("combine_done")
	Label("combine_loop")
	xv, s, v, m := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: x}, xv)
	VXORPS(flip, xv, s)
	VANDPS(sign, s, s)
	VXORPS(Mem{Base: b}, s, s)
	VADDPS(Mem{Base: a}, s, v)
	VMULPS(half, v, v)
	VCMPPS(U8(cmpNEQUQ), zero, xv, m) // x ≠ 0
	VANDPS(m, v, v)
	VMOVUPS(v, Mem{Base: a})
	VANDNPS(v, sign, v) // |v|: clear the sign bit
	VPMAXUD(v, top, top)
	advance("combine_loop", n, a, b, x)
	Label("combine_done")
	reduceStore(top, VPMAXUD, 0)
	VZEROUPPER()
	RET()
}

// signFlipAVX2: out = v with its sign flipped where y − c < 0.
func signFlipAVX2() {
	TEXT("signFlipAVX2", NOSPLIT, "func(out *float32, v *float32, y *float32, n int, c float32)")
	Pragma("noescape")
	Doc("signFlipAVX2 sets out[i] = v[i] with its sign bit flipped where y[i] - c < 0, for i < n - n%8.")
	out, v, y := Load(Param("out"), GP64()), Load(Param("v"), GP64()), Load(Param("y"), GP64())
	c, sign, zero := YMM(), YMM(), YMM()
	VBROADCASTSS(NewParamAddr("c", 32), c)
	broadcastBits(0x80000000, sign)
	VXORPS(zero, zero, zero)
	n := blocks("flip_done")
	Label("flip_loop")
	d, m := YMM(), YMM()
	VMOVUPS(Mem{Base: y}, d)
	VSUBPS(c, d, d)
	VCMPPS(U8(cmpLTOQ), zero, d, m) // y − c < 0
	VANDPS(sign, m, m)
	VXORPS(Mem{Base: v}, m, m)
	VMOVUPS(m, Mem{Base: out})
	advance("flip_loop", n, out, v, y)
	Label("flip_done")
	VZEROUPPER()
	RET()
}

// splitSignAVX2: pos, neg = v where y − c ≥ 0 (or NaN), v where y − c < 0.
func splitSignAVX2() {
	TEXT("splitSignAVX2", NOSPLIT, "func(pos *float32, neg *float32, v *float32, y *float32, n int, c float32) (posBits uint32, negBits uint32)")
	Pragma("noescape")
	Doc("splitSignAVX2 sets neg[i] = v[i] where y[i] - c < 0 and pos[i] = v[i] elsewhere, the other one 0, for",
		"i < n - n%8; it returns the OR of the bit patterns of pos and of neg.")
	pos, neg, v, y := Load(Param("pos"), GP64()), Load(Param("neg"), GP64()), Load(Param("v"), GP64()), Load(Param("y"), GP64())
	c, zero, orP, orN := YMM(), YMM(), YMM(), YMM()
	VBROADCASTSS(NewParamAddr("c", 40), c)
	VXORPS(zero, zero, zero)
	VXORPS(orP, orP, orP)
	VXORPS(orN, orN, orN)
	n := blocks("split_done")
	Label("split_loop")
	d, m, vv, p, q := YMM(), YMM(), YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: y}, d)
	VSUBPS(c, d, d)
	VCMPPS(U8(cmpLTOQ), zero, d, m) // y − c < 0
	VMOVUPS(Mem{Base: v}, vv)
	VANDPS(vv, m, q)  // neg
	VANDNPS(vv, m, p) // pos: v where not (y − c < 0)
	VMOVUPS(p, Mem{Base: pos})
	VMOVUPS(q, Mem{Base: neg})
	VORPS(p, orP, orP)
	VORPS(q, orN, orN)
	advance("split_loop", n, pos, neg, v, y)
	Label("split_done")
	reduceStore(orP, VORPS, 0)
	reduceStore(orN, VORPS, 1)
	VZEROUPPER()
	RET()
}

// signMatchAVX2: dst = v (sign flipped by neg) where z, its sign flipped by
// those of flip and of y < 0, is greater than 0; else 0.
func signMatchAVX2() {
	TEXT("signMatchAVX2", NOSPLIT, "func(dst *float32, v *float32, z *float32, y *float32, n int, flip uint32, neg uint32)")
	Pragma("noescape")
	Doc("signMatchAVX2 sets dst[i] = v[i] with its sign bit flipped by neg where z[i], its sign bit flipped by flip",
		"and where y[i] < 0, is greater than 0, and dst[i] = 0 elsewhere, for i < n - n%8.")
	dst, v, z, y := Load(Param("dst"), GP64()), Load(Param("v"), GP64()), Load(Param("z"), GP64()), Load(Param("y"), GP64())
	sign, flip, neg, zero := YMM(), YMM(), YMM(), YMM()
	broadcastBits(0x80000000, sign)
	for _, b := range []struct {
		name string
		reg  VecVirtual
	}{{"flip", flip}, {"neg", neg}} {
		r := Load(Param(b.name), GP32())
		x := XMM()
		VMOVD(r, x)
		VPBROADCASTD(x, b.reg)
	}
	VXORPS(zero, zero, zero)
	n := blocks("match_done")
	Label("match_loop")
	m, t, out := YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: y}, m)
	VCMPPS(U8(cmpLTOQ), zero, m, m) // y < 0
	VANDPS(sign, m, m)
	VXORPS(Mem{Base: z}, m, t)
	VXORPS(flip, t, t)
	VCMPPS(U8(cmpLTOQ), t, zero, t) // 0 < z', false for ±0 and NaN
	VXORPS(Mem{Base: v}, neg, out)
	VANDPS(t, out, out)
	VMOVUPS(out, Mem{Base: dst})
	advance("match_loop", n, dst, v, z, y)
	Label("match_done")
	VZEROUPPER()
	RET()
}

// nonZeroSignAVX2: v = 0 where x is ±0, else v with its sign bit flipped
// by x's sign bit masked with sign.
func nonZeroSignAVX2() {
	TEXT("nonZeroSignAVX2", NOSPLIT, "func(v *float32, x *float32, n int, sign uint32)")
	Pragma("noescape")
	Doc("nonZeroSignAVX2 sets v[i] = 0 where x[i] is ±0 and otherwise flips the sign bit of v[i] by that of x[i]",
		"masked with sign, for i < n - n%8; a NaN x[i] counts as non-zero.")
	v, x := Load(Param("v"), GP64()), Load(Param("x"), GP64())
	sign, zero := YMM(), YMM()
	r := Load(Param("sign"), GP32())
	sx := XMM()
	VMOVD(r, sx)
	VPBROADCASTD(sx, sign)
	VXORPS(zero, zero, zero)
	n := blocks("nzs_done")
	Label("nzs_loop")
	xv, m, s, out := YMM(), YMM(), YMM(), YMM()
	VMOVUPS(Mem{Base: x}, xv)
	VCMPPS(U8(cmpNEQUQ), zero, xv, m) // x ≠ 0
	VANDPS(sign, xv, s)
	VXORPS(Mem{Base: v}, s, out)
	VANDPS(m, out, out)
	VMOVUPS(out, Mem{Base: v})
	advance("nzs_loop", n, v, x)
	Label("nzs_done")
	VZEROUPPER()
	RET()
}

// sumF64AVX2 generates name: Σ a[i]·b[i] (dot) or Σ a[i] in float64, with
// element i added to lane i%8 (fused multiply-add for dot) and the lanes
// folded as (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1.
func sumF64AVX2(name string, dot bool) {
	sig, what := "func(a *float32, n int) float64", "a[i]"
	if dot {
		sig, what = "func(a *float32, b *float32, n int) float64", "a[i]·b[i]"
	}
	TEXT(name, NOSPLIT, sig)
	Pragma("noescape")
	Doc(name+" returns the float64 sum of "+what+" for i < n - n%8, element i in lane i%8 of eight partial",
		"sums (fused multiply-adds for a product), folded as (0+4, 1+5, 2+6, 3+7), then (0+2, 1+3), then 0+1.")
	a := Load(Param("a"), GP64())
	var b Register
	if dot {
		b = Load(Param("b"), GP64())
	}
	lo, hi := YMM(), YMM()
	VXORPD(lo, lo, lo)
	VXORPD(hi, hi, hi)
	n := blocks(name + "_done")
	Label(name + "_loop")
	for k, acc := range []VecVirtual{lo, hi} {
		x := YMM()
		VCVTPS2PD(Mem{Base: a, Disp: 16 * k}, x)
		if dot {
			y := YMM()
			VCVTPS2PD(Mem{Base: b, Disp: 16 * k}, y)
			VFMADD231PD(x, y, acc)
		} else {
			VADDPD(x, acc, acc)
		}
	}
	if dot {
		advance(name+"_loop", n, a, b)
	} else {
		advance(name+"_loop", n, a)
	}
	Label(name + "_done")
	VADDPD(hi, lo, lo)
	h, l := XMM(), lo.AsX()
	VEXTRACTF128(U8(1), lo, h)
	VADDPD(h, l, l)
	VPERMILPD(U8(1), l, h)
	VADDSD(h, l, l)
	Store(l, ReturnIndex(0))
	VZEROUPPER()
	RET()
}

// maxAbsBitsAVX2 returns the largest bit pattern of |x|.
func maxAbsBitsAVX2() {
	TEXT("maxAbsBitsAVX2", NOSPLIT, "func(x *float32, n int) uint32")
	Pragma("noescape")
	Doc("maxAbsBitsAVX2 returns the largest bit pattern of |x[i]| (x[i] with its sign bit cleared) for i < n - n%8.")
	x := Load(Param("x"), GP64())
	sign, acc := YMM(), YMM()
	broadcastBits(0x80000000, sign)
	VXORPS(acc, acc, acc)
	n := blocks("maxabs_done")
	Label("maxabs_loop")
	v := YMM()
	VANDNPS(Mem{Base: x}, sign, v)
	VPMAXUD(v, acc, acc)
	advance("maxabs_loop", n, x)
	Label("maxabs_done")
	reduceStore(acc, VPMAXUD, 0)
	VZEROUPPER()
	RET()
}
