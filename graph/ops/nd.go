package ops

import (
	"fmt"
	"runtime"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
)

// ndLoop walks a multi-dimensional index space in row-major order in which
// every operand has its own strides (0 along a broadcast dimension). The
// constructor drops unit dimensions and merges adjacent dimensions that are
// contiguous for every operand, so the innermost runs handed to the callback
// are as long as the layouts allow.
type ndLoop struct {
	dims []int
	st   [][]int // st[operand][dim]
	n    int     // number of index points
}

func newNDLoop(dims []int, strides ...[]int) *ndLoop {
	l := &ndLoop{n: 1, st: make([][]int, len(strides))}
	for _, d := range dims {
		l.n *= d
	}
	if l.n == 0 {
		return l
	}
	for d, size := range dims {
		if size == 1 {
			continue
		}
		if p := len(l.dims) - 1; p >= 0 {
			merge := true
			for o := range strides {
				if l.st[o][p] != strides[o][d]*size {
					merge = false
					break
				}
			}
			if merge {
				l.dims[p] *= size
				for o := range strides {
					l.st[o][p] = strides[o][d]
				}
				continue
			}
		}
		l.dims = append(l.dims, size)
		for o := range strides {
			l.st[o] = append(l.st[o], strides[o][d])
		}
	}
	return l
}

// parMinWork is the number of index points below which a loop stays on one
// goroutine: starting more would cost more than it saves.
const parMinWork = 1 << 16

// run calls fn for every innermost run with the operands' start offsets
// (base plus the run's position), the run length and the operands' inner
// strides. fn may modify off. When split is set and operand 0 (by convention
// the one written) has a non-zero stride along the outermost dimension, the
// outermost dimension is split across goroutines; fn must then be safe for
// concurrent calls on disjoint parts of operand 0.
func (l *ndLoop) run(base []int, split bool, fn func(off []int, n int, inc []int)) {
	if l.n == 0 {
		return
	}
	if len(l.dims) == 0 {
		off := append([]int(nil), base...)
		fn(off, 1, make([]int, len(base)))
		return
	}
	workers := runtime.GOMAXPROCS(0)
	if !split || workers < 2 || l.n < parMinWork || l.dims[0] < 2 || l.st[0][0] == 0 {
		l.runRange(base, 0, l.dims[0], fn)
		return
	}
	par.For(l.dims[0], max(1, l.dims[0]*parMinWork/l.n), func(lo, hi int) {
		l.runRange(base, lo, hi, fn)
	})
}

// runRange runs the part of the loop whose outermost index is in [lo, hi).
func (l *ndLoop) runRange(base []int, lo, hi int, fn func(off []int, n int, inc []int)) {
	k := len(l.st)
	last := len(l.dims) - 1
	inc := make([]int, k)
	cur := make([]int, k)
	off := make([]int, k)
	for o := range k {
		inc[o] = l.st[o][last]
		cur[o] = base[o] + lo*l.st[o][0]
	}
	if last == 0 {
		copy(off, cur)
		fn(off, hi-lo, inc)
		return
	}
	idx := make([]int, last)
	idx[0] = lo
	for {
		copy(off, cur)
		fn(off, l.dims[last], inc)
		d := last - 1
		for ; d >= 0; d-- {
			idx[d]++
			for o := range k {
				cur[o] += l.st[o][d]
			}
			limit := l.dims[d]
			if d == 0 {
				limit = hi
			}
			if idx[d] < limit {
				break
			}
			if d == 0 {
				return
			}
			for o := range k {
				cur[o] -= l.st[o][d] * l.dims[d]
			}
			idx[d] = 0
		}
	}
}

// rowsFor runs fn over rows×per elements, in parallel for large sizes, as
// calls fn(row, lo, hi) on the index range [lo, hi) of one row.
func rowsFor(rows, per int, fn func(row, lo, hi int)) {
	par.For(rows*per, parMinWork, func(lo, hi int) {
		for lo < hi {
			r := lo / per
			end := min(hi, (r+1)*per)
			fn(r, lo-r*per, end-r*per)
			lo = end
		}
	})
}

