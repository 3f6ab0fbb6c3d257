package ops

import (
	"fmt"
	"math"
	"math/rand"
	"strings"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/kernels"
)

// This file holds the generic oracle every operator test uses: the gradient
// against central finite differences, the local linear form against its
// definition y = A·x + c (A rebuilt densely from unit vectors), |A| against
// the element-wise absolute value of A, the Terms class against A's
// sparsity, and the batched backward (several seeds per image, accumulation
// into dx) against the dense matrices.

// opCase is one operator instance with its data inputs.
type opCase struct {
	spec *graph.NodeSpec
	in   []*graph.Tensor
	// noCoef: Backward(Coef) must fail (Softmax).
	noCoef bool
	// noGrad skips the finite-difference check (inputs on a kink).
	noGrad bool
	// h is the finite-difference step (default 1e-2).
	h float64
	// unbatched: the op does not keep the batch as the leading dim of every
	// tensor; only the forward pass is run.
	unbatched bool
}

// spec builds a node spec. Inputs are given as data names ("x") or
// constants (*graph.Const), "" for an absent optional input.
func spec(typ string, opset int, attrs map[string]graph.Attr, inputs ...any) *graph.NodeSpec {
	s := &graph.NodeSpec{Name: "n", Type: typ, Opset: opset, Attrs: attrs, NumOutputs: 1}
	for _, in := range inputs {
		switch v := in.(type) {
		case string:
			s.Inputs = append(s.Inputs, graph.Input{Name: v})
		case *graph.Const:
			s.Inputs = append(s.Inputs, graph.Input{Name: "k", Const: v})
		default:
			panic(fmt.Sprintf("spec input %T", in))
		}
	}
	return s
}

func aInt(v int64) graph.Attr     { return graph.Attr{Kind: graph.AttrInt, I: v} }
func aFloat(v float32) graph.Attr { return graph.Attr{Kind: graph.AttrFloat, F: v} }
func aStr(v string) graph.Attr    { return graph.Attr{Kind: graph.AttrString, S: v} }
func aInts(v ...int64) graph.Attr { return graph.Attr{Kind: graph.AttrInts, Ints: v} }

// cst is a float constant; icst an integer one.
func cst(shape []int, v ...float64) *graph.Const { return &graph.Const{Shape: shape, V: v} }

// randConst returns a constant of the given shape with values in [−1, 1).
func randConst(rng *rand.Rand, shape ...int) *graph.Const {
	c := &graph.Const{Shape: shape}
	for range graph.NumElements(shape) {
		c.V = append(c.V, 2*rng.Float64()-1)
	}
	return c
}

// reluOf replaces t's negative values by zero (an input after a ReLU) and
// returns t.
func reluOf(t *graph.Tensor) *graph.Tensor {
	for i, v := range t.Data {
		t.Data[i] = max(v, 0)
	}
	return t
}
func icst(v ...int64) *graph.Const {
	c := &graph.Const{Shape: []int{len(v)}, Int: true}
	for _, x := range v {
		c.V = append(c.V, float64(x))
	}
	return c
}

// tensor makes a tensor from values.
func tensor(shape []int, v ...float32) *graph.Tensor {
	t, err := graph.FromData(shape, v)
	if err != nil {
		panic(err)
	}
	return t
}

// randT fills a tensor with values uniform in ±scale, at least gap away from
// every kink (and kink points themselves never occur).
func randT(rng *rand.Rand, scale float32, gap float32, kinks []float32, shape ...int) *graph.Tensor {
	t := graph.New(shape...)
	for i := range t.Data {
	retry:
		v := (2*rng.Float32() - 1) * scale
		for _, k := range kinks {
			if math.Abs(float64(v-k)) < float64(gap) {
				goto retry
			}
		}
		t.Data[i] = v
	}
	return t
}

func build(t *testing.T, s *graph.NodeSpec) graph.Op {
	t.Helper()
	op, err := graph.Build(s)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	return op
}

