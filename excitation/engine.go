// Package excitation is the backward engine of paneonnx: it walks a graph
// from seed vectors back to any tensor, multiplying by each node's true
// Jacobian (Grad) or by the positive and negative excitation matrices of
// PANE (SPEC §5), batched over seeds and images. It knows no operator: the
// operators supply their products through graph.Backprop.
package excitation

import (
	"fmt"
	"math"
	"sync"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
	"github.com/paneonnx/paneonnx/kernels"
)

// Mode selects the matrices the engine multiplies.
type Mode uint8

const (
	// Grad: the true Jacobian (gradients for the CAM baselines and
	// Gradient×Input).
	Grad Mode = iota
	// Coef: each node's local linear coefficients A, not split by sign.
	Coef
	// ExcPos: Exc+ at every node. Read at the input this is relative PANE's
	// r-Exc+, the map IOM is built on.
	ExcPos
	// ExcNeg: Exc− at every node.
	ExcNeg
	// RelNeg: relative PANE's r-Exc−: Exc− at the last linear node before
	// the seed tensor, Exc+ everywhere else.
	RelNeg
	// Full: full PANE, the sums over all sign paths (P: even number of
	// negative steps, M: odd), carried as S = P + M and D = P − M.
	Full
)

var modeNames = map[Mode]string{Grad: "grad", Coef: "coef", ExcPos: "exc+", ExcNeg: "exc-", RelNeg: "r-exc-", Full: "full"}

func (m Mode) String() string { return modeNames[m] }

// ParseMode returns the mode named s (as String prints it).
func ParseMode(s string) (Mode, error) {
	for m, name := range modeNames {
		if name == s {
			return m, nil
		}
	}
	return 0, fmt.Errorf("unknown backward mode %q", s)
}

// Request is one backward pass.
type Request struct {
	Mode Mode
	// SeedTensor is the tensor the seeds sit on (the logits, or any tensor
	// for neuron and channel explanations).
	SeedTensor string
	// Seeds holds the seed vectors: shape [N·S, dims of SeedTensor after the
	// batch], row b belonging to image b/S.
	Seeds *graph.Tensor
	// Read names tensors whose vectors the result keeps; the graph inputs
	// are always kept.
	Read []string
}

// Result is what a backward pass computed.
type Result struct {
	Mode Mode
	// At holds the vectors read at the requested tensors. In Full mode it
	// holds S = P + M.
	At map[string]*Vec
	// D holds D = P − M at the requested tensors (Full mode only).
	D map[string]*Vec
	// Completeness has one entry per seed row (Full mode only).
	Completeness []Completeness
}

// Completeness is the lossless decomposition of one seed's target value
// (SPEC §5.6): Target = S·x + Σ S_out·c, split as EPos + ENeg with
// EPos − ENeg = Delta = D·x + Σ D_out·c.
type Completeness struct {
	// Target is seed·y at the seed tensor (the logit for a one-hot seed).
	Target float64
	// Reconstructed is S·x + Σ_nodes S_out·c.
	Reconstructed float64
	// Delta is D·x + Σ_nodes D_out·c, in float64 (it may be around 1e66).
	Delta float64
	// EPos and ENeg are (Target ± Delta)/2: the positive and negative
	// excitation of the target.
	EPos, ENeg float64
}

// Residual returns |Target − Reconstructed| / |Target|, the
// well-conditioned completeness check (the absolute residual when the
// target is zero).
func (c Completeness) Residual() float64 {
	r := math.Abs(c.Target - c.Reconstructed)
	if c.Target != 0 {
		r /= math.Abs(c.Target)
	}
	return r
}

// SplitResidual returns |Target − (EPos + ENeg)| / (|EPos| + |ENeg|) with
// EPos and ENeg built from the reconstruction: the identity of the E+/E−
// split relative to its own magnitude.
func (c Completeness) SplitResidual() float64 {
	ep, en := (c.Reconstructed+c.Delta)/2, (c.Reconstructed-c.Delta)/2
	den := math.Abs(ep) + math.Abs(en)
	if den == 0 {
		return math.Abs(c.Target)
	}
	return math.Abs(c.Target-(ep+en)) / den
}

