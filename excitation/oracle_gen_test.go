package excitation_test

import (
	"fmt"
	"math/rand"

	"github.com/paneonnx/paneonnx/graph"
)

// This file generates the oracle's random tiny networks: every node is
// written once as a graph.NodeSpec for graph.Build and once as the rnode
// the float64 reference reads.

// maxUnits bounds the elements per image of every hidden tensor (the
// input image may have 9).
const maxUnits = 8

// netGen builds one random network.
type netGen struct {
	rng *rand.Rand
	// dyadic draws every weight and input from a few small dyadic values
	// (exact zeros included), so that exact cancellations (y' = 0), exact
	// ties in MaxPool windows and exact zeros after ReLU are frequent and
	// the float32 forward pass is mostly exact.
	dyadic bool
	// have reports whether an operator type is registered.
	have func(kind string) bool

	net    *rnet
	specs  []*graph.NodeSpec
	weight int // Conv and Gemm layers so far
}

func newNetGen(rng *rand.Rand, dyadic bool, have func(string) bool) *netGen {
	return &netGen{rng: rng, dyadic: dyadic, have: have, net: &rnet{
		input: "x", shapes: map[string][]int{}, producer: map[string]*rnode{},
	}}
}

var dyadicValues = []float64{-2, -1.5, -1, -0.75, -0.5, -0.25, 0, 0.25, 0.5, 0.75, 1, 1.5, 2}

// value draws a weight or an input value, representable in float32; zero
// with probability pZero.
func (g *netGen) value(pZero float64) float64 {
	if g.rng.Float64() < pZero {
		return 0
	}
	if g.dyadic {
		for {
			if v := dyadicValues[g.rng.Intn(len(dyadicValues))]; v != 0 {
				return v
			}
		}
	}
	for {
		if v := float64(float32(2*g.rng.Float64() - 1)); v != 0 {
			return v
		}
	}
}

func (g *netGen) values(n int, pZero float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = g.value(pZero)
	}
	return v
}

func (g *netGen) pick(n int) int { return g.rng.Intn(n) }

func (g *netGen) chance(p float64) bool { return g.rng.Float64() < p }

func specInts(v ...int) graph.Attr {
	a := graph.Attr{Kind: graph.AttrInts}
	for _, x := range v {
		a.Ints = append(a.Ints, int64(x))
	}
	return a
}

func specInt(v int) graph.Attr       { return graph.Attr{Kind: graph.AttrInt, I: int64(v)} }
func specFloat(v float64) graph.Attr { return graph.Attr{Kind: graph.AttrFloat, F: float32(v)} }
func constInput(shape []int, v []float64) graph.Input {
	return graph.Input{Name: "w", Const: &graph.Const{Shape: append([]int(nil), shape...), V: append([]float64(nil), v...)}}
}

// node appends a node of the given kind reading data tensors ins, with
// output shape out (per image); extra are constant inputs after the data.
func (g *netGen) node(kind string, ins []string, out []int, attrs map[string]graph.Attr, extra ...graph.Input) *rnode {
	k := len(g.net.nodes)
	n := &rnode{name: fmt.Sprintf("n%d_%s", k, kind), kind: kind, ins: ins, out: fmt.Sprintf("t%d", k)}
	g.net.nodes = append(g.net.nodes, n)
	g.net.shapes[n.out] = out
	g.net.producer[n.out] = n
	s := &graph.NodeSpec{Name: n.name, Type: kind, Opset: 13, Attrs: attrs, NumOutputs: 1}
	for _, in := range ins {
		s.Inputs = append(s.Inputs, graph.Input{Name: in})
	}
	s.Inputs = append(s.Inputs, extra...)
	g.specs = append(g.specs, s)
	return n
}

func (g *netGen) shape(t string) []int { return g.net.shapes[t] }

// conv adds a convolution with m output channels; it returns "" when the
// geometry does not fit (output empty or over maxUnits).
func (g *netGen) conv(in string, m, group int, kernel, stride [2]int, pads [4]int, bias bool) string {
	s := g.shape(in)
	c, h, w := s[0], s[1], s[2]
	if c%group != 0 || m%group != 0 || pads[0] >= kernel[0] || pads[2] >= kernel[0] || pads[1] >= kernel[1] || pads[3] >= kernel[1] {
		return ""
	}
	oh := windowSize(h, kernel[0], stride[0], pads[0], pads[2])
	ow := windowSize(w, kernel[1], stride[1], pads[1], pads[3])
	if h+pads[0]+pads[2] < kernel[0] || w+pads[1]+pads[3] < kernel[1] || oh < 1 || ow < 1 || m*oh*ow > maxUnits {
		return ""
	}
	wShape := []int{m, c / group, kernel[0], kernel[1]}
	wv := g.values(graph.NumElements(wShape), 0.1)
	attrs := map[string]graph.Attr{
		"kernel_shape": specInts(kernel[0], kernel[1]),
		"strides":      specInts(stride[0], stride[1]),
		"pads":         specInts(pads[0], pads[1], pads[2], pads[3]),
	}
	if group > 1 || g.chance(0.3) {
		attrs["group"] = specInt(group)
	}
	if g.chance(0.2) {
		attrs["dilations"] = specInts(1, 1)
	}
	extra := []graph.Input{constInput(wShape, wv)}
	var bv []float64
	if bias {
		bv = g.values(m, 0.1)
		extra = append(extra, constInput([]int{m}, bv))
	}
	n := g.node(kConv, []string{in}, []int{m, oh, ow}, attrs, extra...)
	n.w, n.wShape, n.bias, n.group, n.kernel, n.stride, n.pads = wv, wShape, bv, group, kernel, stride, pads
	g.weight++
	return n.out
}

