package ops

import (
	"math"

	"github.com/paneonnx/paneonnx/graph"
)

// Smooth element-wise operators. Their local linear form is the secant
// through (0, f(0)), an extension of the paper (SPEC §5.1):
//
//	A = (f(x) - f(0))/x, A = f'(0) at x = 0, c = f(0),
//
// and Grad uses f'(x). Sigmoid and Tanh, frequent in CNNs, compute in
// float32 (mathf.go); the others in float64. Exceptions:
//
//	Elu, Selu  A at 0 is the left derivative, PyTorch's gradient there.
//	Sqrt       f'(0) is infinite; A is 0 at 0 (y = c = 0 there anyway).
//	Reciprocal 1/x has no value at 0 to take a secant through; it is treated
//	           like a Div whose divisor is frozen (binary.go): the numerator
//	           is the constant 1, so A = 0 and c = y. Grad is -1/x².
func init() {
	simple := map[string]smooth{
		"Erf": {f: math.Erf, df: func(x float64) float64 { return 2 / math.SqrtPi * math.Exp(-x*x) },
			sec: func(x float64) float64 { return math.Erf(x) / x }, d0: 2 / math.SqrtPi},
		"Softplus": {f: softplus, df: sigmoid, sec: func(x float64) float64 {
			if x > 20 {
				return (softplus(x) - math.Ln2) / x
			}
			// log((1+e^x)/2) without cancellation near 0.
			return math.Log1p(math.Expm1(x)/2) / x
		}, d0: 0.5, c: math.Ln2},
		"Softsign": {f: func(x float64) float64 { return x / (1 + math.Abs(x)) },
			df:  func(x float64) float64 { d := 1 + math.Abs(x); return 1 / (d * d) },
			sec: func(x float64) float64 { return 1 / (1 + math.Abs(x)) }, d0: 1},
		"Exp": {f: math.Exp, df: math.Exp, sec: func(x float64) float64 { return math.Expm1(x) / x }, d0: 1, c: 1},
		"Sqrt": {f: math.Sqrt, df: func(x float64) float64 { return 0.5 / math.Sqrt(x) },
			sec: func(x float64) float64 { return 1 / math.Sqrt(x) }},
	}
	for name, f := range simple {
		registerUnary(name, func(*graph.NodeSpec) (unaryFunc, error) { return f, nil })
	}
	registerUnary("Sigmoid", func(*graph.NodeSpec) (unaryFunc, error) { return sigmoid32{}, nil })
	registerUnary("Tanh", func(*graph.NodeSpec) (unaryFunc, error) { return tanh32{}, nil })
	registerUnary("Elu", func(s *graph.NodeSpec) (unaryFunc, error) {
		a, err := s.Float("alpha", 1)
		return elu(float64(a), 1), err
	})
	registerUnary("Selu", func(s *graph.NodeSpec) (unaryFunc, error) {
		a, err := s.Float("alpha", 1.67326319217681884765625)
		if err != nil {
			return nil, err
		}
		g, err := s.Float("gamma", 1.05070102214813232421875)
		return elu(float64(a), float64(g)), err
	})
	registerUnary("Gelu", newGelu)
	registerUnary("Reciprocal", func(*graph.NodeSpec) (unaryFunc, error) { return reciprocal{}, nil })
}

// smooth is an element-wise operator given by f, f' and the secant slope
// sec(x) = (f(x)-f(0))/x for x ≠ 0; d0 is A at 0 and c is f(0).
type smooth struct {
	f, df, sec func(float64) float64
	d0         float64
	c          float32
}

func (s smooth) forward(y, x []float32) {
	for i, v := range x {
		y[i] = float32(s.f(float64(v)))
	}
}

func (s smooth) coef(mode graph.Mode, c, x []float32) {
	for i, v := range x {
		var a float64
		switch {
		case mode == graph.Grad:
			a = s.df(float64(v))
		case v == 0:
			a = s.d0
		default:
			a = s.sec(float64(v))
		}
		if mode == graph.AbsCoef {
			a = math.Abs(a)
		}
		c[i] = float32(a)
	}
}

func (s smooth) offset(c, x, y []float32) bool { return fill(c, s.c) }

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

type sigmoid32 struct{}

