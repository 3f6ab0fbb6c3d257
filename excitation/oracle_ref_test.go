package excitation_test

import (
	"fmt"
	"math"

	"github.com/paneonnx/paneonnx/graph"
)

// This file is the float64 reference of the brute-force oracle: every
// node's forward pass and its dense local linear form y = A·x + c written
// from the definitions of SPEC §5.1 (not from the operators' code), the
// dense Exc+/Exc− matrices of SPEC §5.2, and the explicit enumeration of
// every sign path of paper §4.

// Operator types the oracle networks use.
const (
	kConv    = "Conv"
	kGemm    = "Gemm"
	kRelu    = "Relu"
	kMaxPool = "MaxPool"
	kAvgPool = "AveragePool"
	kBN      = "BatchNormalization"
	kAdd     = "Add"
	kConcat  = "Concat"
	kFlatten = "Flatten"
)

// rnode is one node of an oracle network as the reference sees it: the
// operator type and the attribute values the test chose when it wrote the
// node's graph.NodeSpec.
type rnode struct {
	name, kind string
	ins        []string
	out        string

	// Conv: w is [M, C/group, KH, KW]. Gemm: w is op(B) as [K, N] (alpha is
	// kept apart).
	w      []float64
	wShape []int
	// bias is Conv's B per output channel, or Gemm's beta·C broadcast to the
	// N outputs; nil when absent.
	bias   []float64
	alpha  float64
	group  int
	kernel [2]int
	stride [2]int
	pads   [4]int // top, left, bottom, right
	// countPad is AveragePool's count_include_pad.
	countPad bool
	// BatchNormalization (inference).
	gamma, beta, mean, variance []float64
	eps                         float64
}

// terms classifies the node by SPEC §5.1.
func (n *rnode) terms() graph.Terms {
	switch n.kind {
	case kConv, kGemm, kAvgPool, kAdd:
		return graph.MultiTerm
	case kRelu, kMaxPool, kBN:
		return graph.SingleTerm
	}
	return graph.Routing
}

// rnet is an oracle network. Shapes are per image (no batch dim).
type rnet struct {
	input    string
	shapes   map[string][]int
	nodes    []*rnode
	producer map[string]*rnode
	output   string
}

func (r *rnet) size(name string) int { return graph.NumElements(r.shapes[name]) }

// lastLinear is the node whose Exc− relative PANE's r-Exc− uses for seeds
// on tensor t: the producer of t after skipping single-input routing nodes
// (SPEC §5.3).
func (r *rnet) lastLinear(t string) *rnode {
	for {
		n := r.producer[t]
		if n == nil || n.terms() != graph.Routing || len(n.ins) != 1 {
			return n
		}
		t = n.ins[0]
	}
}

// dmat is a dense row-major float64 matrix.
type dmat struct {
	r, c int
	v    []float64
}

func newDMat(r, c int) *dmat { return &dmat{r: r, c: c, v: make([]float64, r*c)} }

func (m *dmat) at(i, j int) float64     { return m.v[i*m.c+j] }
func (m *dmat) set(i, j int, x float64) { m.v[i*m.c+j] = x }
func (m *dmat) row(i int) []float64     { return m.v[i*m.c : (i+1)*m.c] }

// mul returns a·b.
func matMul(a, b *dmat) *dmat {
	if a.c != b.r {
		panic(fmt.Sprintf("mul %dx%d by %dx%d", a.r, a.c, b.r, b.c))
	}
	out := newDMat(a.r, b.c)
	for i := range a.r {
		o := out.row(i)
		for k, x := range a.row(i) {
			if x == 0 {
				continue
			}
			for j, y := range b.row(k) {
				o[j] += x * y
			}
		}
	}
	return out
}

// addInto accumulates m into acc[name], allocating it on first use.
func matAddInto(acc map[string]*dmat, name string, m *dmat) {
	if a, ok := acc[name]; ok {
		for i, x := range m.v {
			a.v[i] += x
		}
		return
	}
	acc[name] = &dmat{r: m.r, c: m.c, v: append([]float64(nil), m.v...)}
}