// randomConv adds a convolution with random geometry (retrying until it
// fits); sameShape asks for an output of the input's shape.
func (g *netGen) randomConv(in string, sameShape bool) string {
	s := g.shape(in)
	for range 50 {
		kernel := [][2]int{{2, 2}, {2, 2}, {1, 2}, {2, 1}, {1, 1}}[g.pick(5)]
		stride := [2]int{1 + g.pick(2), 1 + g.pick(2)}
		m := 1 + g.pick(2)
		var pads [4]int
		for i := range pads {
			if kernel[i%2] > 1 && g.chance(0.35) {
				pads[i] = 1
			}
		}
		group := 1
		if sameShape {
			// stride 1, and the pads of each axis add up to kernel − 1.
			stride, m = [2]int{1, 1}, s[0]
			for a := range 2 {
				pads[a], pads[a+2] = 0, 0
				if kernel[a] == 2 {
					pads[a+2*g.pick(2)] = 1
				}
			}
		}
		if m == s[0] && s[0] > 1 && g.chance(0.3) {
			group = s[0] // depthwise
		}
		if out := g.conv(in, m, group, kernel, stride, pads, g.chance(0.7)); out != "" {
			return out
		}
	}
	return ""
}

func (g *netGen) gemm(in string, n int) string {
	k := g.shape(in)[0]
	opB := g.values(k*n, 0.1)
	alpha := []float64{1, 1, 0.5, -1, 1.25}[g.pick(5)]
	beta := []float64{1, 1, 0.5, 2, -1}[g.pick(5)] // powers of two: beta·C is exact in float32
	attrs := map[string]graph.Attr{}
	if alpha != 1 || g.chance(0.3) {
		attrs["alpha"] = specFloat(alpha)
	}
	if beta != 1 || g.chance(0.3) {
		attrs["beta"] = specFloat(beta)
	}
	var extra []graph.Input
	if g.chance(0.5) {
		attrs["transB"] = specInt(1)
		bt := make([]float64, n*k)
		for i := range k {
			for j := range n {
				bt[j*k+i] = opB[i*n+j]
			}
		}
		extra = append(extra, constInput([]int{n, k}, bt))
	} else {
		extra = append(extra, constInput([]int{k, n}, opB))
	}
	var bias []float64
	if g.chance(0.75) {
		var cv []float64
		var cShape []int
		switch g.pick(3) {
		case 0:
			cv, cShape = g.values(n, 0.1), []int{n}
		case 1:
			cv, cShape = g.values(n, 0.1), []int{1, n}
		default:
			cv, cShape = g.values(1, 0), []int{1}
		}
		extra = append(extra, constInput(cShape, cv))
		bias = make([]float64, n)
		for j := range bias {
			bias[j] = beta * cv[j%len(cv)]
		}
	}
	nd := g.node(kGemm, []string{in}, []int{n}, attrs, extra...)
	nd.w, nd.wShape, nd.alpha, nd.bias = opB, []int{k, n}, alpha, bias
	g.weight++
	return nd.out
}

func (g *netGen) relu(in string) string {
	return g.node(kRelu, []string{in}, g.shape(in), nil).out
}

