package ops

import (
	"fmt"
	"slices"

	"github.com/paneonnx/paneonnx/graph"
)

func init() { graph.Register("Pad", newPad) }

// Pad pads (or, with negative pads, crops) each dim: mode constant, reflect,
// edge, or wrap (opset 19). pads and the constant value are attributes in
// opsets 9-10 and constant inputs from 11; axes (opset 18) selects the dims
// pads refers to. Negative pads crop first; the positive ones then pad the
// cropped tensor (as ONNX Runtime does).
//
// Routing node: an output element is a copy of one input element (several
// outputs may copy the same one in reflect, edge and wrap modes; backward
// adds them all up), or in constant mode the padding value, which is c.
// Backward needs no padding of the batch dim.
type Pad struct {
	mode  string
	pads  []int64
	axes  []int64 // nil: all dims
	value float32
}

func newPad(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	p := &Pad{}
	var err error
	if p.mode, err = s.String("mode", "constant"); err != nil {
		return nil, err
	}
	switch p.mode {
	case "constant", "reflect", "edge":
	case "wrap":
		if s.Opset < 19 {
			return nil, s.Errorf("mode wrap needs opset 19")
		}
	default:
		return nil, s.Errorf("mode %q is not one of constant, reflect, edge, wrap", p.mode)
	}
	inputs := 1
	switch {
	case s.Opset >= 18:
		inputs = 4
	case s.Opset >= 11:
		inputs = 3
	}
	if err := maxInputs(s, inputs); err != nil {
		return nil, err
	}
	if s.Opset < 11 {
		if p.pads, err = s.Ints("pads", nil); err != nil {
			return nil, err
		}
		if p.pads == nil {
			return nil, s.Errorf("attribute pads is missing")
		}
		if p.value, err = s.Float("value", 0); err != nil {
			return nil, err
		}
	} else {
		c, err := s.ConstInput(1, "pads", false)
		if err != nil {
			return nil, err
		}
		p.pads = constInts(c)
		if c, err = s.ConstInput(2, "constant_value", true); err != nil {
			return nil, err
		} else if c != nil {
			if p.value, err = scalarConst(s, c, "constant_value"); err != nil {
				return nil, err
			}
		}
		if c, err = s.ConstInput(3, "axes", true); err != nil {
			return nil, err
		} else if c != nil {
			p.axes = constInts(c)
		}
	}
	n := len(p.pads) / 2
	if len(p.pads)%2 != 0 || (p.axes != nil && len(p.axes) != n) {
		return nil, s.Errorf("pads %v does not hold a begin and an end for each of axes %v", p.pads, p.axes)
	}
	for _, v := range p.pads {
		if v > graph.MaxElements || v < -graph.MaxElements {
			return nil, s.Errorf("pads %v are too large", p.pads)
		}
	}
	return p, nil
}

// Type implements graph.Op.
func (p *Pad) Type() string { return "Pad" }

// NonNegativeOutputs implements graph.NonNegativeOp: copies of the input
// and, in constant mode, the padding value.
func (p *Pad) NonNegativeOutputs(in []bool) bool {
	return in[0] && (p.mode != "constant" || p.value >= 0)
}

// ZeroPadding returns the begin and end pads of every input dim when the
// Pad only adds zeros (constant mode, value 0, no cropping, pads given for
// every dim); ok is false otherwise.
func (p *Pad) ZeroPadding() (begin, end []int, ok bool) {
	if p.mode != "constant" || p.value != 0 || p.axes != nil {
		return nil, nil, false
	}
	begin, end, err := p.padsFor(len(p.pads) / 2)
	if err != nil || !uncropped(begin, end) {
		return nil, nil, false
	}
	return begin, end, true
}

// uncropped reports whether no pad is negative, so that every input element
// appears in the output.
func uncropped(begin, end []int) bool {
	negative := func(v int) bool { return v < 0 }
	return !slices.ContainsFunc(begin, negative) && !slices.ContainsFunc(end, negative)
}

