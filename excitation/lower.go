package excitation

import (
	"fmt"

	"github.com/paneonnx/paneonnx/graph"
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
}

type lowNode struct {
	bp      graph.Backprop
	offsets []*graph.Tensor // per output; nil entries are zero
	signs   [][]float32     // per output, ±1; multi-term nodes only
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
		x, y, err := l.io(n)
		if err != nil {
			return nil, err
		}
		ln := &lowNode{bp: bp, offsets: bp.Offset(x, y)}
		if bp.Terms() == graph.MultiTerm {
			ln.signs = make([][]float32, len(y))
			for o, t := range y {
				ln.signs[o] = outputSigns(t, ln.offset(o))
			}
		}
		l.nodes[n] = ln
	}
	return l, nil
}

func (ln *lowNode) offset(o int) *graph.Tensor {
	if o < len(ln.offsets) {
		return ln.offsets[o]
	}
	return nil
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

// outputSigns returns sign(y − c) with +1 where y = c.
func outputSigns(y, c *graph.Tensor) []float32 {
	s := make([]float32, len(y.Data))
	for i, v := range y.Data {
		if c != nil {
			v -= c.Data[i]
		}
		if v < 0 {
			s[i] = -1
		} else {
			s[i] = 1
		}
	}
	return s
}

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