func (g *netGen) pool(in string, isMax bool) string {
	s := g.shape(in)
	c, h, w := s[0], s[1], s[2]
	for range 50 {
		kernel := [][2]int{{2, 2}, {2, 2}, {1, 2}, {2, 1}}[g.pick(4)]
		stride := [2]int{1 + g.pick(2), 1 + g.pick(2)}
		var pads [4]int
		for i := range pads {
			if kernel[i%2] > 1 && g.chance(0.25) {
				pads[i] = 1
			}
		}
		oh := windowSize(h, kernel[0], stride[0], pads[0], pads[2])
		ow := windowSize(w, kernel[1], stride[1], pads[1], pads[3])
		if h+pads[0]+pads[2] < kernel[0] || w+pads[1]+pads[3] < kernel[1] || oh < 1 || ow < 1 {
			continue
		}
		attrs := map[string]graph.Attr{
			"kernel_shape": specInts(kernel[0], kernel[1]),
			"strides":      specInts(stride[0], stride[1]),
			"pads":         specInts(pads[0], pads[1], pads[2], pads[3]),
		}
		kind := kMaxPool
		countPad := false
		if !isMax {
			kind = kAvgPool
			countPad = g.chance(0.5)
			if countPad || g.chance(0.5) {
				attrs["count_include_pad"] = specInt(map[bool]int{false: 0, true: 1}[countPad])
			}
		}
		n := g.node(kind, []string{in}, []int{c, oh, ow}, attrs)
		n.kernel, n.stride, n.pads, n.countPad = kernel, stride, pads, countPad
		return n.out
	}
	return ""
}

// bn adds an inference BatchNormalization with mixed-sign scales.
func (g *netGen) bn(in string) string {
	c := g.shape(in)[0]
	gamma, beta, mean := g.values(c, 0), g.values(c, 0.2), g.values(c, 0.2)
	variance := make([]float64, c)
	eps := float64(float32(1e-5))
	if g.dyadic {
		// var + eps is 1/4, 1 or 4: the scale γ/√(var+eps) stays dyadic.
		eps = 0.25
		for i := range variance {
			variance[i] = []float64{0, 0.75, 3.75}[g.pick(3)]
		}
	} else {
		for i := range variance {
			variance[i] = float64(float32(0.2 + 1.5*g.rng.Float64()))
		}
	}
	attrs := map[string]graph.Attr{}
	if eps != float64(float32(1e-5)) || g.chance(0.5) {
		attrs["epsilon"] = specFloat(eps)
	}
	sh := []int{c}
	n := g.node(kBN, []string{in}, g.shape(in), attrs,
		constInput(sh, gamma), constInput(sh, beta), constInput(sh, mean), constInput(sh, variance))
	n.gamma, n.beta, n.mean, n.variance, n.eps = gamma, beta, mean, variance, float64(float32(eps))
	return n.out
}

func (g *netGen) add(a, b string) string {
	return g.node(kAdd, []string{a, b}, g.shape(a), nil).out
}

// concat joins tensors along axis 1 (channels, or features for 2-D).
func (g *netGen) concat(ins ...string) string {
	out := append([]int(nil), g.shape(ins[0])...)
	for _, in := range ins[1:] {
		out[0] += g.shape(in)[0]
	}
	return g.node(kConcat, ins, out, map[string]graph.Attr{"axis": specInt(1)}).out
}

func (g *netGen) flatten(in string) string {
	attrs := map[string]graph.Attr{}
	if g.chance(0.5) {
		attrs["axis"] = specInt(1)
	}
	return g.node(kFlatten, []string{in}, []int{g.net.size(in)}, attrs).out
}

// shapePreserving adds one random shape-preserving operator (a branch of a
// residual block or of a concatenation); "" when none is available.
func (g *netGen) shapePreserving(in string, spatial bool) string {
	var opts []func() string
	if g.have(kRelu) {
		opts = append(opts, func() string { return g.relu(in) })
	}
	if g.have(kBN) {
		opts = append(opts, func() string { return g.bn(in) })
	}
	if spatial && g.have(kConv) {
		opts = append(opts, func() string {
			out := g.randomConv(in, true)
			if out != "" && g.have(kRelu) && g.chance(0.5) {
				out = g.relu(out)
			}
			return out
		}, func() string { return g.randomConv(in, true) })
	}
	if !spatial && g.have(kGemm) {
		opts = append(opts, func() string {
			out := g.gemm(in, g.shape(in)[0])
			if g.have(kRelu) && g.chance(0.5) {
				out = g.relu(out)
			}
			return out
		})
	}
	if len(opts) == 0 {
		return ""
	}
	return opts[g.pick(len(opts))]()
}

// residual adds Add(branch(t), t) (operands in random order).
func (g *netGen) residual(t string, spatial bool) string {
	b := g.shapePreserving(t, spatial)
	if b == "" {
		return ""
	}
	if g.chance(0.5) {
		return g.add(b, t)
	}
	return g.add(t, b)
}