// padsFor returns the begin and end pads of every dim of a rank-r input.
func (p *Pad) padsFor(r int) (begin, end []int, err error) {
	begin, end = make([]int, r), make([]int, r)
	axes := p.axes
	if axes == nil {
		if len(p.pads) != 2*r {
			return nil, nil, fmt.Errorf("pads %v for an input of rank %d", p.pads, r)
		}
		axes = make([]int64, r)
		for i := range axes {
			axes[i] = int64(i)
		}
	}
	ax, err := normAxes(axes, r)
	if err != nil {
		return nil, nil, err
	}
	for i, d := range ax {
		begin[d], end[d] = int(p.pads[i]), int(p.pads[i+len(ax)])
	}
	return begin, end, nil
}

// Infer implements graph.Op.
func (p *Pad) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	begin, end, err := p.padsFor(len(in[0]))
	if err != nil {
		return nil, err
	}
	out := make([]int, len(in[0]))
	for d, n := range in[0] {
		out[d] = n + begin[d] + end[d]
		if out[d] < 0 {
			return nil, fmt.Errorf("pads %v crop more than dim %d of %v", p.pads, d, in[0])
		}
		if out[d] > 0 && n+min(begin[d], 0)+min(end[d], 0) <= 0 && p.mode != "constant" {
			return nil, fmt.Errorf("mode %s cannot pad the empty dim %d of %v", p.mode, d, in[0])
		}
	}
	return [][]int{out}, nil
}

// maps returns, per dim of the output, the input index each output index
// copies, or -1 for the padding value (constant mode); indices along dim d
// are pre-multiplied by the input's stride. in is the input shape (its dim
// 0 may count seeds), out the output's.
func (p *Pad) maps(in, out []int) ([][]int, error) {
	begin, end, err := p.padsFor(len(in))
	if err != nil {
		return nil, err
	}
	st := graph.Strides(in)
	m := make([][]int, len(in))
	for d := range in {
		lo := max(-begin[d], 0)           // first input index kept
		n := in[d] - lo - max(-end[d], 0) // length of the kept range
		m[d] = make([]int, out[d])
		for o := range m[d] {
			i := o - max(begin[d], 0) // index into the kept range
			switch {
			case i >= 0 && i < n:
			case p.mode == "constant":
				m[d][o] = -1
				continue
			case p.mode == "edge":
				i = min(max(i, 0), n-1)
			case p.mode == "wrap":
				i = ((i % n) + n) % n
			case n == 1: // reflect
				i = 0
			default:
				period := 2 * (n - 1)
				i = ((i % period) + period) % period
				if i >= n {
					i = period - i
				}
			}
			m[d][o] = (lo + i) * st[d]
		}
	}
	return m, nil
}

// walk calls fn(o, base, last) for every innermost row of the output: o is
// the output index of the row's first element, base the input offset of the
// row or -1 when the row lies in the padding, last the map of the last dim.
func walk(m [][]int, out []int, fn func(o, base int, last []int)) {
	if graph.NumElements(out) == 0 {
		return
	}
	r := len(out)
	if r == 0 {
		fn(0, 0, []int{0})
		return
	}
	idx := make([]int, r-1)
	for o := 0; ; o += out[r-1] {
		base := 0
		for d, k := range idx {
			if m[d][k] < 0 {
				base = -1
				break
			}
			base += m[d][k]
		}
		fn(o, base, m[r-1])
		d := r - 2
		for ; d >= 0; d-- {
			if idx[d]++; idx[d] < out[d] {
				break
			}
			idx[d] = 0
		}
		if d < 0 {
			return
		}
	}
}