// forward runs op on data inputs.
func forward(t *testing.T, op graph.Op, in []*graph.Tensor) []*graph.Tensor {
	t.Helper()
	shapes := make([][]int, len(in))
	for i, x := range in {
		shapes[i] = x.Shape
	}
	os, err := op.Infer(shapes)
	if err != nil {
		t.Fatalf("infer: %v", err)
	}
	out := make([]*graph.Tensor, len(os))
	for i, s := range os {
		out[i] = graph.New(s...)
		for k := range out[i].Data {
			out[i].Data[k] = float32(math.NaN()) // Forward must overwrite
		}
	}
	if err := op.Forward(in, out); err != nil {
		t.Fatalf("forward: %v", err)
	}
	return out
}

// wantData compares a tensor with expected shape and values (exactly, or
// within tol relative to the largest expected magnitude).
func wantData(t *testing.T, what string, got *graph.Tensor, shape []int, want []float32, tol float64) {
	t.Helper()
	if !graph.SameShape(got.Shape, shape) {
		t.Fatalf("%s: shape %v, want %v", what, got.Shape, shape)
	}
	scale := 1.0
	for _, v := range want {
		scale = math.Max(scale, math.Abs(float64(v)))
	}
	for i := range want {
		d := math.Abs(float64(got.Data[i] - want[i]))
		if d > tol*scale || (math.IsNaN(float64(got.Data[i])) != math.IsNaN(float64(want[i]))) {
			t.Fatalf("%s: got %v, want %v (first difference at %d)", what, got.Data, want, i)
		}
	}
}

// dense is a backward matrix: rows over all output elements (outputs
// concatenated), columns over all data-input elements (inputs concatenated).
type dense [][]float64

// denseOf rebuilds the matrix a mode selects from unit vectors.
func denseOf(t *testing.T, bp graph.Backprop, mode graph.Mode, x, y []*graph.Tensor) (dense, error) {
	t.Helper()
	var m dense
	for o := range y {
		for j := range y[o].Data {
			dy := make([]*graph.Tensor, len(y))
			dy[o] = graph.New(y[o].Shape...)
			dy[o].Data[j] = 1
			dx := make([]*graph.Tensor, len(x))
			for i := range x {
				dx[i] = graph.New(x[i].Shape...)
			}
			if err := bp.Backward(mode, x, y, dy, dx); err != nil {
				return nil, err
			}
			var row []float64
			for i := range dx {
				for _, v := range dx[i].Data {
					row = append(row, float64(v))
				}
			}
			m = append(m, row)
		}
	}
	return m, nil
}

func flat(ts []*graph.Tensor) []float64 {
	var out []float64
	for _, t := range ts {
		for _, v := range t.Data {
			out = append(out, float64(v))
		}
	}
	return out
}

// checkOp runs every generic check on one operator instance.
func checkOp(t *testing.T, c opCase) {
	t.Helper()
	op := build(t, c.spec)
	bp, ok := op.(graph.Backprop)
	if !ok {
		t.Fatalf("%s does not implement graph.Backprop", op.Type())
	}
	x := c.in
	y := forward(t, op, x)
	if c.unbatched {
		return
	}
	xs, ys := flat(x), flat(y)

	grad, err := denseOf(t, bp, graph.Grad, x, y)
	if err != nil {
		t.Fatalf("grad: %v", err)
	}
	mats := map[graph.Mode]dense{graph.Grad: grad}
	if !c.noGrad {
		checkFD(t, op, c, grad)
	}

	coef, err := denseOf(t, bp, graph.Coef, x, y)
	if c.noCoef {
		if err == nil {
			t.Fatalf("Backward(Coef) succeeded, want an error")
		}
		if _, err := denseOf(t, bp, graph.AbsCoef, x, y); err == nil {
			t.Fatalf("Backward(AbsCoef) succeeded, want an error")
		}
	} else {
		if err != nil {
			t.Fatalf("coef: %v", err)
		}
		abs, err := denseOf(t, bp, graph.AbsCoef, x, y)
		if err != nil {
			t.Fatalf("abscoef: %v", err)
		}
		mats[graph.Coef], mats[graph.AbsCoef] = coef, abs
		checkLinear(t, bp, x, y, xs, ys, coef, abs)
	}
	checkLocal(t, x, y, mats)
	checkSeeds(t, bp, x, y, mats)
	if eb, ok := bp.(graph.ExcBackprop); ok && !c.noCoef {
		checkExc(t, eb, bp, x, y, mats[graph.Coef])
	}
}