// Backward runs one backward pass over a lowered forward pass.
func (l *Lowered) Backward(req Request) (*Result, error) {
	seedY, ok := l.Acts[req.SeedTensor]
	if !ok {
		return nil, fmt.Errorf("seed tensor %q is not a tensor of the forward pass", req.SeedTensor)
	}
	rows := req.Seeds.Batch()
	if rows%l.Images != 0 || !graph.SameShape(req.Seeds.Shape[1:], seedY.Shape[1:]) {
		return nil, fmt.Errorf("seeds of shape %v do not fit tensor %q of shape %v", req.Seeds.Shape, req.SeedTensor, seedY.Shape)
	}
	w := &walk{l: l, req: req, perImage: rows / l.Images, keep: map[string]bool{}, buffers: getPool(), gated: map[string]bool{}}
	defer pools.Put(w.buffers)
	for _, name := range append(append([]string(nil), l.G.Inputs...), req.Read...) {
		w.keep[name] = true
	}
	if req.Mode == RelNeg {
		w.negNode = l.lastLinear(req.SeedTensor)
	}
	seed := &Vec{T: req.Seeds.Clone(), Log2Scale: make([]float64, rows)}
	w.s = map[string]*Vec{req.SeedTensor: seed}
	res := &Result{Mode: req.Mode, At: map[string]*Vec{}}
	if req.Mode == Full {
		w.d = map[string]*Vec{req.SeedTensor: {T: req.Seeds.Clone(), Log2Scale: make([]float64, rows)}}
		w.sC, w.dC = make([]float64, rows), make([]float64, rows)
		res.D = map[string]*Vec{}
	}
	for i := len(l.G.Nodes) - 1; i >= 0; i-- {
		if err := w.node(l.G.Nodes[i]); err != nil {
			return nil, err
		}
	}
	for name := range w.keep {
		if v, ok := w.s[name]; ok {
			res.At[name] = v
		} else if t, ok := l.Acts[name]; ok {
			res.At[name] = newVec(append([]int{rows}, t.Shape[1:]...)) // unreachable from the seed: zero
		}
		if req.Mode == Full {
			if v, ok := w.d[name]; ok {
				res.D[name] = v
			} else if t, ok := l.Acts[name]; ok {
				res.D[name] = newVec(append([]int{rows}, t.Shape[1:]...))
			}
		}
	}
	if req.Mode == Full {
		res.Completeness = w.completeness(seedY)
	}
	return res, nil
}

// walk is the state of one backward pass: the accumulated vectors per
// tensor (s: the mode's vector, or S in Full mode; d: D in Full mode) and
// the running sums Σ S_out·c and Σ D_out·c per row (log-scaled for D).
type walk struct {
	l        *Lowered
	req      Request
	perImage int
	keep     map[string]bool
	negNode  *graph.Node
	s, d     map[string]*Vec
	sC, dC   []float64
	buffers  pool
	// gated marks the tensors whose vector already carries the product of
	// the window node that made them (see gate).
	gated map[string]bool
}

// release drops the vector at tensor name and offers its buffer for reuse
// (unless a product took it over).
func (w *walk) release(acc map[string]*Vec, name string) {
	if v, ok := acc[name]; ok {
		delete(acc, name)
		if v.T != nil {
			w.buffers.put(v.T)
		}
	}
}

// pool recycles the buffers of backward vectors that are no longer needed,
// by size, sparing allocations and page faults on every node.
type pool map[int][][]float32

// pools keeps the buffers of finished backward passes for the next ones:
// freshly allocated buffers cost page faults and garbage collection.
var pools sync.Pool

func getPool() pool {
	if p, ok := pools.Get().(pool); ok {
		return p
	}
	return pool{}
}

// get returns a tensor of the given shape with unspecified contents.
func (p pool) get(shape []int) *graph.Tensor {
	n := graph.NumElements(shape)
	if bufs := p[n]; len(bufs) > 0 {
		p[n] = bufs[:len(bufs)-1]
		return &graph.Tensor{Shape: append([]int(nil), shape...), Data: bufs[len(bufs)-1]}
	}
	return graph.New(shape...)
}

// zeroed returns a zero tensor of the given shape.
func (p pool) zeroed(shape []int) *graph.Tensor {
	t := p.get(shape)
	clear(t.Data)
	return t
}

func (p pool) put(t *graph.Tensor) {
	p[len(t.Data)] = append(p[len(t.Data)], t.Data)
}

