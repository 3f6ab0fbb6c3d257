package ops

import "math"

// Float32 versions of the few transcendental functions hot activations
// need. The float64 math package costs tens of nanoseconds per call, more
// than a whole convolution spends per output element.

const (
	// ln2Hi + ln2Lo = ln 2, ln2Hi with few enough mantissa bits that
	// k·ln2Hi is exact for the k expf uses (Cody-Waite reduction).
	ln2Hi = 0.693359375
	ln2Lo = -2.12194440e-4
	log2e = 1.44269504088896341
	// roundMagic is 1.5·2^23: adding it rounds a float32 of magnitude below
	// 2^22 to an integer, which then sits in the low mantissa bits.
	roundMagic = 12582912
)

// expPoly returns e^r for |r| <= ln2/2 (Taylor polynomial of degree 7, whose
// truncation error is below 6e-9 relative).
func expPoly(r float32) float32 {
	return 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
}

// expf returns e^x with a relative error of a few float32 ulps; it
// overflows to +Inf above about 88.72 and underflows through the subnormals
// to 0.
func expf(x float32) float32 {
	switch {
	case x > 88.7228394:
		return float32(math.Inf(1))
	case x < -103.972084:
		return 0
	case x != x:
		return x
	}
	t := x*log2e + roundMagic
	k := int32(math.Float32bits(t)) - int32(math.Float32bits(roundMagic))
	kf := t - roundMagic
	r := x - kf*ln2Hi - kf*ln2Lo
	// Scale by 2^k in two halves so that each factor stays a normal number.
	h := k / 2
	return expPoly(r) * math.Float32frombits(uint32(h+127)<<23) * math.Float32frombits(uint32(k-h+127)<<23)
}

// expm1f returns e^x - 1 with a small relative error also near 0.
func expm1f(x float32) float32 {
	if x > -0.34657359 && x < 0.34657359 {
		// Taylor polynomial of degree 8 without the constant term.
		return x * (1 + x*(1.0/2+x*(1.0/6+x*(1.0/24+x*(1.0/120+x*(1.0/720+x*(1.0/5040+x*(1.0/40320))))))))
	}
	return expf(x) - 1
}

// sigmoidf returns 1/(1+e^-x).
func sigmoidf(x float32) float32 { return 1 / (1 + expf(-x)) }

// tanhf returns tanh(x), accurate also near 0.
func tanhf(x float32) float32 {
	switch {
	case x > 9:
		return 1 // tanh(9) rounds to 1 in float32
	case x < -9:
		return -1
	}
	t := expm1f(2 * x)
	return t / (t + 2)
}

// maskIf returns all ones when c holds and 0 otherwise; the compiler turns
// it into a flag set, with no branch to mispredict on signs of activations.
func maskIf(c bool) uint32 {
	var m uint32
	if c {
		m = 1
	}
	return -m
}

// keepIf returns v where m is all ones and 0 where m is 0.
func keepIf(v float32, m uint32) float32 {
	return math.Float32frombits(math.Float32bits(v) & m)
}

// choose returns a where m is all ones and b where m is 0.
func choose(m uint32, a, b float32) float32 {
	return math.Float32frombits(math.Float32bits(a)&m | math.Float32bits(b)&^m)
}