// rowMajor returns the row-major strides of shape, with 0 for every unit
// dimension so that a unit dimension broadcasts.
func rowMajor(shape []int) []int {
	s := graph.Strides(shape)
	for d, n := range shape {
		if n == 1 {
			s[d] = 0
		}
	}
	return s
}

// bcastStrides returns the strides of a tensor of shape in read at the
// indices of shape out under numpy broadcasting: in is aligned to the right
// and its unit or missing dimensions get stride 0. in must broadcast to out.
func bcastStrides(in, out []int) []int {
	s := make([]int, len(out))
	copy(s[len(out)-len(in):], rowMajor(in))
	return s
}

// bcastShape returns the numpy broadcast of shapes.
func bcastShape(shapes ...[]int) ([]int, error) {
	rank := 0
	for _, s := range shapes {
		rank = max(rank, len(s))
	}
	out := make([]int, rank)
	for i := range out {
		out[i] = 1
	}
	for _, s := range shapes {
		off := rank - len(s)
		for d, n := range s {
			switch o := out[off+d]; {
			case o == n || n == 1:
			case o == 1:
				out[off+d] = n
			default:
				return nil, fmt.Errorf("shapes %v do not broadcast", shapes)
			}
		}
	}
	return out, nil
}

// Roles of the operands of a backward loop (see seedLoop).
type role uint8

const (
	// seeded: a backward tensor with N·s rows (dy, dx).
	seeded role = iota
	// image: a forward data tensor, read at image b/s.
	image
	// constant: a folded constant whose leading dim is N or 1.
	constant
)

// seedLoop prepares a backward loop over a tensor of forward shape out (batch
// N) with s seeds per image: the index space is [N, s, out[1:]...]. Each
// operand is given by its forward shape, which must have out's rank and a
// leading dim of N (1 is allowed for a constant, which then broadcasts across
// images), and by its role.
func seedLoop(out []int, s int, shapes [][]int, roles []role) (*ndLoop, error) {
	if len(out) == 0 {
		return nil, fmt.Errorf("a scalar has no batch dimension")
	}
	n := out[0]
	dims := append([]int{n, s}, out[1:]...)
	st := make([][]int, len(shapes))
	for o, sh := range shapes {
		if len(sh) != len(out) || (sh[0] != n && (sh[0] != 1 || roles[o] != constant)) {
			return nil, fmt.Errorf("an operand of shape %v is broadcast along the batch dimension of %v", sh, out)
		}
		per := graph.NumElements(sh[1:])
		st[o] = make([]int, len(dims))
		copy(st[o][2:], bcastStrides(sh[1:], out[1:]))
		switch {
		case roles[o] == seeded:
			st[o][0], st[o][1] = s*per, per
		case sh[0] != 1:
			st[o][0] = per
		}
	}
	return newNDLoop(dims, st...), nil
}

// seedsOf returns the number of seeds per image of a backward tensor dy for
// a forward tensor y (its rows are a multiple of y's batch), checking that
// the other dims agree.
func seedsOf(y, dy *graph.Tensor) (int, error) {
	if len(y.Shape) == 0 || len(dy.Shape) != len(y.Shape) {
		return 0, fmt.Errorf("backward tensor of shape %v for a forward tensor of shape %v", dy.Shape, y.Shape)
	}
	n, m := y.Shape[0], dy.Shape[0]
	if n == 0 || m%n != 0 || !graph.SameShape(y.Shape[1:], dy.Shape[1:]) {
		return 0, fmt.Errorf("backward tensor of shape %v does not hold whole seeds for a forward tensor of shape %v", dy.Shape, y.Shape)
	}
	return m / n, nil
}