func (w *walk) node(n *graph.Node) error {
	ln := w.l.nodes[n]
	dyS, any := w.outputs(w.s, n)
	if !any {
		return nil
	}
	x, y, err := w.l.io(n)
	if err != nil {
		return err
	}
	switch w.req.Mode {
	case Grad, Coef:
		mode := graph.Grad
		if w.req.Mode == Coef {
			mode = graph.Coef
		}
		dx, err := w.product(n, ln, mode, x, y, dyS, false)
		if err != nil {
			return err
		}
		w.accumulate(w.s, n, dx, false)
	case ExcPos, ExcNeg, RelNeg:
		if w.passGated(n, dyS) {
			break
		}
		positive := w.req.Mode == ExcPos || (w.req.Mode == RelNeg && n != w.negNode)
		dx, err := w.exc(n, ln, x, y, dyS, positive)
		if err != nil {
			return err
		}
		w.accumulate(w.s, n, dx, true)
	case Full:
		dyD, _ := w.outputs(w.d, n)
		w.offsets(ln, dyS, w.sC)
		w.offsets(ln, dyD, w.dC)
		var sIn, dIn []*Vec
		if ln.bp.Terms() != graph.MultiTerm {
			if sIn, err = w.product(n, ln, graph.Coef, x, y, dyS, false); err != nil {
				return err
			}
			if dIn, err = w.product(n, ln, graph.Coef, x, y, dyD, false); err != nil {
				return err
			}
		} else {
			if sIn, err = w.product(n, ln, graph.Coef, x, y, dyS, false); err != nil {
				return err
			}
			if dIn, err = w.product(n, ln, graph.AbsCoef, x, y, dyD, true); err != nil {
				return err
			}
			for i := range sIn {
				nonZeroSign(sIn[i], x[i], w.perImage, false)
				nonZeroSign(dIn[i], x[i], w.perImage, true)
			}
		}
		w.accumulate(w.s, n, sIn, false)
		w.accumulate(w.d, n, dIn, true)
	}
	for _, o := range n.Outputs {
		if !w.keep[o] {
			w.release(w.s, o)
			if w.d != nil {
				w.release(w.d, o)
			}
		}
	}
	return nil
}

// outputs collects the vectors at the node's outputs, aligned to one scale
// per row; missing ones are nil. any reports whether one is present.
func (w *walk) outputs(acc map[string]*Vec, n *graph.Node) (vs []*Vec, any bool) {
	vs = make([]*Vec, len(n.Outputs))
	for i, o := range n.Outputs {
		vs[i] = acc[o]
		any = any || vs[i] != nil
	}
	if len(vs) > 1 && any {
		alignRows(vs)
	}
	return vs, any
}

// alignRows rescales the present vectors so that each row has one scale.
func alignRows(vs []*Vec) {
	var first *Vec
	for _, v := range vs {
		if v != nil && first == nil {
			first = v
		}
	}
	for b := range first.Rows() {
		top := math.Inf(-1)
		for _, v := range vs {
			if v != nil {
				top = math.Max(top, v.Log2Scale[b])
			}
		}
		for _, v := range vs {
			if v != nil {
				scaleRow(v.Row(b), v.Log2Scale[b]-top)
				v.Log2Scale[b] = top
			}
		}
	}
}

// product computes Mᵀ·dy for every input of n, with M chosen by mode; when
// signed is true each output vector is first multiplied by the output
// signs s. The results carry the outputs' row scales.
func (w *walk) product(n *graph.Node, ln *lowNode, mode graph.Mode, x, y []*graph.Tensor, dy []*Vec, signed bool) ([]*Vec, error) {
	dyT := tensors(dy)
	var copies []*graph.Tensor // signed vectors in buffers of their own
	if signed {
		for o, v := range dy {
			if v == nil {
				continue
			}
			// The node is the last to read an output's vector unless the
			// caller keeps it: the signs can then overwrite it, sparing a
			// buffer and a pass over fresh memory.
			out := v.T
			if w.keep[n.Outputs[o]] {
				out = w.buffers.get(v.T.Shape)
				copies = append(copies, out)
			}
			dyT[o] = w.signed(ln, o, y[o], v.T, out)
		}
	}
	setter, set := ln.bp.(graph.BackwardSetter)
	var dx []*graph.Tensor
	if w.inPlace(n, ln, x, y, dy, set && !signed) {
		// The product overwrites the output's vector, which the node is
		// the last to read.
		dx = []*graph.Tensor{dy[0].T}
		defer func() { dy[0].T = nil }()
	} else {
		dx = w.inputBuffers(x, dy0(dy).Rows(), !set) // BackwardSet overwrites them
	}
	backward := ln.bp.Backward
	if set {
		backward = setter.BackwardSet
	}
	if err := backward(mode, x, y, dyT, dx); err != nil {
		return nil, fmt.Errorf("node %q (%s) backward (%s): %w", n.Name, n.Op.Type(), mode, err)
	}
	for _, t := range copies {
		w.buffers.put(t)
	}
	return withScale(dx, dy0(dy).Log2Scale), nil
}

