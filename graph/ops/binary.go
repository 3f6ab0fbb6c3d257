package ops

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
	"github.com/paneonnx/paneonnx/kernels"
)

func init() {
	for typ, op := range map[string]ewOp{"Add": ewAdd, "Sub": ewSub, "Mul": ewMul, "Div": ewDiv, "PRelu": ewPRelu} {
		graph.Register(typ, func(s *graph.NodeSpec) (graph.Op, error) { return newArith(s, typ, op) })
	}
}

// FreezeAuto is the default of Arith.FrozenOperand: for a Mul of two data
// tensors, the operand with fewer elements (the broadcast one, e.g. an SE
// gate) is frozen, and the second one when both have the same size.
const FreezeAuto = -1

// Arith is Add, Sub, Mul, Div (numpy broadcasting) or PRelu (slope
// broadcast to the input), of two data operands or of one data operand and
// a folded constant k. Local linear forms (SPEC §5.1):
//
//	x ± k, k - x  SingleTerm, A = ±1, c = ±k.
//	x·k, x/k      SingleTerm, A = k or 1/k, c = 0.
//	k/x           SingleTerm with the divisor frozen: the numerator is
//	              constant, so A = 0 and c = y; Grad is -k/x².
//	PRelu         SingleTerm, A = 1 where x > 0, else the slope; c = 0.
//	x0 ± x1       MultiTerm, A = (1, ±1), c = 0.
//	x0·x1         SingleTerm: one operand is frozen as a coefficient (see
//	              FrozenOperand) and only the other one receives Coef and
//	              AbsCoef vectors; Grad follows the product rule.
//	x0/x1         SingleTerm with the divisor frozen: Coef gives x0 the
//	              coefficient 1/x1; Grad follows the quotient rule.
//
// Backward sums over the dimensions along which an operand was broadcast.
type Arith struct {
	typ string
	op  ewOp
	// k is the folded constant operand (nil for two data operands); kFirst
	// tells whether it is the first operand.
	k      *graph.Tensor
	kFirst bool
	// inv is 1/k, the coefficient of x/k.
	inv *graph.Tensor

	// FrozenOperand is, for a Mul of two data tensors, the data input (0 or
	// 1) that Coef and AbsCoef treat as a coefficient, or FreezeAuto. The
	// constructor cannot see producers; the importer or a later pass sets
	// it with SetFrozen, e.g. to freeze the operand a Sigmoid or HardSigmoid
	// produces when both have the same size (x·sigmoid(x) then gets the
	// SiLU secant form).
	FrozenOperand int
}

func newArith(s *graph.NodeSpec, typ string, op ewOp) (graph.Op, error) {
	if len(s.Inputs) != 2 || s.Input(0).Absent() || s.Input(1).Absent() {
		return nil, s.Errorf("expects 2 inputs, has %d", len(s.Inputs))
	}
	a := &Arith{typ: typ, op: op, FrozenOperand: FreezeAuto}
	switch data := s.DataInputs(); {
	case len(data) == 0:
		return nil, s.Errorf("has no data input")
	case op == ewPRelu && (len(data) != 1 || data[0] != 0):
		return nil, s.Errorf("the slope: %w", graph.ErrNotConstant)
	case len(data) == 1:
		a.kFirst = data[0] == 1
		a.k = s.Input(1 - data[0]).Const.Tensor()
		if op == ewDiv && !a.kFirst {
			a.inv = a.k.Clone()
			for i, v := range a.inv.Data {
				a.inv.Data[i] = 1 / v
			}
		}
	}
	return a, nil
}

// SetFrozen sets FrozenOperand: 0 or 1, any other value meaning FreezeAuto.
// Only a Mul of two data tensors reads it.
func (a *Arith) SetFrozen(i int) { a.FrozenOperand = i }

// Type implements graph.Op.
func (a *Arith) Type() string { return a.typ }

// operands returns the forward operands in ONNX order (data and constant).
func (a *Arith) operands(in []*graph.Tensor) (x0, x1 *graph.Tensor) {
	switch {
	case a.k == nil:
		return in[0], in[1]
	case a.kFirst:
		return a.k, in[0]
	}
	return in[0], a.k
}

// Infer implements graph.Op.
func (a *Arith) Infer(in [][]int) ([][]int, error) {
	want := 2
	if a.k != nil {
		want = 1
	}
	if len(in) != want {
		return nil, fmt.Errorf("expects %d data input(s), has %d", want, len(in))
	}
	s0, s1 := in[0], []int(nil)
	switch {
	case a.k == nil:
		s1 = in[1]
	case a.kFirst:
		s0, s1 = a.k.Shape, in[0]
	default:
		s1 = a.k.Shape
	}
	out, err := bcastShape(s0, s1)
	if err != nil {
		return nil, err
	}
	if a.op == ewPRelu && !graph.SameShape(out, s0) {
		return nil, fmt.Errorf("slope of shape %v does not broadcast to the input's %v", s1, s0)
	}
	return [][]int{out}, nil
}