// branchConcat adds Concat(t, branch(t)) when the result fits maxUnits.
func (g *netGen) branchConcat(t string, spatial bool) string {
	s := g.shape(t)
	var b string
	switch {
	case spatial && g.have(kConv) && (s[0]+1)*s[1]*s[2] <= maxUnits:
		for range 20 {
			k := [2]int{1 + g.pick(2), 1 + g.pick(2)}
			var pads [4]int
			for a := range 2 {
				if k[a] == 2 {
					pads[a+2*g.pick(2)] = 1
				}
			}
			if b = g.conv(t, 1, 1, k, [2]int{1, 1}, pads, g.chance(0.5)); b != "" {
				break
			}
		}
	case !spatial && g.have(kGemm) && s[0] < maxUnits:
		b = g.gemm(t, 1+g.pick(maxUnits-s[0]))
		if g.have(kRelu) && g.chance(0.5) {
			b = g.relu(b)
		}
	case 2*g.net.size(t) <= maxUnits:
		b = g.shapePreserving(t, spatial)
	}
	if b == "" {
		return ""
	}
	if g.chance(0.5) {
		return g.concat(t, b)
	}
	return g.concat(b, t)
}

// generate builds a random network and its input shape (per image) and
// sets net.output to the logits. Most networks start with a [C,H,W] image
// of at most 9 elements; the others with a feature vector.
func (g *netGen) generate() {
	spatial := g.have(kConv) && g.have(kFlatten) && g.chance(0.8)
	var cur string
	if spatial {
		g.net.shapes["x"] = [][]int{{1, 3, 3}, {2, 2, 2}, {1, 2, 4}, {2, 1, 3}, {1, 3, 2}}[g.pick(5)]
		if cur = g.randomConv("x", false); cur == "" {
			cur = g.conv("x", 1, 1, [2]int{1, 1}, [2]int{1, 1}, [4]int{}, true) // 1×1 always fits
		}
		for steps := 1 + g.pick(3); steps > 0; steps-- {
			var next string
			switch r := g.pick(10); {
			case r < 2 && g.have(kRelu):
				next = g.relu(cur)
			case r < 3 && g.have(kMaxPool):
				next = g.pool(cur, true)
			case r < 4 && g.have(kAvgPool):
				next = g.pool(cur, false)
			case r < 5 && g.have(kBN):
				next = g.bn(cur)
			case r < 7 && g.have(kAdd):
				next = g.residual(cur, true)
			case r < 8 && g.have(kConcat):
				next = g.branchConcat(cur, true)
			case r < 9 && g.weight < 3:
				next = g.randomConv(cur, false)
				if next != "" && g.have(kRelu) && g.chance(0.6) {
					next = g.relu(next)
				}
			}
			if next != "" {
				cur = next
			}
		}
		cur = g.flatten(cur)
	} else {
		g.net.shapes["x"] = []int{3 + g.pick(maxUnits-2)}
		cur = g.gemm("x", 2+g.pick(maxUnits-1))
		if g.have(kRelu) && g.chance(0.7) {
			cur = g.relu(cur)
		}
	}
	// A feature stage on vectors before the classifier.
	for steps := g.pick(3); steps > 0; steps-- {
		var next string
		switch r := g.pick(6); {
		case r < 1 && g.have(kRelu):
			next = g.relu(cur)
		case r < 2 && g.have(kBN):
			next = g.bn(cur)
		case r < 3 && g.have(kAdd):
			next = g.residual(cur, false)
		case r < 4 && g.have(kConcat):
			next = g.branchConcat(cur, false)
		case r < 6 && g.weight < 3:
			next = g.gemm(cur, 2+g.pick(maxUnits-1))
			if g.have(kRelu) && g.chance(0.6) {
				next = g.relu(next)
			}
		}
		if next != "" {
			cur = next
		}
	}
	cur = g.gemm(cur, 2+g.pick(3))
	// Sometimes end in a routing operator (relative PANE's last linear node
	// is found through it) or in a normalisation (the last node is then a
	// single-term one, without negative excitation).
	switch r := g.pick(10); {
	case r < 2 && g.have(kFlatten):
		cur = g.flatten(cur)
	case r < 3 && g.have(kBN):
		cur = g.bn(cur)
	}
	g.net.output = cur
}

// graphOf builds the engine's graph from the specs.
func (g *netGen) graphOf() (*graph.Graph, error) {
	gr := &graph.Graph{
		Inputs:      []string{g.net.input},
		InputShapes: [][]int{append([]int{-1}, g.net.shapes[g.net.input]...)},
		Outputs:     []string{g.net.output},
	}
	for i, s := range g.specs {
		op, err := graph.Build(s)
		if err != nil {
			return nil, err
		}
		n := g.net.nodes[i]
		gr.Nodes = append(gr.Nodes, &graph.Node{Name: n.name, Op: op, Inputs: n.ins, Outputs: []string{n.out}})
	}
	return gr, gr.Sort()
}

// input draws a batch of images with mixed signs and exact zeros.
func (g *netGen) input(images int) *graph.Tensor {
	t := graph.New(append([]int{images}, g.net.shapes[g.net.input]...)...)
	for i := range t.Data {
		t.Data[i] = float32(g.value(0.2))
		if !g.dyadic {
			t.Data[i] *= 2
		}
	}
	return t
}