// inPlace reports whether the node's product can overwrite the vector at
// its output: a graph.InPlaceSetter storing its product (set), one input and
// one output of one shape, and an output vector nothing reads after it.
func (w *walk) inPlace(n *graph.Node, ln *lowNode, x, y []*graph.Tensor, dy []*Vec, set bool) bool {
	if _, ok := ln.bp.(graph.InPlaceSetter); !ok || !set || len(x) != 1 || len(dy) != 1 || dy[0] == nil || dy[0].T == nil {
		return false
	}
	return !w.keep[n.Outputs[0]] && graph.SameShape(x[0].Shape[1:], y[0].Shape[1:])
}

// excProduct runs the node's own excitation product when it has one that
// applies (graph.ExcBackprop); ok is false otherwise.
func (w *walk) excProduct(n *graph.Node, ln *lowNode, x, y []*graph.Tensor, dy []*Vec, positive bool) (out []*Vec, ok bool, err error) {
	eb, has := ln.bp.(graph.ExcBackprop)
	if !has {
		return nil, false, nil
	}
	nonNeg := make([]bool, len(n.Inputs))
	for i, name := range n.Inputs {
		nonNeg[i] = w.l.nonNegative(name)
	}
	gate := w.gate(n)
	dx := w.inputBuffers(x, dy0(dy).Rows(), false) // BackwardExc overwrites them
	ok, top, err := eb.BackwardExc(positive, x, y, tensors(dy), dx, nonNeg, gate)
	if ok && gate != nil {
		w.gated[n.Inputs[0]] = true
	}
	if err != nil || !ok {
		for _, t := range dx {
			w.buffers.put(t)
		}
		if err != nil {
			err = fmt.Errorf("node %q (%s) excitation backward: %w", n.Name, n.Op.Type(), err)
		}
		return nil, false, err
	}
	out = withScale(dx, dy0(dy).Log2Scale)
	if top != nil {
		for b, m := range top {
			out[0].normalizeRow(b, m)
		}
		out[0].normalized = true
	}
	return out, true, nil
}

// gate returns the product of the node making n's input when n's product
// can take it in: the input's vector is then n's product alone, and nobody
// reads it.
func (w *walk) gate(n *graph.Node) *graph.Gate {
	g, ok := w.l.gates[n]
	if !ok || w.keep[n.Inputs[0]] || n.Inputs[0] == w.req.SeedTensor {
		return nil
	}
	return &graph.Gate{Window: g.window, Input: w.l.Acts[g.input]}
}

// passGated moves the vector at the output of a window node whose consumer
// took in its product (gated) to its input, unchanged, and reports whether
// it did.
func (w *walk) passGated(n *graph.Node, dy []*Vec) bool {
	if len(n.Outputs) != 1 || !w.gated[n.Outputs[0]] {
		return false
	}
	v := dy[0]
	w.accumulate(w.s, n, []*Vec{{T: v.T, Log2Scale: v.Log2Scale, normalized: v.normalized}}, true)
	v.T = nil // moved, not released
	return true
}

// tensors returns the tensors of vs (nil where a vector is nil).
func tensors(vs []*Vec) []*graph.Tensor {
	ts := make([]*graph.Tensor, len(vs))
	for i, v := range vs {
		if v != nil {
			ts[i] = v.T
		}
	}
	return ts
}

// inputBuffers returns pooled backward tensors of rows rows for the node
// inputs x, zeroed when zero is set.
func (w *walk) inputBuffers(x []*graph.Tensor, rows int, zero bool) []*graph.Tensor {
	dx := make([]*graph.Tensor, len(x))
	for i, t := range x {
		shape := append([]int{rows}, t.Shape[1:]...)
		if zero {
			dx[i] = w.buffers.zeroed(shape)
		} else {
			dx[i] = w.buffers.get(shape)
		}
	}
	return dx
}

// withScale wraps backward tensors as vectors carrying copies of scale.
func withScale(ts []*graph.Tensor, scale []float64) []*Vec {
	out := make([]*Vec, len(ts))
	for i, t := range ts {
		out[i] = &Vec{T: t, Log2Scale: append([]float64(nil), scale...)}
	}
	return out
}