func (sigmoid32) forward(y, x []float32) {
	for i, v := range x {
		y[i] = sigmoidf(v)
	}
}

// coef uses that σ' and the secant slope are even functions, so that
// e^-|x| never overflows.
func (sigmoid32) coef(mode graph.Mode, c, x []float32) {
	for i, v := range x {
		u := absf(v)
		var a float32
		switch {
		case mode == graph.Grad:
			e := expf(-u)
			s := 1 / (1 + e)
			a = e * s * s
		case u > 20:
			a = 0.5 / u // σ(u) is 1 in float32
		case u == 0:
			a = 0.25
		default:
			// (σ(u) - 1/2)/u = t/(2u(t+2)) with t = e^u - 1.
			t := expm1f(u)
			a = t / (2 * u * (t + 2))
		}
		c[i] = a
	}
}

func (sigmoid32) offset(c, x, y []float32) bool { return fill(c, 0.5) }

type tanh32 struct{}

func (tanh32) forward(y, x []float32) {
	for i, v := range x {
		y[i] = tanhf(v)
	}
}

func (tanh32) coef(mode graph.Mode, c, x []float32) {
	for i, v := range x {
		t := tanhf(v)
		var a float32
		switch {
		case mode == graph.Grad:
			a = 1 - t*t
		case v == 0:
			a = 1
		default:
			a = t / v
		}
		c[i] = a
	}
}

func (tanh32) offset(c, x, y []float32) bool { return false }

// softplus is log(1+e^x), without overflow for large x.
func softplus(x float64) float64 {
	if x > 0 {
		return x + math.Log1p(math.Exp(-x))
	}
	return math.Log1p(math.Exp(x))
}

// elu is gamma·(x for x > 0, alpha·(e^x-1) otherwise): Elu with gamma 1,
// Selu with its two constants.
func elu(alpha, gamma float64) smooth {
	return smooth{
		f: func(x float64) float64 {
			if x > 0 {
				return gamma * x
			}
			return gamma * alpha * math.Expm1(x)
		},
		df: func(x float64) float64 {
			if x > 0 {
				return gamma
			}
			return gamma * alpha * math.Exp(x)
		},
		sec: func(x float64) float64 {
			if x > 0 {
				return gamma
			}
			return gamma * alpha * math.Expm1(x) / x
		},
		d0: gamma * alpha,
	}
}

// newGelu reads approximate ("none": x·Φ(x), "tanh": PyTorch's tanh
// approximation). The secant slope is the gate Φ(x) (or its approximation).
func newGelu(s *graph.NodeSpec) (unaryFunc, error) {
	approx, err := s.String("approximate", "none")
	if err != nil {
		return nil, err
	}
	switch approx {
	case "none":
		phi := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
		return smooth{
			f:   func(x float64) float64 { return x * phi(x) },
			df:  func(x float64) float64 { return phi(x) + x*math.Exp(-x*x/2)/math.Sqrt(2*math.Pi) },
			sec: phi, d0: 0.5,
		}, nil
	case "tanh":
		const k, b = 0.7978845608028654, 0.044715 // √(2/π)
		gate := func(x float64) float64 { return 0.5 * (1 + math.Tanh(k*(x+b*x*x*x))) }
		return smooth{
			f: func(x float64) float64 { return x * gate(x) },
			df: func(x float64) float64 {
				t := math.Tanh(k * (x + b*x*x*x))
				return 0.5*(1+t) + 0.5*x*(1-t*t)*k*(1+3*b*x*x)
			},
			sec: gate, d0: 0.5,
		}, nil
	}
	return nil, s.Errorf("approximate %q is not one of none, tanh", approx)
}

type reciprocal struct{}

func (reciprocal) forward(y, x []float32) {
	for i, v := range x {
		y[i] = 1 / v
	}
}

func (reciprocal) coef(mode graph.Mode, a, x []float32) {
	if mode != graph.Grad {
		clear(a)
		return
	}
	for i, v := range x {
		a[i] = -1 / (v * v)
	}
}

func (reciprocal) offset(c, x, y []float32) bool {
	copy(c, y)
	for _, v := range y {
		if v != 0 {
			return true
		}
	}
	return false
}