func matAbs(m *dmat) *dmat {
	out := newDMat(m.r, m.c)
	for i, x := range m.v {
		out.v[i] = math.Abs(x)
	}
	return out
}

func maxAbs64(v []float64) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

func sign64(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// window visits the in-bounds input positions of output position (oy, ox)
// of a sliding window over an h×w plane, in row-major window order, and
// returns how many window positions it covered in all (padding included).
func (n *rnode) window(h, w, oy, ox int, visit func(iy, ix int)) int {
	for i := range n.kernel[0] {
		for j := range n.kernel[1] {
			iy := oy*n.stride[0] - n.pads[0] + i
			ix := ox*n.stride[1] - n.pads[1] + j
			if iy >= 0 && iy < h && ix >= 0 && ix < w {
				visit(iy, ix)
			}
		}
	}
	return n.kernel[0] * n.kernel[1]
}

// windowOut is the output size of a floor-mode window along one axis.
func windowSize(in, k, s, padA, padB int) int { return (in+padA+padB-k)/s + 1 }

// forward computes the node's output for one image in float64, directly
// from the operator's definition.
func (r *rnet) forward(n *rnode, xs [][]float64) []float64 {
	y := make([]float64, r.size(n.out))
	switch n.kind {
	case kConv:
		cs, os := r.shapes[n.ins[0]], r.shapes[n.out]
		c, h, w := cs[0], cs[1], cs[2]
		m, oh, ow := os[0], os[1], os[2]
		cpg, mpg := c/n.group, m/n.group
		for o := range m {
			g := o / mpg
			for oy := range oh {
				for ox := range ow {
					var s float64
					if n.bias != nil {
						s = n.bias[o]
					}
					for ci := range cpg {
						ch := g*cpg + ci
						for i := range n.kernel[0] {
							for j := range n.kernel[1] {
								iy, ix := oy*n.stride[0]-n.pads[0]+i, ox*n.stride[1]-n.pads[1]+j
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								wv := n.w[((o*cpg+ci)*n.kernel[0]+i)*n.kernel[1]+j]
								s += wv * xs[0][(ch*h+iy)*w+ix]
							}
						}
					}
					y[(o*oh+oy)*ow+ox] = s
				}
			}
		}
	case kGemm:
		k, nn := n.wShape[0], n.wShape[1]
		for j := range nn {
			var s float64
			for i := range k {
				s += xs[0][i] * n.w[i*nn+j]
			}
			y[j] = n.alpha * s
			if n.bias != nil {
				y[j] += n.bias[j]
			}
		}
	case kRelu:
		for i, v := range xs[0] {
			y[i] = math.Max(v, 0)
		}
	case kMaxPool, kAvgPool:
		cs, os := r.shapes[n.ins[0]], r.shapes[n.out]
		c, h, w := cs[0], cs[1], cs[2]
		oh, ow := os[1], os[2]
		for ch := range c {
			plane := xs[0][ch*h*w : (ch+1)*h*w]
			for oy := range oh {
				for ox := range ow {
					best, sum, count := math.Inf(-1), 0.0, 0
					total := n.window(h, w, oy, ox, func(iy, ix int) {
						v := plane[iy*w+ix]
						best = math.Max(best, v)
						sum += v
						count++
					})
					switch {
					case n.kind == kMaxPool:
						y[(ch*oh+oy)*ow+ox] = best
					case n.countPad:
						y[(ch*oh+oy)*ow+ox] = sum / float64(total)
					default:
						y[(ch*oh+oy)*ow+ox] = sum / float64(count)
					}
				}
			}
		}
	case kBN:
		per := r.size(n.out) / len(n.gamma)
		for i, v := range xs[0] {
			ch := i / per
			y[i] = (v-n.mean[ch])/math.Sqrt(n.variance[ch]+n.eps)*n.gamma[ch] + n.beta[ch]
		}
	case kAdd:
		for i := range y {
			y[i] = xs[0][i] + xs[1][i]
		}
	case kConcat, kFlatten:
		// Per image, Concat along axis 1 (the first non-batch axis) lays the
		// inputs one after the other; Flatten keeps the order.
		y = y[:0]
		for _, x := range xs {
			y = append(y, x...)
		}
	default:
		panic("forward: " + n.kind)
	}
	return y
}

// local is a node's local linear form at one image, split per data input:
// y = Σ_i a[i]·x_i + c, with the Exc+ and Exc− blocks of every a[i].
type local struct {
	a, ep, en []*dmat
	c         []float64
	// balanced counts rows of a multi-term node with y' = 0 although some
	// contribution is non-zero (s = +1 by convention); zeroExc counts
	// entries with A ≠ 0 that are Exc0 because x = 0.
	balanced, zeroExc int
	// balancedRow marks those rows.
	balancedRow []bool
}

// linearForm builds the dense local linear form of n at one image from its
// definition. The discrete choices of the form (ReLU's mask, MaxPool's
// arg-max) are read from x32, the engine's float32 activations, so that the
// reference describes the same piecewise-linear region as the engine.
func (r *rnet) linearForm(n *rnode, x32 [][]float32) *local {
	ny := r.size(n.out)
	l := &local{c: make([]float64, ny)}
	for _, in := range n.ins {
		l.a = append(l.a, newDMat(ny, r.size(in)))
	}
	a := l.a[0]
	switch n.kind {
	case kConv:
		cs, os := r.shapes[n.ins[0]], r.shapes[n.out]
		c, h, w := cs[0], cs[1], cs[2]
		m, oh, ow := os[0], os[1], os[2]
		cpg, mpg := c/n.group, m/n.group
		for o := range m {
			g := o / mpg
			for oy := range oh {
				for ox := range ow {
					j := (o*oh+oy)*ow + ox
					if n.bias != nil {
						l.c[j] = n.bias[o]
					}
					for ci := range cpg {
						ch := g*cpg + ci
						for i := range n.kernel[0] {
							for kx := range n.kernel[1] {
								iy, ix := oy*n.stride[0]-n.pads[0]+i, ox*n.stride[1]-n.pads[1]+kx
								if iy < 0 || iy >= h || ix < 0 || ix >= w {
									continue
								}
								k := (ch*h+iy)*w + ix
								a.set(j, k, a.at(j, k)+n.w[((o*cpg+ci)*n.kernel[0]+i)*n.kernel[1]+kx])
							}
						}
					}
				}
			}
		}
	case kGemm:
		k, nn := n.wShape[0], n.wShape[1]
		for j := range nn {
			for i := range k {
				a.set(j, i, n.alpha*n.w[i*nn+j])
			}
			if n.bias != nil {
				l.c[j] = n.bias[j]
			}
		}
	case kRelu:
		for i, v := range x32[0] {
			if v > 0 {
				a.set(i, i, 1)
			}
		}
	case kMaxPool, kAvgPool:
		cs, os := r.shapes[n.ins[0]], r.shapes[n.out]
		c, h, w := cs[0], cs[1], cs[2]
		oh, ow := os[1], os[2]
		for ch := range c {
			for oy := range oh {
				for ox := range ow {
					j := (ch*oh+oy)*ow + ox
					arg, best := -1, float32(0)
					var cells []int
					total := n.window(h, w, oy, ox, func(iy, ix int) {
						k := (ch*h+iy)*w + ix
						cells = append(cells, k)
						if v := x32[0][k]; arg < 0 || v > best { // first maximum in window order
							arg, best = k, v
						}
					})
					switch {
					case n.kind == kMaxPool:
						a.set(j, arg, 1)
					default:
						den := float64(len(cells))
						if n.countPad {
							den = float64(total)
						}
						for _, k := range cells {
							a.set(j, k, 1/den)
						}
					}
				}
			}
		}
	case kBN:
		per := ny / len(n.gamma)
		for i := range ny {
			ch := i / per
			s := n.gamma[ch] / math.Sqrt(n.variance[ch]+n.eps)
			a.set(i, i, s)
			l.c[i] = n.beta[ch] - s*n.mean[ch]
		}
	case kAdd:
		for i := range ny {
			l.a[0].set(i, i, 1)
			l.a[1].set(i, i, 1)
		}
	case kConcat, kFlatten:
		off := 0
		for s, in := range n.ins {
			for k := range r.size(in) {
				l.a[s].set(off+k, k, 1)
			}
			off += r.size(in)
		}
	default:
		panic("linearForm: " + n.kind)
	}
	return l
}

// excitations splits the blocks of l into Exc+ and Exc− (SPEC §5.2), with
// the signs taken from the engine's float32 activations: z_jk = A_jk·x_k is
// non-zero exactly where A_jk ≠ 0 and x_k ≠ 0, sign(z_jk) = sign(A_jk)·
// sign(x_k), and s_j = sign(y_j − c_j) with +1 where y_j = c_j.
func (l *local) excitations(n *rnode, x32 [][]float32, y32 []float32) {
	for _, a := range l.a {
		l.ep = append(l.ep, newDMat(a.r, a.c))
		l.en = append(l.en, newDMat(a.r, a.c))
	}
	if n.terms() != graph.MultiTerm {
		// Single-term and routing nodes: all positive excitation, even
		// where x = 0 and for negative coefficients.
		for i, a := range l.a {
			copy(l.ep[i].v, a.v)
		}
		return
	}
	for j := range len(l.c) {
		s := 1.0
		if float64(y32[j])-l.c[j] < 0 {
			s = -1
		}
		nonzero := false
		for i, a := range l.a {
			for k := range a.c {
				akj, xk := a.at(j, k), float64(x32[i][k])
				switch {
				case akj == 0:
				case xk == 0:
					l.zeroExc++ // Exc0: neither positive nor negative
				case sign64(akj)*sign64(xk) == s:
					l.ep[i].set(j, k, akj)
					nonzero = true
				default:
					l.en[i].set(j, k, akj)
					nonzero = true
				}
			}
		}
		if l.balancedRow == nil {
			l.balancedRow = make([]bool, len(l.c))
		}
		if nonzero && float64(y32[j]) == l.c[j] {
			l.balanced++
			l.balancedRow[j] = true
		}
	}
}

// refImage is the reference for one image of a batch: the float64 forward
// pass and every node's local form.
type refImage struct {
	net *rnet
	x64 map[string][]float64
	loc map[*rnode]*local
}

// refSums are the reference results for one set of seeds on one tensor,
// at every tensor of the network: rows are seeds, columns the tensor's
// elements. Tensors no path reaches are absent (zero).
type refSums struct {
	P, M       map[string]*dmat // full PANE: even / odd number of negative steps
	rPos, rNeg map[string]*dmat // relative PANE (paper §6.1)
	eNeg       map[string]*dmat // Exc− at every node
	jac        map[string]*dmat // product of the A (the Jacobian)
	mag        map[string]*dmat // product of the |A| applied to |seeds|: bounds every entry above
	// signPaths counts the enumerated (path, sign assignment) pairs that
	// reach a graph input.
	signPaths int
}

// enumerate computes refSums for seeds on tensor seedT by brute force.
//
// A sign path is a path through the DAG from a tensor to the seed tensor
// (choosing, at every node it passes, one data input) together with a sign
// choice + or − for each node on it; its matrix is the product of the
// chosen Exc+ or Exc− blocks. P (M) at a tensor is the sum over all sign
// paths from that tensor with an even (odd) number of − choices: for a
// chain of N nodes these are the paper's 2^N terms. In a DAG the parity is
// that of the nodes on the path itself; a node off the path (the other
// branch of a residual Add) contributes no factor to that path's term, so it
// does not take part in the parity and does not multiply the count.
// (Enumerating the 2^N sign assignments of all N nodes and classifying each
// whole-DAG product by the parity of all N signs would put the skip branch
// of a residual block into P or M by the sign of a node it never passes,
// and count it 2^(number of such nodes) times; SPEC §5.3's recursion, which
// the engine implements, follows the per-path parity.)
// relative PANE's r-Exc+ is the all-+ sign path, r-Exc− the one with −
// exactly at lastLinear, and ExcNeg the all-− one.
func (ri *refImage) enumerate(seedT string, seeds *dmat) *refSums {
	rs := &refSums{
		P: map[string]*dmat{}, M: map[string]*dmat{}, rPos: map[string]*dmat{}, rNeg: map[string]*dmat{},
		eNeg: map[string]*dmat{}, jac: map[string]*dmat{}, mag: map[string]*dmat{},
	}
	last := ri.net.lastLinear(seedT)
	var walk func(t string, v *dmat, neg int, allNeg, relNeg bool)
	walk = func(t string, v *dmat, neg int, allNeg, relNeg bool) {
		if neg%2 == 0 {
			matAddInto(rs.P, t, v)
		} else {
			matAddInto(rs.M, t, v)
		}
		if neg == 0 {
			matAddInto(rs.rPos, t, v)
		}
		if allNeg {
			matAddInto(rs.eNeg, t, v)
		}
		if relNeg {
			matAddInto(rs.rNeg, t, v)
		}
		n := ri.net.producer[t]
		if n == nil {
			rs.signPaths++
			return
		}
		l := ri.loc[n]
		for i, in := range n.ins {
			walk(in, matMul(v, l.ep[i]), neg, false, relNeg && n != last)
			walk(in, matMul(v, l.en[i]), neg+1, allNeg, relNeg && n == last)
		}
	}
	walk(seedT, seeds, 0, true, true)

	// The Jacobian and the magnitude bound by the chain rule, in reverse
	// topological order.
	rs.jac[seedT] = seeds
	rs.mag[seedT] = matAbs(seeds)
	nodes := ri.net.nodes
	for k := len(nodes) - 1; k >= 0; k-- {
		n := nodes[k]
		j, ok := rs.jac[n.out]
		if !ok {
			continue
		}
		for i, in := range n.ins {
			matAddInto(rs.jac, in, matMul(j, ri.loc[n].a[i]))
			matAddInto(rs.mag, in, matMul(rs.mag[n.out], matAbs(ri.loc[n].a[i])))
		}
	}
	return rs
}

// decomposition returns, per seed row, E+ = P·x + Σ P_out·c and
// E− = M·x + Σ M_out·c over the graph input and every node the seeds
// reach (SPEC §5.6), in float64 from the reference forward pass, together
// with the magnitude mag·|x| + Σ mag_out·|c| of the sum (mag being the
// product of the |A| applied to |seed|), which bounds every term.
func (ri *refImage) decomposition(rs *refSums) (ePos, eNeg, magnitude []float64) {
	rows := rs.mag[ri.net.input].r
	ePos, eNeg, magnitude = make([]float64, rows), make([]float64, rows), make([]float64, rows)
	dot := func(m *dmat, v []float64, out []float64, abs bool) {
		if m == nil {
			return
		}
		for b := range rows {
			for k, x := range m.row(b) {
				if abs {
					out[b] += x * math.Abs(v[k])
				} else {
					out[b] += x * v[k]
				}
			}
		}
	}
	terms := func(t string, v []float64) {
		dot(rs.P[t], v, ePos, false)
		dot(rs.M[t], v, eNeg, false)
		dot(rs.mag[t], v, magnitude, true)
	}
	terms(ri.net.input, ri.x64[ri.net.input])
	for _, n := range ri.net.nodes {
		terms(n.out, ri.loc[n].c)
	}
	return ePos, eNeg, magnitude
}