func dy0(dy []*Vec) *Vec {
	for _, v := range dy {
		if v != nil {
			return v
		}
	}
	return nil
}

// exc computes Exc±ᵀ·dy (SPEC §5.2). Single-term and routing nodes are
// positive excitation only. For multi-term nodes, with a = Aᵀv and
// b = |A|ᵀ(s⊙v): Exc±ᵀv = ½·1[x≠0]·(a ± sign(x)·b).
func (w *walk) exc(n *graph.Node, ln *lowNode, x, y []*graph.Tensor, dy []*Vec, positive bool) ([]*Vec, error) {
	if ln.bp.Terms() != graph.MultiTerm {
		if positive {
			return w.product(n, ln, graph.Coef, x, y, dy, false)
		}
		out := make([]*Vec, len(x))
		for i, t := range x {
			out[i] = newVec(append([]int{dy0(dy).Rows()}, t.Shape[1:]...))
		}
		return out, nil
	}
	if out, ok, err := w.excProduct(n, ln, x, y, dy, positive); ok || err != nil {
		return out, err
	}
	a, err := w.product(n, ln, graph.Coef, x, y, dy, false)
	if err != nil {
		return nil, err
	}
	b, err := w.product(n, ln, graph.AbsCoef, x, y, dy, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, v := range b {
			w.buffers.put(v.T)
		}
	}()
	for i := range a {
		per := len(x[i].Data) / x[i].Batch()
		ad, bd := a[i].T.Data, b[i].T.Data
		for r := range a[i].Rows() {
			xr := imageRow(x[i], r/w.perImage, per)
			ar, br := ad[r*per:(r+1)*per], bd[r*per:(r+1)*per]
			top := parMaxBits(per, func(lo, hi int) uint32 {
				return kernels.CombineExc(ar[lo:hi], br[lo:hi], xr[lo:hi], !positive)
			})
			a[i].normalizeRow(r, top)
		}
		a[i].normalized = true
	}
	return a, nil
}

// imageRow returns image img of a forward tensor with per elements per image.
func imageRow(t *graph.Tensor, img, per int) []float32 {
	return t.Data[img*per : (img+1)*per]
}

// signed writes into out (v itself, or a buffer of v's shape) v (a backward
// vector at output o, forward value y) with row b multiplied element-wise by
// the output signs of image b/perImage, and returns out. Per-channel offsets
// are applied on the fly; other nodes use their cached signs.
func (w *walk) signed(ln *lowNode, o int, y, v, out *graph.Tensor) *graph.Tensor {
	if len(v.Data) == 0 {
		return out
	}
	c, ok := channelOffset(ln, o, y)
	per := len(y.Data) / y.Batch()
	if !ok {
		return multiplyRows(out, v, w.l.outputSigns(ln)[o], w.perImage)
	}
	plane := per
	if c != nil {
		plane = per / max(1, len(c))
	}
	for r := range v.Batch() {
		yr := imageRow(y, r/w.perImage, per)
		vr, or := v.Data[r*per:(r+1)*per], out.Data[r*per:(r+1)*per]
		par.For(per, parallelGrain, func(lo, hi int) {
			if c == nil {
				kernels.SignFlip(or[lo:hi], vr[lo:hi], yr[lo:hi], 0)
				return
			}
			for lo < hi {
				ch := lo / plane
				end := min(hi, (ch+1)*plane)
				kernels.SignFlip(or[lo:end], vr[lo:end], yr[lo:end], c[ch])
				lo = end
			}
		})
	}
	return out
}

// multiplyRows writes into out (v's shape) v with row b multiplied
// element-wise by the signs of image b/perImage, and returns out.
func multiplyRows(out, v *graph.Tensor, signs []float32, perImage int) *graph.Tensor {
	per := len(v.Data) / v.Batch()
	for r := range v.Batch() {
		sr := signs[(r/perImage)*per : (r/perImage+1)*per]
		vr, or := v.Data[r*per:(r+1)*per], out.Data[r*per:(r+1)*per]
		par.For(per, parallelGrain, func(lo, hi int) {
			for k := lo; k < hi; k++ {
				or[k] = vr[k] * sr[k]
			}
		})
	}
	return out
}