// nonNegative reports, per tensor, that no element is below zero.
func nonNegative(x []*graph.Tensor) []bool {
	out := make([]bool, len(x))
	for i, t := range x {
		out[i] = !graph.HasNegative(t.Data)
	}
	return out
}

// checkExc compares an operator's own excitation product (graph.ExcBackprop),
// where it applies, with Exc±ᵀ·dy built from the definitions (SPEC §5.2):
// Exc+_jk = A_jk where the term z_jk = A_jk·x_k is non-zero and has the sign
// of y_j − c_j (+ at 0), Exc−_jk = A_jk where it has the opposite sign,
// then with a gate on x[0] (zero outside it; its input differs from x[0]
// outside the window, as a Clip's would). dx starts as NaN
// (BackwardExc overwrites it); dy has two seeds per image.
func checkExc(t *testing.T, eb graph.ExcBackprop, bp graph.Backprop, x, y []*graph.Tensor, coef dense) {
	t.Helper()
	const s = 2
	rng := rand.New(rand.NewSource(8))
	xs, ys := flat(x), flat(y)
	cs := make([]float64, len(ys))
	row := 0
	for o, c := range bp.Offset(x, y) {
		if c != nil {
			for j, v := range c.Data {
				cs[row+j] = float64(v)
			}
		}
		row += y[o].Len()
	}
	dy := make([]*graph.Tensor, len(y))
	for o := range y {
		dy[o] = randT(rng, 1, 0, nil, withSeeds(y[o].Shape, s)...)
	}
	for _, tc := range []struct {
		window   *graph.Window
		positive bool
	}{{nil, true}, {nil, false}, {&graph.Window{Lo: -0.3, Hi: 0.6, Upper: true}, true}, {&graph.Window{Lo: 0.2}, false}} {
		var gate *graph.Gate
		if tc.window != nil {
			gate = &graph.Gate{Window: *tc.window, Input: gateInput(x[0], *tc.window)}
		}
		positive := tc.positive
		dx := make([]*graph.Tensor, len(x))
		for i := range x {
			dx[i] = graph.New(withSeeds(x[i].Shape, s)...)
			for k := range dx[i].Data {
				dx[i].Data[k] = float32(math.NaN())
			}
		}
		ok, top, err := eb.BackwardExc(positive, x, y, dy, dx, nonNegative(x), gate)
		if err != nil {
			t.Fatalf("BackwardExc: %v", err)
		}
		if !ok {
			continue // it does not apply to these tensors
		}
		if top != nil {
			per := dx[0].Len() / dx[0].Shape[0]
			for b, got := range top {
				if want := kernels.MaxAbsBits(dx[0].Data[b*per : (b+1)*per]); got != want {
					t.Fatalf("BackwardExc: row %d: top %#x, want %#x", b, got, want)
				}
			}
		}
		col := 0
		for i := range x {
			perX := x[i].Len() / x[i].Shape[0]
			for b := range dx[i].Shape[0] {
				n := b / s
				for kl := range perX {
					k := col + n*perX + kl
					var want, mag float64
					row := 0
					for o := range y {
						perY := y[o].Len() / y[o].Shape[0]
						for jl := range perY {
							j := row + n*perY + jl
							a := coef[j][k]
							z := a * xs[k]
							sign := 1.0
							if ys[j]-cs[j] < 0 {
								sign = -1
							}
							if !positive {
								sign = -sign
							}
							if z == 0 || math.Copysign(1, z) != sign {
								continue
							}
							v := float64(dy[o].Data[b*perY+jl]) * a
							want += v
							mag += math.Abs(v)
						}
						row += y[o].Len()
					}
					if i == 0 && gate != nil && !gate.Contains(float32(xs[k])) {
						want = 0
					}
					got := float64(dx[i].Data[b*perX+kl])
					if !(math.Abs(got-want) <= 1e-5*(1+mag)) {
						t.Fatalf("BackwardExc (positive %v, gate %v): dx%d[%d][%d] = %g, want %g", positive, gate, i, b, kl, got, want)
					}
				}
			}
			col += x[i].Len()
		}
	}
}

