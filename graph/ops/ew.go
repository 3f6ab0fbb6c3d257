package ops

// ewOp selects the arithmetic of an element-wise loop over strided operands:
// d is operand 0 of the loop, a, b and c the following ones.
type ewOp uint8

const (
	ewAdd       ewOp = iota // d = a + b
	ewSub                   // d = a - b
	ewMul                   // d = a · b
	ewDiv                   // d = a / b
	ewPRelu                 // d = a if a > 0 else b·a
	ewScale                 // d = s·a
	ewCopy                  // d = a
	accScale                // d += s·a
	accMul                  // d += a·b
	accMulAbs               // d += a·|b|
	accDiv                  // d += a / b
	accDivAbs               // d += a / |b|
	accQuot                 // d -= a·b / c²
	accPRelu                // d += a if c > 0 else b·a
	accPReluAbs             // d += a if c > 0 else |b|·a
)

// ewLoop runs op over l with s as the scalar of ewScale and accScale.
func ewLoop(l *ndLoop, base []int, par bool, op ewOp, s float32, d []float32, src ...[]float32) {
	var a, b, c []float32
	switch len(src) {
	case 3:
		c = src[2]
		fallthrough
	case 2:
		b = src[1]
		fallthrough
	case 1:
		a = src[0]
	}
	l.run(base, par, func(off []int, n int, inc []int) {
		ewRun(op, s, d, a, b, c, off, n, inc)
	})
}

// ewRun runs op on one innermost run of n elements.
func ewRun(op ewOp, s float32, d, a, b, c []float32, off []int, n int, inc []int) {
	o, di := off[0], inc[0]
	var i, ai, j, bi, k, ci int
	if len(off) > 1 {
		i, ai = off[1], inc[1]
	}
	if len(off) > 2 {
		j, bi = off[2], inc[2]
	}
	if len(off) > 3 {
		k, ci = off[3], inc[3]
	}
	switch op {
	case ewAdd:
		for range n {
			d[o] = a[i] + b[j]
			o, i, j = o+di, i+ai, j+bi
		}
	case ewSub:
		for range n {
			d[o] = a[i] - b[j]
			o, i, j = o+di, i+ai, j+bi
		}
	case ewMul:
		for range n {
			d[o] = a[i] * b[j]
			o, i, j = o+di, i+ai, j+bi
		}
	case ewDiv:
		for range n {
			d[o] = a[i] / b[j]
			o, i, j = o+di, i+ai, j+bi
		}
	case ewPRelu:
		for range n {
			v := a[i]
			d[o] = choose(maskIf(v > 0), 1, b[j]) * v
			o, i, j = o+di, i+ai, j+bi
		}
	case ewScale:
		for range n {
			d[o] = s * a[i]
			o, i = o+di, i+ai
		}
	case ewCopy:
		for range n {
			d[o] = a[i]
			o, i = o+di, i+ai
		}
	case accScale:
		for range n {
			d[o] += s * a[i]
			o, i = o+di, i+ai
		}
	case accMul:
		for range n {
			d[o] += a[i] * b[j]
			o, i, j = o+di, i+ai, j+bi
		}
	case accMulAbs:
		for range n {
			d[o] += a[i] * absf(b[j])
			o, i, j = o+di, i+ai, j+bi
		}
	case accDiv:
		for range n {
			d[o] += a[i] / b[j]
			o, i, j = o+di, i+ai, j+bi
		}
	case accDivAbs:
		for range n {
			d[o] += a[i] / absf(b[j])
			o, i, j = o+di, i+ai, j+bi
		}
	case accQuot:
		for range n {
			v := c[k]
			d[o] -= a[i] * b[j] / (v * v)
			o, i, j, k = o+di, i+ai, j+bi, k+ci
		}
	case accPRelu:
		for range n {
			d[o] += choose(maskIf(c[k] > 0), 1, b[j]) * a[i]
			o, i, j, k = o+di, i+ai, j+bi, k+ci
		}
	case accPReluAbs:
		for range n {
			d[o] += choose(maskIf(c[k] > 0), 1, absf(b[j])) * a[i]
			o, i, j, k = o+di, i+ai, j+bi, k+ci
		}
	}
}

func absf(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