// nonZeroSign multiplies v by 1[x ≠ 0] (sign false) or sign(x) (sign true)
// of its image's forward input x.
func nonZeroSign(v *Vec, x *graph.Tensor, perImage int, sign bool) {
	per := len(x.Data) / x.Batch()
	for r := range v.Rows() {
		vr, xr := v.Row(r), imageRow(x, r/perImage, per)
		par.For(per, parallelGrain, func(lo, hi int) { kernels.NonZeroSign(vr[lo:hi], xr[lo:hi], sign) })
	}
}

// accumulate adds the node's input vectors into acc, renormalising scaled
// vectors first.
func (w *walk) accumulate(acc map[string]*Vec, n *graph.Node, dx []*Vec, scaled bool) {
	for i, name := range n.Inputs {
		v := dx[i]
		// Only multi-term nodes change magnitudes much (|A| does not
		// cancel); a check after each of them keeps float32 in range.
		if scaled && !v.normalized && w.l.nodes[n].bp.Terms() == graph.MultiTerm {
			v.normalize()
		}
		if prev, ok := acc[name]; ok {
			prev.add(v)
			w.buffers.put(v.T)
		} else {
			acc[name] = v
		}
	}
}

// offsets adds Σ_j v_j·c_j of every output to sum (per row, at true scale).
func (w *walk) offsets(ln *lowNode, dy []*Vec, sum []float64) {
	for o, v := range dy {
		if v == nil {
			continue
		}
		if c, ok := channelOffset(ln, o, v.T); ok {
			channelOffsets(v, c, sum)
			continue
		}
		c := w.l.offset(ln, o)
		if c == nil {
			continue
		}
		per := len(c.Data) / c.Batch()
		for b := range v.Rows() {
			img := b / w.perImage
			dot := kernels.DotF64(v.Row(b), c.Data[img*per:(img+1)*per])
			sum[b] += math.Ldexp(dot, int(v.Log2Scale[b]))
		}
	}
}

// channelOffset returns the node's offset of output o as one value per
// channel of v (nil when zero) and true, or false when it has no such form.
func channelOffset(ln *lowNode, o int, v *graph.Tensor) ([]float32, bool) {
	co, ok := ln.bp.(graph.ChannelOffsetter)
	if !ok {
		return nil, false
	}
	c, ok := co.ChannelOffset(o)
	if !ok || (c != nil && (len(v.Shape) < 2 || len(c) != v.Shape[1])) {
		return nil, false
	}
	return c, true
}

// channelOffsets adds Σ_j v_j·c_j to sum per row for an offset of one value
// per channel: Σ_ch c_ch·Σ_{j in ch} v_j, without materialising c.
func channelOffsets(v *Vec, c []float32, sum []float64) {
	if c == nil {
		return
	}
	plane := v.rowLen() / len(c)
	for b := range v.Rows() {
		row := v.Row(b)
		var dot float64
		for ch, cv := range c {
			if cv == 0 {
				continue
			}
			dot += kernels.SumF64(row[ch*plane:(ch+1)*plane]) * float64(cv)
		}
		sum[b] += math.Ldexp(dot, int(v.Log2Scale[b]))
	}
}

// completeness finishes SPEC §5.6 for every seed row.
func (w *walk) completeness(seedY *graph.Tensor) []Completeness {
	rows := w.req.Seeds.Batch()
	out := make([]Completeness, rows)
	perSeed := len(seedY.Data) / seedY.Batch()
	for b := range rows {
		img := b / w.perImage
		var target float64
		yRow := seedY.Data[img*perSeed : (img+1)*perSeed]
		for k, s := range w.req.Seeds.Data[b*perSeed : (b+1)*perSeed] {
			target += float64(s) * float64(yRow[k])
		}
		c := Completeness{Target: target, Reconstructed: w.sC[b], Delta: w.dC[b]}
		for _, in := range w.l.G.Inputs {
			x := w.l.Acts[in]
			per := len(x.Data) / x.Batch()
			xRow := x.Data[img*per : (img+1)*per]
			if s, ok := w.s[in]; ok {
				c.Reconstructed += dotScaled(s, b, xRow)
			}
			if d, ok := w.d[in]; ok {
				c.Delta += dotScaled(d, b, xRow)
			}
		}
		c.EPos, c.ENeg = (target+c.Delta)/2, (target-c.Delta)/2
		out[b] = c
	}
	return out
}

func dotScaled(v *Vec, b int, x []float32) float64 {
	return math.Ldexp(kernels.DotF64(v.Row(b), x), int(v.Log2Scale[b]))
}

// parallelGrain is the number of elements below which element-wise passes
// stay on one goroutine.
const parallelGrain = 1 << 15