// gateInput returns an input of a window node that makes x: x inside the
// window, pushed further out elsewhere.
func gateInput(x *graph.Tensor, w graph.Window) *graph.Tensor {
	in := x.Clone()
	for k, v := range in.Data {
		switch {
		case w.Contains(v):
		case v <= w.Lo:
			in.Data[k] = w.Lo - 1 - float32(math.Abs(float64(v)))
		default:
			in.Data[k] = w.Hi + 1 + float32(math.Abs(float64(v)))
		}
	}
	return in
}

// checkFD compares the Grad matrix with central finite differences.
func checkFD(t *testing.T, op graph.Op, c opCase, grad dense) {
	t.Helper()
	h := c.h
	if h == 0 {
		h = 1e-2
	}
	col := 0
	for i, xi := range c.in {
		for k := range xi.Data {
			orig := xi.Data[k]
			shifted := func(d float64) []float64 {
				in := append([]*graph.Tensor(nil), c.in...)
				in[i] = xi.Clone()
				in[i].Data[k] = float32(float64(orig) + d)
				return flat(forward(t, op, in))
			}
			hp, hm := float32(float64(orig)+h)-orig, orig-float32(float64(orig)-h)
			yp, ym := shifted(h), shifted(-h)
			for j := range yp {
				fd := (yp[j] - ym[j]) / float64(hp+hm)
				g := grad[j][col]
				if math.Abs(fd-g) > 2e-3*(1+math.Abs(fd)) {
					t.Fatalf("%s: d y[%d] / d x%d[%d] = %g, finite differences give %g", op.Type(), j, i, k, g, fd)
				}
			}
			col++
		}
	}
}

// checkLinear checks y = A·x + c, |A| and the Terms class.
func checkLinear(t *testing.T, bp graph.Backprop, x, y []*graph.Tensor, xs, ys []float64, coef, abs dense) {
	t.Helper()
	off := bp.Offset(x, y)
	if off != nil && len(off) != len(y) {
		t.Fatalf("Offset returned %d tensors for %d outputs", len(off), len(y))
	}
	var cs []float64
	for o := range y {
		if off != nil && off[o] != nil {
			if !graph.SameShape(off[o].Shape, y[o].Shape) {
				t.Fatalf("offset %d has shape %v, output %v", o, off[o].Shape, y[o].Shape)
			}
			cs = append(cs, flat(off[o:o+1])...)
		} else {
			cs = append(cs, make([]float64, y[o].Len())...)
		}
	}
	terms := bp.Terms()
	for j, row := range coef {
		sum, mag, nz := cs[j], math.Abs(cs[j]), 0
		for k, a := range row {
			sum += a * xs[k]
			mag += math.Abs(a * xs[k])
			if a != 0 {
				nz++
				if terms == graph.Routing && (a != 1 || cs[j] != 0) {
					t.Fatalf("routing node: A[%d][%d] = %g, c = %g", j, k, a, cs[j])
				}
			}
			if abs[j][k] != math.Abs(a) {
				t.Fatalf("|A|[%d][%d] = %g, A = %g", j, k, abs[j][k], a)
			}
		}
		if nz > 1 && terms != graph.MultiTerm {
			t.Fatalf("%v node: row %d of A has %d non-zeros: %v", terms, j, nz, row)
		}
		// Routing nodes copy values: exact. Others within float32 rounding.
		tol := 4e-7*(mag+math.Abs(ys[j])) + 1e-30
		if terms == graph.Routing {
			tol = 0
		}
		if d := math.Abs(sum - ys[j]); d > tol && !(math.IsInf(ys[j], 0) && sum == ys[j]) {
			t.Fatalf("y[%d] = %g but A·x + c = %g (row %v, c %g)", j, ys[j], sum, row, cs[j])
		}
	}
}

// imageOf returns, for each element of the concatenated tensors, its image.
func imageOf(ts []*graph.Tensor) []int {
	var out []int
	for _, t := range ts {
		per := t.Len() / t.Shape[0]
		for k := range t.Data {
			out = append(out, k/per)
		}
	}
	return out
}

