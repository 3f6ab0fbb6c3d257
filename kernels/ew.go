package kernels

import "math"

// Element-wise kernels of the forward and backward passes. They work on
// whole slices in the calling goroutine (callers split large tensors), run
// eight lanes at a time where the CPU has AVX2, and give bit-identical
// results on every path.

const signBit = 1 << 31

// ewKernels are the vector bodies of the element-wise kernels; each
// handles the first n − n%8 elements, the Go code the rest. Nil members
// leave everything to Go.
type ewKernels struct {
	band     func(dst, v, x *float32, n int, lo, hi float32, upper, accumulate int)
	clamp    func(y, x *float32, n int, lo, hi float32)
	combine  func(a, b, x *float32, n int, flip uint32) uint32
	signFlip func(out, v, y *float32, n int, c float32)
	split    func(pos, neg, v, y *float32, n int, c float32) (uint32, uint32)
	match    func(dst, v, z, y *float32, n int, flip, neg uint32)
	nonZero  func(v, x *float32, n int, sign uint32)
	dotF64   func(a, b *float32, n int) float64
	sumF64   func(a *float32, n int) float64
	maxAbs   func(x *float32, n int) uint32
	axpy     func(dst, src *float32, n int, f float32)
}

// vectorLen returns how many of n elements the vector body handles.
func vectorLen(n int) int { return n &^ 7 }

// Band sets dst[i] = v[i] where lo < x[i] (and x[i] < hi when upper is
// set), else 0; with accumulate it adds that to dst[i] instead. A NaN x[i]
// selects 0. It is ReLU's forward pass (v = x, lo = 0) and the backward
// pass of ReLU and Clip. dst, v and x must have the same length.
func Band(dst, v, x []float32, lo, hi float32, upper, accumulate bool) {
	n := len(dst)
	v, x = v[:n], x[:n]
	k := 0
	if ew.band != nil && n >= 8 {
		k = vectorLen(n)
		ew.band(&dst[0], &v[0], &x[0], k, lo, hi, boolInt(upper), boolInt(accumulate))
	}
	for i := k; i < n; i++ {
		var r float32
		if lo < x[i] && (!upper || x[i] < hi) {
			r = v[i]
		}
		if accumulate {
			r += dst[i]
		}
		dst[i] = r
	}
}

// Clamp sets y[i] = min(max(x[i], lo), hi); a NaN x[i] stays NaN. y and x
// must have the same length.
func Clamp(y, x []float32, lo, hi float32) {
	n := len(y)
	x = x[:n]
	k := 0
	if ew.clamp != nil && n >= 8 {
		k = vectorLen(n)
		ew.clamp(&y[0], &x[0], k, lo, hi)
	}
	for i := k; i < n; i++ {
		// The order of MAXPS and MINPS: NaN passes, and max(+0, −0) is −0.
		v := x[i]
		if lo > v {
			v = lo
		}
		if hi < v {
			v = hi
		}
		y[i] = v
	}
}

// CombineExc turns the two backward products of an excitation step into
// the step's result, in place in a (SPEC §5.2):
//
//	a[i] = ½·1[x[i] ≠ 0]·(a[i] ± sign(x[i])·b[i])
//
// with + unless negative is set, where a = Aᵀv, b = |A|ᵀ(s⊙v) and x is the
// node's input. It returns the largest bit pattern of |a[i]|, which orders
// like the magnitudes (NaN above +Inf). a, b and x must have the same
// length.
func CombineExc(a, b, x []float32, negative bool) uint32 {
	n := len(a)
	b, x = b[:n], x[:n]
	var flip uint32
	if negative {
		flip = signBit
	}
	k, top := 0, uint32(0)
	if ew.combine != nil && n >= 8 {
		k = vectorLen(n)
		top = ew.combine(&a[0], &b[0], &x[0], k, flip)
	}
	for i := k; i < n; i++ {
		xb := math.Float32bits(x[i])
		v := 0.5 * (a[i] + math.Float32frombits(math.Float32bits(b[i])^(xb^flip)&signBit))
		if xb&^signBit == 0 {
			v = 0
		}
		a[i] = v
		top = max(top, math.Float32bits(v)&^signBit)
	}
	return top
}

// SignFlip sets out[i] = v[i], negated (its sign bit flipped) where
// y[i] − c < 0: v multiplied by the output signs of a node whose output is
// y and offset c (+1 where y = c). out, v and y must have the same length.
func SignFlip(out, v, y []float32, c float32) {
	n := len(out)
	v, y = v[:n], y[:n]
	k := 0
	if ew.signFlip != nil && n >= 8 {
		k = vectorLen(n)
		ew.signFlip(&out[0], &v[0], &y[0], k, c)
	}
	for i := k; i < n; i++ {
		r := v[i]
		if y[i]-c < 0 {
			r = math.Float32frombits(math.Float32bits(r) ^ signBit)
		}
		out[i] = r
	}
}