// Forward implements graph.Op.
func (p *Pad) Forward(in, out []*graph.Tensor) error {
	x, y := in[0], out[0]
	m, err := p.maps(x.Shape, y.Shape)
	if err != nil {
		return err
	}
	lo, hi, run := contiguous(lastMap(m))
	walk(m, y.Shape, func(o, base int, last []int) {
		row := y.Data[o : o+len(last)]
		switch {
		case base < 0:
			setAll(row, p.value)
		case run:
			setAll(row[:lo], p.value)
			if hi > lo {
				copy(row[lo:hi], x.Data[base+last[lo]:])
			}
			setAll(row[hi:], p.value)
		default:
			for j, v := range last {
				if v < 0 {
					row[j] = p.value
				} else {
					row[j] = x.Data[base+v]
				}
			}
		}
	})
	return nil
}

// lastMap is the map of the innermost dim as walk passes it.
func lastMap(m [][]int) []int {
	if len(m) == 0 {
		return []int{0}
	}
	return m[len(m)-1]
}

// contiguous reports whether a last-dim map copies one run of consecutive
// input elements into [lo, hi), with padding (-1) on either side: constant
// mode, and any mode that leaves the innermost dim unpadded. Rows then
// copy with one call.
func contiguous(last []int) (lo, hi int, ok bool) {
	for lo < len(last) && last[lo] < 0 {
		lo++
	}
	for hi = lo; hi < len(last) && last[hi] >= 0 && (hi == lo || last[hi] == last[hi-1]+1); hi++ {
	}
	for _, v := range last[hi:] {
		if v >= 0 {
			return 0, 0, false
		}
	}
	return lo, hi, true
}

func setAll(row []float32, v float32) {
	if v == 0 {
		clear(row)
		return
	}
	for j := range row {
		row[j] = v
	}
}

// Backward implements graph.Backprop: every output adds its dy to the input
// element it copies, in every mode.
func (p *Pad) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return p.backward(x, y, dy, dx, false)
}

// BackwardSet implements graph.BackwardSetter.
func (p *Pad) BackwardSet(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return p.backward(x, y, dy, dx, true)
}

func (p *Pad) backward(x, y, dy, dx []*graph.Tensor, set bool) error {
	if noProduct(dy[0], dx[0], set) {
		return nil
	}
	_, ok, err := backwardSeeds(x[0], y[0], dy[0], dx[0])
	if !ok {
		return err
	}
	begin, end, err := p.padsFor(len(x[0].Shape))
	if err != nil {
		return err
	} else if begin[0] != 0 || end[0] != 0 {
		return fmt.Errorf("padding of the batch dim")
	}
	m, err := p.maps(dx[0].Shape, dy[0].Shape)
	if err != nil {
		return err
	}
	d, g := dx[0].Data, dy[0].Data
	// In constant mode without cropping every input element is copied
	// exactly once, so a stored product needs no clearing first.
	once := p.mode == "constant" && uncropped(begin, end)
	if set && !once {
		clear(d)
	}
	store := set && once
	lo, hi, run := contiguous(lastMap(m))
	walk(m, dy[0].Shape, func(o, base int, last []int) {
		switch {
		case base < 0:
		case run && store:
			if hi > lo {
				copy(d[base+last[lo]:][:hi-lo], g[o+lo:o+hi])
			}
		case run:
			if hi > lo {
				for j, v := range g[o+lo : o+hi] {
					d[base+last[lo]+j] += v
				}
			}
		default:
			for j, v := range last {
				if v >= 0 {
					d[base+v] += g[o+j]
				}
			}
		}
	})
	return nil
}

// Offset implements graph.Backprop: in constant mode with a non-zero value,
// the value on the padding and 0 elsewhere.
func (p *Pad) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	if p.mode != "constant" || p.value == 0 {
		return nil
	}
	m, err := p.maps(x[0].Shape, y[0].Shape)
	if err != nil {
		return nil
	}
	c := graph.New(y[0].Shape...)
	walk(m, y[0].Shape, func(o, base int, last []int) {
		for j, v := range last {
			if base < 0 || v < 0 {
				c.Data[o+j] = p.value
			}
		}
	})
	return []*graph.Tensor{c}
}

// Terms implements graph.Backprop.
func (p *Pad) Terms() graph.Terms { return graph.Routing }
