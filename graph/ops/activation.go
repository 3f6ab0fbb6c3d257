package ops

import (
	"math"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/kernels"
)

// Piecewise-linear element-wise operators. Their local linear forms and
// gradients:
//
//	Relu       A = 1[x>0], c = 0; the gradient at 0 is 0, as in PyTorch.
//	LeakyRelu  A = 1 for x>0, else alpha; c = 0.
//	Clip       A = 1 strictly inside (min, max), c = 0; elsewhere (the bounds
//	           included) A = 0 and c = the output, i.e. the bound. The
//	           gradient uses the same open interval (PyTorch's hardtanh, which
//	           ReLU6 exports from).
//	Neg        A = -1, c = 0.
//	Abs        A = sign(x) (0 at 0), c = 0.
//	HardSigmoid  secant form as for smooth activations (smooth.go): c = f(0)
//	           and A = (f(x)-f(0))/x, which is alpha on the linear part; the
//	           gradient is alpha where 0 < alpha·x+beta < 1, else 0.
//	HardSwish  A = hardsigmoid(x) = f(x)/x (its secant form, c = 0); the
//	           gradient is PyTorch's: 0 for x < -3, x/3+0.5 for x <= 3, else 1.
func init() {
	registerUnary("Relu", func(*graph.NodeSpec) (unaryFunc, error) { return relu{}, nil })
	registerUnary("LeakyRelu", func(s *graph.NodeSpec) (unaryFunc, error) {
		a, err := s.Float("alpha", 0.01)
		return leakyRelu{a}, err
	})
	registerUnary("Clip", newClip)
	registerUnary("Neg", func(*graph.NodeSpec) (unaryFunc, error) { return negate{}, nil })
	registerUnary("Abs", func(*graph.NodeSpec) (unaryFunc, error) { return absVal{}, nil })
	registerUnary("HardSigmoid", func(s *graph.NodeSpec) (unaryFunc, error) {
		a, err := s.Float("alpha", 0.2)
		if err != nil {
			return nil, err
		}
		b, err := s.Float("beta", 0.5)
		return newHardSigmoid(a, b), err
	})
	registerUnary("HardSwish", func(*graph.NodeSpec) (unaryFunc, error) { return hardSwish{}, nil })
}

type relu struct{}

func (relu) forward(y, x []float32) { kernels.Band(y, x, x, 0, 0, false, false) }

func (relu) band() (lo, hi float32, upper bool) { return 0, 0, false }

func (relu) offset(c, x, y []float32) bool { return false }

func (relu) nonNegative(bool) bool { return true }

type leakyRelu struct{ alpha float32 }

func (l leakyRelu) forward(y, x []float32) {
	for i, v := range x {
		y[i] = choose(maskIf(v > 0), 1, l.alpha) * v
	}
}

func (l leakyRelu) coef(mode graph.Mode, a, x []float32) {
	alpha := l.alpha
	if mode == graph.AbsCoef {
		alpha = absf(alpha)
	}
	for i, v := range x {
		a[i] = choose(maskIf(v > 0), 1, alpha)
	}
}

func (leakyRelu) offset(c, x, y []float32) bool { return false }

type clip struct{ lo, hi float32 }