// Forward implements graph.Op.
func (a *Arith) Forward(in, out []*graph.Tensor) error {
	x0, x1 := a.operands(in)
	y := out[0]
	l := newNDLoop(y.Shape, rowMajor(y.Shape), bcastStrides(x0.Shape, y.Shape), bcastStrides(x1.Shape, y.Shape))
	ewLoop(l, []int{0, 0, 0}, true, a.op, 0, y.Data, x0.Data, x1.Data)
	return nil
}

// frozen returns the data input a Mul of two data tensors freezes.
func (a *Arith) frozen(x []*graph.Tensor) int {
	if a.FrozenOperand == 0 || a.FrozenOperand == 1 {
		return a.FrozenOperand
	}
	if x[0].Len() < x[1].Len() {
		return 0
	}
	return 1
}

// Backward implements graph.Backprop.
func (a *Arith) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if dy[0] == nil {
		return nil
	}
	s, err := seedsOf(y[0], dy[0])
	if err != nil {
		return err
	}
	for i := range x {
		if dx[i] != nil {
			if err := checkGrad(x[i], dx[i], s); err != nil {
				return err
			}
		}
	}
	// acc accumulates into dx[i] with the given sources, which are dy
	// followed by forward tensors or constants.
	acc := func(i int, op ewOp, sc float32, src ...*graph.Tensor) error {
		if dx[i] == nil {
			return nil
		}
		rank := len(y[0].Shape)
		shapes := [][]int{x[i].Shape, y[0].Shape}
		roles := []role{seeded, seeded}
		data := make([][]float32, len(src))
		for j, t := range src {
			data[j] = t.Data
			if j == 0 {
				continue
			}
			r := image
			if t == a.k || t == a.inv {
				r = constant
			}
			shapes = append(shapes, padShape(t.Shape, rank))
			roles = append(roles, r)
		}
		l, err := seedLoop(y[0].Shape, s, shapes, roles)
		if err != nil {
			return err
		}
		ewLoop(l, make([]int, len(shapes)), true, op, sc, dx[i].Data, data...)
		return nil
	}
	g := dy[0]
	if a.k != nil {
		return a.backwardConst(mode, x[0], g, acc)
	}
	sign := float32(1)
	if a.op == ewSub && mode != graph.AbsCoef {
		sign = -1
	}
	switch a.op {
	case ewAdd, ewSub:
		if err := acc(0, accScale, 1, g); err != nil {
			return err
		}
		return acc(1, accScale, sign, g)
	case ewMul:
		if mode == graph.Grad {
			if err := acc(0, accMul, 0, g, x[1]); err != nil {
				return err
			}
			return acc(1, accMul, 0, g, x[0])
		}
		f := a.frozen(x)
		op := accMul
		if mode == graph.AbsCoef {
			op = accMulAbs
		}
		return acc(1-f, op, 0, g, x[f])
	default: // ewDiv
		switch mode {
		case graph.Grad:
			if err := acc(0, accDiv, 0, g, x[1]); err != nil {
				return err
			}
			return acc(1, accQuot, 0, g, x[0], x[1])
		case graph.Coef:
			return acc(0, accDiv, 0, g, x[1])
		}
		return acc(0, accDivAbs, 0, g, x[1])
	}
}

// backwardConst is Backward with a folded constant.
func (a *Arith) backwardConst(mode graph.Mode, x, g *graph.Tensor, acc func(int, ewOp, float32, ...*graph.Tensor) error) error {
	abs := mode == graph.AbsCoef
	switch a.op {
	case ewAdd, ewSub:
		sign := float32(1)
		if a.op == ewSub && a.kFirst && !abs {
			sign = -1
		}
		return acc(0, accScale, sign, g)
	case ewMul:
		if abs {
			return acc(0, accMulAbs, 0, g, a.k)
		}
		return acc(0, accMul, 0, g, a.k)
	case ewPRelu:
		if abs {
			return acc(0, accPReluAbs, 0, g, a.k, x)
		}
		return acc(0, accPRelu, 0, g, a.k, x)
	}
	switch {
	case !a.kFirst && abs:
		return acc(0, accMulAbs, 0, g, a.inv)
	case !a.kFirst:
		return acc(0, accMul, 0, g, a.inv)
	case mode == graph.Grad:
		return acc(0, accQuot, 0, g, a.k, x)
	}
	return nil // k/x: A = 0
}