// noProduct reports whether a backward product through a one-input,
// one-output node has nothing to do (dy or dx is nil), clearing dx first
// when the product is to be stored (set) and no dy arrives.
func noProduct(dy, dx *graph.Tensor, set bool) bool {
	if set && dy == nil && dx != nil {
		clear(dx.Data)
	}
	return dy == nil || dx == nil
}

// backwardSeeds checks the vectors of a backward product through a node
// with one data input x and one output y: it returns the seeds per image,
// and ok false when dy or dx is nil (nothing to do) or, with err, when a
// shape does not fit.
func backwardSeeds(x, y, dy, dx *graph.Tensor) (s int, ok bool, err error) {
	if dy == nil || dx == nil {
		return 0, false, nil
	}
	if s, err = seedsOf(y, dy); err != nil {
		return 0, false, err
	}
	if err = checkGrad(x, dx, s); err != nil {
		return 0, false, err
	}
	return s, true, nil
}

// checkGrad checks that a backward tensor dx has the shape of forward
// tensor x with s seeds per image.
func checkGrad(x, dx *graph.Tensor, s int) error {
	if len(x.Shape) == 0 || len(dx.Shape) != len(x.Shape) || dx.Shape[0] != x.Shape[0]*s || !graph.SameShape(x.Shape[1:], dx.Shape[1:]) {
		return fmt.Errorf("backward tensor of shape %v for a forward tensor of shape %v with %d seeds per image", dx.Shape, x.Shape, s)
	}
	return nil
}

// normAxis maps axis in [-rank, rank) to [0, rank).
func normAxis(axis int64, rank int) (int, error) {
	if axis < -int64(rank) || axis >= int64(rank) {
		return 0, fmt.Errorf("axis %d is out of range for rank %d", axis, rank)
	}
	if axis < 0 {
		axis += int64(rank)
	}
	return int(axis), nil
}

// normAxes normalises a list of axes for rank and rejects duplicates.
func normAxes(axes []int64, rank int) ([]int, error) {
	out := make([]int, len(axes))
	seen := make([]bool, rank)
	for i, a := range axes {
		d, err := normAxis(a, rank)
		if err != nil {
			return nil, err
		}
		if seen[d] {
			return nil, fmt.Errorf("axis %d is repeated in %v", a, axes)
		}
		seen[d], out[i] = true, d
	}
	return out, nil
}

// intLimit bounds the integers read from constants: ONNX uses INT64_MAX and
// INT64_MIN as "to the end" markers, which float64 cannot convert back to
// int64 safely.
const intLimit = 1 << 62

// constInts returns a constant's values as integers clamped to ±intLimit.
func constInts(c *graph.Const) []int64 {
	out := make([]int64, len(c.V))
	for i, v := range c.V {
		switch {
		case v >= intLimit:
			out[i] = intLimit
		case v <= -intLimit:
			out[i] = -intLimit
		default:
			out[i] = int64(v)
		}
	}
	return out
}

// scalarConst returns the single value of a constant operand.
func scalarConst(s *graph.NodeSpec, c *graph.Const, what string) (float32, error) {
	if len(c.V) != 1 {
		return 0, s.Errorf("%s must be a scalar, has shape %v", what, c.Shape)
	}
	return float32(c.V[0]), nil
}

// withSeeds returns the backward shape for a forward shape with s seeds per
// image: the leading dim multiplied by s.
func withSeeds(shape []int, s int) []int {
	out := append([]int(nil), shape...)
	out[0] *= s
	return out
}

// maxInputs checks that no input past the first n is present (inputs that
// only later opsets define, or none at all).
func maxInputs(s *graph.NodeSpec, n int) error {
	for i := n; i < len(s.Inputs); i++ {
		if !s.Inputs[i].Absent() {
			return s.Errorf("input %d is not defined in opset %d (at most %d inputs)", i, s.Opset, n)
		}
	}
	return nil
}