// newClip reads min and max: attributes before opset 11, optional constant
// inputs from opset 11 (absent means unbounded).
func newClip(s *graph.NodeSpec) (unaryFunc, error) {
	if s.Opset < 11 {
		lo, err := s.Float("min", -math.MaxFloat32)
		if err != nil {
			return nil, err
		}
		hi, err := s.Float("max", math.MaxFloat32)
		return clip{lo, hi}, err
	}
	c := clip{float32(math.Inf(-1)), float32(math.Inf(1))}
	for i, dst := range []*float32{&c.lo, &c.hi} {
		k, err := s.ConstInput(1+i, []string{"min", "max"}[i], true)
		if err != nil {
			return nil, err
		}
		if k != nil {
			if *dst, err = scalarConst(s, k, []string{"min", "max"}[i]); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

// forward applies max before min: when lo > hi every output is hi, as
// numpy.clip.
func (c clip) forward(y, x []float32) { kernels.Clamp(y, x, c.lo, c.hi) }

func (c clip) band() (lo, hi float32, upper bool) { return c.lo, c.hi, true }

// nonNegative: every output lies between min(lo, hi) and hi, or is the
// input itself when that lies in between.
func (c clip) nonNegative(input bool) bool { return min(c.lo, c.hi) >= 0 || (input && c.hi >= 0) }

func (c clip) offset(off, x, y []float32) bool {
	// off = y outside the band, 0 inside: y minus y's part inside, without
	// a branch per element (which side an element falls is random).
	kernels.Band(off, y, x, c.lo, c.hi, true, false)
	any := false
	for i, v := range y {
		off[i] = v - off[i]
		any = any || off[i] != 0
	}
	return any
}

type negate struct{}

func (negate) forward(y, x []float32) {
	for i, v := range x {
		y[i] = -v
	}
}

func (negate) coef(mode graph.Mode, a, x []float32) {
	v := float32(-1)
	if mode == graph.AbsCoef {
		v = 1
	}
	fill(a, v)
}

func (negate) offset(c, x, y []float32) bool { return false }

type absVal struct{}

func (absVal) forward(y, x []float32) {
	for i, v := range x {
		y[i] = float32(math.Abs(float64(v)))
	}
}

func (absVal) coef(mode graph.Mode, a, x []float32) {
	neg := float32(-1)
	if mode == graph.AbsCoef {
		neg = 1
	}
	for i, v := range x {
		a[i] = choose(maskIf(v > 0), 1, keepIf(neg, maskIf(v < 0)))
	}
}

func (absVal) offset(c, x, y []float32) bool { return false }

type hardSigmoid struct {
	alpha, beta float32
	c           float32 // f(0)
	dc          float32 // A at 0: f'(0) when beta is inside (0, 1), else 0
}

func newHardSigmoid(alpha, beta float32) hardSigmoid {
	h := hardSigmoid{alpha: alpha, beta: beta, c: min(max(beta, 0), 1)}
	if beta > 0 && beta < 1 {
		h.dc = alpha
	}
	return h
}

func (h hardSigmoid) forward(y, x []float32) {
	for i, v := range x {
		y[i] = min(max(h.alpha*v+h.beta, 0), 1)
	}
}

func (h hardSigmoid) coef(mode graph.Mode, a, x []float32) {
	for i, v := range x {
		t := h.alpha*v + h.beta
		inside := t > 0 && t < 1
		var c float32
		switch {
		case mode == graph.Grad && inside, mode != graph.Grad && inside && h.dc != 0:
			c = h.alpha
		case mode == graph.Grad:
		case v == 0:
			c = h.dc
		default:
			c = float32((float64(min(max(t, 0), 1)) - float64(h.c)) / float64(v))
		}
		if mode == graph.AbsCoef {
			c = absf(c)
		}
		a[i] = c
	}
}

func (h hardSigmoid) offset(c, x, y []float32) bool { return fill(c, h.c) }

type hardSwish struct{}

// hsig is HardSwish's gate, ONNX's HardSigmoid with alpha 1/6, beta 0.5.
func hsig(v float32) float32 { return min(max(v*(1.0/6)+0.5, 0), 1) }

func (hardSwish) forward(y, x []float32) {
	for i, v := range x {
		y[i] = v * hsig(v)
	}
}

func (hardSwish) coef(mode graph.Mode, a, x []float32) {
	if mode != graph.Grad {
		for i, v := range x {
			a[i] = hsig(v)
		}
		return
	}
	for i, v := range x {
		switch {
		case v < -3:
			a[i] = 0
		case v <= 3:
			a[i] = v/3 + 0.5
		default:
			a[i] = 1
		}
	}
}

func (hardSwish) offset(c, x, y []float32) bool { return false }