// SignMatch is the excitation product of a node whose outputs y are sums
// of terms with coefficient ±1 (Add, Sub): it sets dst[i] = v[i] (negated
// when negate is set) where the term z[i] is non-zero and has the sign of
// y[i] (+ at 0; the opposite sign when opposite is set), and 0 elsewhere.
// A NaN z[i] gives 0. dst, v, z and y must have the same length.
func SignMatch(dst, v, z, y []float32, opposite, negate bool) {
	n := len(dst)
	v, z, y = v[:n], z[:n], y[:n]
	var flip, neg uint32
	if opposite {
		flip = signBit
	}
	if negate {
		neg = signBit
	}
	k := 0
	if ew.match != nil && n >= 8 {
		k = vectorLen(n)
		ew.match(&dst[0], &v[0], &z[0], &y[0], k, flip, neg)
	}
	for i := k; i < n; i++ {
		t := math.Float32bits(z[i]) ^ flip
		if y[i] < 0 {
			t ^= signBit
		}
		var r float32
		if math.Float32frombits(t) > 0 {
			r = math.Float32frombits(math.Float32bits(v[i]) ^ neg)
		}
		dst[i] = r
	}
}

// NonZeroSign multiplies v by 1[x ≠ 0], or by sign(x) (0 at ±0) when sign
// is set, in place: the factors of the full-PANE recursion (SPEC §5.3). A
// NaN x[i] counts as non-zero with the sign of its sign bit. v and x must
// have the same length.
func NonZeroSign(v, x []float32, sign bool) {
	n := len(v)
	x = x[:n]
	var mask uint32
	if sign {
		mask = signBit
	}
	k := 0
	if ew.nonZero != nil && n >= 8 {
		k = vectorLen(n)
		ew.nonZero(&v[0], &x[0], k, mask)
	}
	for i := k; i < n; i++ {
		b := math.Float32bits(x[i])
		if b&^signBit == 0 {
			v[i] = 0
		} else {
			v[i] = math.Float32frombits(math.Float32bits(v[i]) ^ b&mask)
		}
	}
}

// DotF64 returns Σ a[i]·b[i] accumulated in float64 (exact products, eight
// partial sums). a and b must have the same length.
func DotF64(a, b []float32) float64 {
	b = b[:len(a)]
	if ew.dotF64 != nil && len(a) >= 8 {
		k := vectorLen(len(a))
		return addTail(ew.dotF64(&a[0], &b[0], k), a[k:], b[k:])
	}
	return sumGo(a, b)
}

// SumF64 returns Σ a[i] accumulated in float64 (eight partial sums).
func SumF64(a []float32) float64 {
	if ew.sumF64 != nil && len(a) >= 8 {
		k := vectorLen(len(a))
		return addTail(ew.sumF64(&a[0], k), a[k:], nil)
	}
	return sumGo(a, nil)
}

// sumGo is the vector sums' arithmetic in Go: the eight lanes, their fold,
// then the tail.
func sumGo(a, b []float32) float64 {
	var p [8]float64
	k := vectorLen(len(a))
	for i := 0; i < k; i += 8 {
		for l := range p {
			if b == nil {
				p[l] += float64(a[i+l])
			} else {
				p[l] = math.FMA(float64(a[i+l]), float64(b[i+l]), p[l])
			}
		}
	}
	s := ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7]))
	if b != nil {
		b = b[k:]
	}
	return addTail(s, a[k:], b)
}

// addTail adds the remaining elements (products when b is not nil) to s.
func addTail(s float64, a, b []float32) float64 {
	for i, x := range a {
		if b == nil {
			s += float64(x)
		} else {
			s = math.FMA(float64(x), float64(b[i]), s)
		}
	}
	return s
}

// SplitSign splits v by the output signs of a node whose output is y and
// offset c: neg[i] = v[i] where y[i] − c < 0 and pos[i] = v[i] elsewhere,
// the other one 0. It reports whether pos and neg have a non-zero element.
// All slices must have the same length.
func SplitSign(pos, neg, v, y []float32, c float32) (anyPos, anyNeg bool) {
	n := len(pos)
	neg, v, y = neg[:n], v[:n], y[:n]
	k := 0
	var orP, orN uint32
	if ew.split != nil && n >= 8 {
		k = vectorLen(n)
		orP, orN = ew.split(&pos[0], &neg[0], &v[0], &y[0], k, c)
	}
	for i := k; i < n; i++ {
		p, q := v[i], float32(0)
		if y[i]-c < 0 {
			p, q = 0, v[i]
		}
		pos[i], neg[i] = p, q
		orP |= math.Float32bits(p)
		orN |= math.Float32bits(q)
	}
	return orP&^signBit != 0, orN&^signBit != 0
}

// MaxAbsBits returns the largest bit pattern of |x[i]| (x[i] with its sign
// bit cleared): the bits of max |x[i]| when no x[i] is NaN, since the bits of
// non-negative floats order like the values; a NaN gives a pattern above
// +Inf's.
func MaxAbsBits(x []float32) uint32 {
	k := 0
	var m uint32
	if ew.maxAbs != nil && len(x) >= 8 {
		k = vectorLen(len(x))
		m = ew.maxAbs(&x[0], k)
	}
	for _, v := range x[k:] {
		m = max(m, math.Float32bits(v)&^signBit)
	}
	return m
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// AddScaled sets dst[i] += src[i]·f, the product rounded to float32 before
// the sum. dst and src must have the same length.
func AddScaled(dst, src []float32, f float32) {
	n := len(dst)
	src = src[:n]
	k := 0
	if ew.axpy != nil && n >= 8 {
		k = vectorLen(n)
		ew.axpy(&dst[0], &src[0], k, f)
	}
	for i := k; i < n; i++ {
		dst[i] += float32(src[i] * f)
	}
}
