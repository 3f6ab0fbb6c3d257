package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
	"github.com/paneonnx/paneonnx/kernels"
)

// Unary is an element-wise operator of one data input (activations, Neg,
// Abs, Sqrt, ...). Its local linear form is diagonal, so it is a SingleTerm
// node: y_i = A_i·x_i + c_i with A and c given per operator in the file that
// registers it.
type Unary struct {
	typ string
	f   unaryFunc
}

// unaryFunc is the arithmetic of one element-wise operator on contiguous
// runs of equal length. Every unaryFunc is also a diagCoef or a bandCoef.
type unaryFunc interface {
	forward(y, x []float32)
	// offset writes c of the local linear form for inputs x and outputs y
	// and reports whether any element is non-zero.
	offset(c, x, y []float32) bool
}

// nonNegativeFunc is implemented by unaryFuncs whose output has no element
// below zero (given whether the input has none).
type nonNegativeFunc interface {
	nonNegative(input bool) bool
}

// NonNegativeOutputs implements graph.NonNegativeOp.
func (u *Unary) NonNegativeOutputs(in []bool) bool {
	f, ok := u.f.(nonNegativeFunc)
	return ok && f.nonNegative(in[0])
}

// diagCoef gives the coefficients of a unaryFunc.
type diagCoef interface {
	// coef writes the Jacobian diagonal (Grad), A (Coef) or |A| (AbsCoef)
	// at x into a.
	coef(mode graph.Mode, a, x []float32)
}

// bandCoef gives the coefficients of the functions whose coefficient, in
// every mode, is 1 where lo < x (and x < hi when upper) and 0 elsewhere:
// their backward pass is one vector kernel.
type bandCoef interface {
	band() (lo, hi float32, upper bool)
}

// registerUnary registers an element-wise operator whose constructor mk
// reads the attributes and constant operands (Clip's bounds); input 0 is
// the data.
func registerUnary(typ string, mk func(s *graph.NodeSpec) (unaryFunc, error)) {
	graph.Register(typ, func(s *graph.NodeSpec) (graph.Op, error) {
		if err := s.RequireData(0); err != nil {
			return nil, err
		}
		inputs := 1
		if typ == "Clip" && s.Opset >= 11 {
			inputs = 3
		}
		if err := maxInputs(s, inputs); err != nil {
			return nil, err
		}
		f, err := mk(s)
		if err != nil {
			return nil, err
		}
		return &Unary{typ: typ, f: f}, nil
	})
}

// Type implements graph.Op.
func (u *Unary) Type() string { return u.typ }

// Infer implements graph.Op.
func (u *Unary) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 input, has %d", len(in))
	}
	return [][]int{append([]int(nil), in[0]...)}, nil
}

// Forward implements graph.Op.
func (u *Unary) Forward(in, out []*graph.Tensor) error {
	x, y := in[0].Data, out[0].Data
	par.For(len(x), parMinWork, func(lo, hi int) { u.f.forward(y[lo:hi], x[lo:hi]) })
	return nil
}

// coefChunk is the number of coefficients Backward computes at a time and
// applies to every seed of an image.
const coefChunk = 2048

// Backward implements graph.Backprop: dx += m(x) ⊙ dy.
func (u *Unary) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return u.backward(mode, x, dy, dx, false)
}

// BackwardSet implements graph.BackwardSetter.
func (u *Unary) BackwardSet(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return u.backward(mode, x, dy, dx, true)
}

// BackwardSetInPlace implements graph.InPlaceSetter: every product is
// element-wise.
func (u *Unary) BackwardSetInPlace() {}

// OutputWindow implements graph.WindowBackprop for ReLU and Clip. Their
// band lo < x < hi on the input is the same on the output: below the band
// the output is lo, above it hi, inside it x itself, and NaN stays NaN.
func (u *Unary) OutputWindow() (graph.Window, bool) {
	bc, ok := u.f.(bandCoef)
	if !ok {
		return graph.Window{}, false
	}
	lo, hi, upper := bc.band()
	return graph.Window{Lo: lo, Hi: hi, Upper: upper}, true
}

// backward adds Mᵀ·dy to dx, or stores it there when set is true.
func (u *Unary) backward(mode graph.Mode, x, dy, dx []*graph.Tensor, set bool) error {
	if noProduct(dy[0], dx[0], set) {
		return nil
	}
	s, ok, err := backwardSeeds(x[0], x[0], dy[0], dx[0])
	if !ok {
		return err
	}
	per := graph.NumElements(x[0].Shape[1:])
	chunks := (per + coefChunk - 1) / coefChunk
	xd, dyd, dxd := x[0].Data, dy[0].Data, dx[0].Data
	// chunk applies the coefficients at x chunk [k0, k1) of image img to
	// every seed of the image; buf holds bufLen floats per goroutine.
	var chunk func(img, k0, k1 int, buf []float32)
	bufLen := 0
	if bc, ok := u.f.(bandCoef); ok {
		lo, hi, upper := bc.band()
		chunk = func(img, k0, k1 int, _ []float32) {
			for b := img * s; b < (img+1)*s; b++ {
				kernels.Band(dxd[b*per+k0:b*per+k1], dyd[b*per+k0:b*per+k1], xd[img*per+k0:img*per+k1], lo, hi, upper, !set)
			}
		}
	} else {
		coef := u.f.(diagCoef).coef
		bufLen = coefChunk
		chunk = func(img, k0, k1 int, buf []float32) {
			a := buf[:k1-k0]
			coef(mode, a, xd[img*per+k0:img*per+k1])
			for b := img * s; b < (img+1)*s; b++ {
				d, g := dxd[b*per+k0:b*per+k1], dyd[b*per+k0:b*per+k1]
				if set {
					for i, v := range a {
						d[i] = v * g[i]
					}
					continue
				}
				for i, v := range a {
					d[i] += v * g[i]
				}
			}
		}
	}
	par.For(x[0].Shape[0]*chunks, max(1, parMinWork/(coefChunk*s)), func(lo, hi int) {
		buf := make([]float32, bufLen)
		for w := lo; w < hi; w++ {
			img, k0 := w/chunks, w%chunks*coefChunk
			chunk(img, k0, min(per, k0+coefChunk), buf)
		}
	})
	return nil
}

// Offset implements graph.Backprop.
func (u *Unary) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	c := graph.New(y[0].Shape...)
	if !u.f.offset(c.Data, x[0].Data, y[0].Data) {
		return nil
	}
	return []*graph.Tensor{c}
}

// Terms implements graph.Backprop.
func (u *Unary) Terms() graph.Terms { return graph.SingleTerm }

// fill sets every element of c to v and reports whether v is non-zero.
func fill(c []float32, v float32) bool {
	if v == 0 {
		return false
	}
	for i := range c {
		c[i] = v
	}
	return true
}