// Offset implements graph.Backprop.
func (a *Arith) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	if a.k == nil {
		return nil
	}
	var sign float32
	switch {
	case a.op == ewAdd || (a.op == ewSub && a.kFirst):
		sign = 1
	case a.op == ewSub:
		sign = -1
	case a.op == ewDiv && a.kFirst:
		if !anyNonZero(y[0].Data) {
			return nil
		}
		return []*graph.Tensor{y[0].Clone()}
	default:
		return nil
	}
	if !anyNonZero(a.k.Data) {
		return nil
	}
	c := graph.New(y[0].Shape...)
	l := newNDLoop(c.Shape, rowMajor(c.Shape), bcastStrides(a.k.Shape, c.Shape))
	ewLoop(l, []int{0, 0}, false, ewScale, sign, c.Data, a.k.Data)
	return []*graph.Tensor{c}
}

// BackwardSet implements graph.BackwardSetter. Add and Sub of two data
// tensors of one shape copy dy (negated for Sub's second operand in Grad
// and Coef); everything else clears dx and accumulates.
func (a *Arith) BackwardSet(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	if a.k == nil && (a.op == ewAdd || a.op == ewSub) && len(x) == 2 && dy[0] != nil && sameOperands(x, y[0], dy[0], dx) {
		for i, d := range dx {
			if d == nil {
				continue
			}
			copy(d.Data, dy[0].Data)
			if i == 1 && a.op == ewSub && mode != graph.AbsCoef {
				for k, v := range d.Data {
					d.Data[k] = -v
				}
			}
		}
		return nil
	}
	for _, d := range dx {
		if d != nil {
			clear(d.Data)
		}
	}
	return a.Backward(mode, x, y, dy, dx)
}

// BackwardExc implements graph.ExcBackprop for Add and Sub of two data
// tensors of one shape. Output j has the terms x0_j and ±x1_j and no
// offset, so Exc+ passes v_j (times the term's coefficient ±1) to the
// operands whose term is non-zero with the sign of y_j (+ at 0), Exc− to
// those of the opposite sign: one pass per operand instead of two products
// with their sign and combination passes.
func (a *Arith) BackwardExc(positive bool, x, y, dy, dx []*graph.Tensor, _ []bool, gate *graph.Gate) (bool, []uint32, error) {
	if gate != nil {
		return false, nil, nil
	}
	if a.k != nil || (a.op != ewAdd && a.op != ewSub) || len(x) != 2 || dy[0] == nil || !sameOperands(x, y[0], dy[0], dx) {
		return false, nil, nil
	}
	per := len(y[0].Data) / max(1, y[0].Batch())
	seeds := dy[0].Batch() / max(1, y[0].Batch())
	for i, d := range dx {
		if d == nil {
			continue
		}
		sub := i == 1 && a.op == ewSub // the term is −x1
		par.For(d.Len(), parMinWork, func(lo, hi int) {
			for lo < hi {
				img := lo / per / seeds
				end := min(hi, (lo/per+1)*per)
				off := img*per - (lo/per)*per
				kernels.SignMatch(d.Data[lo:end], dy[0].Data[lo:end], x[i].Data[off+lo:off+end], y[0].Data[off+lo:off+end], positive == sub, sub)
				lo = end
			}
		})
	}
	return true, nil, nil
}

// sameOperands reports whether every operand has y's shape after the
// batch and every present dx has dy's shape.
func sameOperands(x []*graph.Tensor, y, dy *graph.Tensor, dx []*graph.Tensor) bool {
	for i, t := range x {
		if !graph.SameShape(t.Shape, y.Shape) {
			return false
		}
		if dx[i] != nil && !graph.SameShape(dx[i].Shape, dy.Shape) {
			return false
		}
	}
	return len(dy.Shape) == len(y.Shape) && graph.SameShape(dy.Shape[1:], y.Shape[1:]) && dy.Shape[0]%max(1, y.Shape[0]) == 0
}

// ChannelOffset implements graph.ChannelOffsetter: the offset is zero
// when both operands are data.
func (a *Arith) ChannelOffset(o int) ([]float32, bool) { return nil, a.k == nil }

// Terms implements graph.Backprop.
func (a *Arith) Terms() graph.Terms {
	if a.k == nil && (a.op == ewAdd || a.op == ewSub) {
		return graph.MultiTerm
	}
	return graph.SingleTerm
}

func anyNonZero(v []float32) bool {
	for _, x := range v {
		if x != 0 {
			return true
		}
	}
	return false
}

// padShape left-pads shape with unit dims to rank.
func padShape(shape []int, rank int) []int {
	if len(shape) >= rank {
		return shape
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	copy(out[rank-len(shape):], shape)
	return out
}