// checkLocal checks that no output depends on another image's inputs.
func checkLocal(t *testing.T, x, y []*graph.Tensor, mats map[graph.Mode]dense) {
	t.Helper()
	xi, yi := imageOf(x), imageOf(y)
	for mode, m := range mats {
		for j, row := range m {
			for k, a := range row {
				if a != 0 && xi[k] != yi[j] {
					t.Fatalf("%v: output %d (image %d) depends on input %d (image %d)", mode, j, yi[j], k, xi[k])
				}
			}
		}
	}
}

// checkSeeds runs Backward with two seeds per image on random vectors,
// accumulating into random dx (one nil when there are several inputs), and
// compares with the dense matrices.
func checkSeeds(t *testing.T, bp graph.Backprop, x, y []*graph.Tensor, mats map[graph.Mode]dense) {
	t.Helper()
	checkSeedsWith(t, bp.Backward, false, x, y, mats)
	if setter, ok := bp.(graph.BackwardSetter); ok {
		checkSeedsWith(t, setter.BackwardSet, true, x, y, mats)
	}
}

// checkSeedsWith checks one backward product, which accumulates into dx or,
// when set is true, overwrites it (dx then starts as NaN).
func checkSeedsWith(t *testing.T, backward func(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error, set bool, x, y []*graph.Tensor, mats map[graph.Mode]dense) {
	t.Helper()
	const s = 2
	rng := rand.New(rand.NewSource(7))
	for mode, m := range mats {
		dy := make([]*graph.Tensor, len(y))
		for o := range y {
			dy[o] = randT(rng, 1, 0, nil, withSeeds(y[o].Shape, s)...)
		}
		dx := make([]*graph.Tensor, len(x))
		pre := make([]*graph.Tensor, len(x))
		for i := range x {
			if i == 0 && len(x) > 1 {
				continue
			}
			dx[i] = randT(rng, 1, 0, nil, withSeeds(x[i].Shape, s)...)
			pre[i] = dx[i].Clone()
			if set {
				clear(pre[i].Data)
				for k := range dx[i].Data {
					dx[i].Data[k] = float32(math.NaN())
				}
			}
		}
		dyCopy := make([]*graph.Tensor, len(y))
		for o := range dy {
			dyCopy[o] = dy[o].Clone()
		}
		if err := backward(mode, x, y, dy, dx); err != nil {
			t.Fatalf("%v with %d seeds (set %v): %v", mode, s, set, err)
		}
		for o := range dy {
			if !graph.SameShape(dy[o].Shape, dyCopy[o].Shape) || fmt.Sprint(dy[o].Data) != fmt.Sprint(dyCopy[o].Data) {
				t.Fatalf("%v: Backward modified dy", mode)
			}
		}
		col := 0
		for i := range x {
			perX := x[i].Len() / x[i].Shape[0]
			if dx[i] == nil {
				col += x[i].Len()
				continue
			}
			for b := 0; b < dx[i].Shape[0]; b++ {
				n := b / s
				for kl := 0; kl < perX; kl++ {
					want, mag := float64(pre[i].Data[b*perX+kl]), 0.0
					row := 0
					for o := range y {
						perY := y[o].Len() / y[o].Shape[0]
						for jl := 0; jl < perY; jl++ {
							v := float64(dy[o].Data[b*perY+jl]) * m[row+n*perY+jl][col+n*perX+kl]
							want += v
							mag += math.Abs(v)
						}
						row += y[o].Len()
					}
					got := float64(dx[i].Data[b*perX+kl])
					if !(math.Abs(got-want) <= 1e-5*(1+mag)) {
						t.Fatalf("%v, %d seeds (set %v): dx%d[%d][%d] = %g, want %g", mode, s, set, i, b, kl, got, want)
					}
				}
			}
			col += x[i].Len()
		}
	}
}

// wantErr checks that building the spec fails with a message containing sub.
func wantErr(t *testing.T, s *graph.NodeSpec, sub string) {
	t.Helper()
	_, err := graph.Build(s)
	if err == nil || !strings.Contains(err.Error(), sub) {
		t.Fatalf("build %s: error %v, want one containing %q", s.Type, err, sub)
	}
}
