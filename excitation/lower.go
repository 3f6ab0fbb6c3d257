package excitation

import (
	"fmt"
	"math"
	"sync"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
)

// Lowered is a graph after one forward pass, with what the backward modes
// need of each node's local linear form y = A·x + c at this instance: the
// offsets c and, for multi-term nodes, the output signs s = sign(y − c)
// (+1 where y = c, SPEC §5.2). A is applied by the operators themselves.
type Lowered struct {
	G    *graph.Graph
	Acts graph.Activations
	// Images is the forward batch size.
	Images int

	nodes map[*graph.Node]*lowNode

	// nonNeg records the tensors known to have no element below zero: from
	// the operators (graph.NonNegativeOp) when Lower runs, from a scan of
	// the tensor when first asked otherwise.
	nonNegMu sync.Mutex
	nonNeg   map[string]bool

	// gates holds, for a node whose one input is made by a
	// graph.WindowBackprop node with no other consumer, that node's window
	// and input.
	gates map[*graph.Node]gateSpec
}

type gateSpec struct {
	window graph.Window
	input  string
}

type lowNode struct {
	n  *graph.Node
	bp graph.Backprop

	// The offsets and the output signs are computed on first use: Grad mode
	// needs neither, the excitation modes need the signs of multi-term
	// nodes only, and only Full mode needs every offset.
	offsetsOnce, signsOnce sync.Once
	offsets                []*graph.Tensor
	signs                  [][]float32
}

// Lower prepares the backward modes for a forward pass acts of g, which
// must have been run with RunOptions{KeepAll: true}. Every node must
// implement graph.Backprop.
func Lower(g *graph.Graph, acts graph.Activations) (*Lowered, error) {
	l := &Lowered{G: g, Acts: acts, nodes: map[*graph.Node]*lowNode{}}
	in, ok := acts[g.Inputs[0]]
	if !ok {
		return nil, fmt.Errorf("the forward pass did not keep the input %q", g.Inputs[0])
	}
	l.Images = in.Batch()
	for _, n := range g.Nodes {
		bp, ok := n.Op.(graph.Backprop)
		if !ok {
			return nil, fmt.Errorf("node %q (%s) has no backward rule", n.Name, n.Op.Type())
		}
		if _, _, err := l.io(n); err != nil {
			return nil, err
		}
		l.nodes[n] = &lowNode{n: n, bp: bp}
	}
	l.nonNeg = nonNegativeTensors(g)
	l.gates = gates(g)
	return l, nil
}

// gates finds the nodes whose one input is made by a graph.WindowBackprop
// node that no other node reads, with that node's window and input: an
// excitation product at such a node can take in the window node's product.
func gates(g *graph.Graph) map[*graph.Node]gateSpec {
	readers := map[string]int{}
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			readers[in]++
		}
	}
	windows := map[string]gateSpec{}
	for _, n := range g.Nodes {
		if wb, ok := n.Op.(graph.WindowBackprop); ok && len(n.Inputs) == 1 && len(n.Outputs) == 1 {
			if w, ok := wb.OutputWindow(); ok {
				windows[n.Outputs[0]] = gateSpec{w, n.Inputs[0]}
			}
		}
	}
	out := map[*graph.Node]gateSpec{}
	for _, n := range g.Nodes {
		if len(n.Inputs) != 1 || readers[n.Inputs[0]] != 1 {
			continue
		}
		if w, ok := windows[n.Inputs[0]]; ok {
			out[n] = w
		}
	}
	return out
}

// nonNegativeTensors returns the tensors of g that its operators guarantee
// to have no element below zero, whatever the input.
func nonNegativeTensors(g *graph.Graph) map[string]bool {
	known := map[string]bool{}
	for _, n := range g.Nodes {
		op, ok := n.Op.(graph.NonNegativeOp)
		if !ok {
			continue
		}
		in := make([]bool, len(n.Inputs))
		for i, name := range n.Inputs {
			in[i] = known[name]
		}
		if op.NonNegativeOutputs(in) {
			for _, o := range n.Outputs {
				known[o] = true
			}
		}
	}
	return known
}

// nonNegative reports whether tensor name of the forward pass has no
// element below zero, scanning it once when no operator guarantees it.
func (l *Lowered) nonNegative(name string) bool {
	l.nonNegMu.Lock()
	defer l.nonNegMu.Unlock()
	nn, ok := l.nonNeg[name]
	if !ok {
		nn = !graph.HasNegative(l.Acts[name].Data)
		l.nonNeg[name] = nn
	}
	return nn
}

// offset returns c of output o (nil when zero).
func (l *Lowered) offset(ln *lowNode, o int) *graph.Tensor {
	ln.offsetsOnce.Do(func() {
		x, y, _ := l.io(ln.n)
		ln.offsets = ln.bp.Offset(x, y)
	})
	if o < len(ln.offsets) {
		return ln.offsets[o]
	}
	return nil
}

// outputSigns returns s = sign(y − c) of every output, +1 where y = c.
func (l *Lowered) outputSigns(ln *lowNode) [][]float32 {
	ln.signsOnce.Do(func() {
		_, y, _ := l.io(ln.n)
		ln.signs = make([][]float32, len(y))
		for o, t := range y {
			ln.signs[o] = signs(t, l.offset(ln, o))
		}
	})
	return ln.signs
}

// io returns the node's forward inputs and outputs.
func (l *Lowered) io(n *graph.Node) (x, y []*graph.Tensor, err error) {
	get := func(names []string) ([]*graph.Tensor, error) {
		ts := make([]*graph.Tensor, len(names))
		for i, name := range names {
			t, ok := l.Acts[name]
			if !ok {
				return nil, fmt.Errorf("node %q: tensor %q was not kept by the forward pass", n.Name, name)
			}
			ts[i] = t
		}
		return ts, nil
	}
	if x, err = get(n.Inputs); err != nil {
		return nil, nil, err
	}
	y, err = get(n.Outputs)
	return x, y, err
}

// signs returns sign(y − c) with +1 where y = c, branch-free: the sign bit
// of the difference on a 1.0.
func signs(y, c *graph.Tensor) []float32 {
	s := make([]float32, len(y.Data))
	par.For(len(s), parallelGrain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			v := y.Data[i]
			if c != nil {
				v -= c.Data[i]
			}
			bits := math.Float32bits(v)
			if v == 0 {
				bits = 0
			}
			s[i] = math.Float32frombits(bits&signBit | one)
		}
	})
	return s
}

const (
	signBit = 0x80000000
	one     = 0x3f800000 // float32 1.0
)

// Logits returns the tensor holding the logits: the first graph output, or
// the input of a trailing Softmax/LogSoftmax (also when routing operators
// such as Flatten follow it).
func Logits(g *graph.Graph) string {
	out := g.Outputs[0]
	name := out
	for {
		n, _ := g.Producer(name)
		if n == nil || len(n.Inputs) != 1 {
			return out
		}
		switch n.Op.Type() {
		case "Softmax", "LogSoftmax":
			return n.Inputs[0]
		}
		if bp, ok := n.Op.(graph.Backprop); !ok || bp.Terms() != graph.Routing {
			return out
		}
		name = n.Inputs[0]
	}
}

// lastLinear returns the node producing tensor name after skipping routing
// operators: the node whose Exc− relative PANE's r-Exc− uses.
func (l *Lowered) lastLinear(name string) *graph.Node {
	for {
		n, _ := l.G.Producer(name)
		if n == nil {
			return nil
		}
		if l.nodes[n].bp.Terms() != graph.Routing || len(n.Inputs) != 1 {
			return n
		}
		name = n.Inputs[0]
	}
}
