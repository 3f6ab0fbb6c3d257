package graph

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
)

// Node is one operator application. Inputs and Outputs name data tensors;
// constant operands live inside Op.
type Node struct {
	Name    string
	Op      Op
	Inputs  []string
	Outputs []string
}

// Graph is a model in topological order with float32 data tensors. The
// leading dimension of the first input is the batch, which may vary per run.
type Graph struct {
	Nodes []*Node
	// Inputs are the graph's data inputs; Inputs[0] is the image.
	Inputs []string
	// InputShapes holds the declared shape of each input; -1 marks a dim the
	// model leaves free (always so for the batch, dim 0 of Inputs[0]).
	InputShapes [][]int
	Outputs     []string
	// Meta holds the model's metadata_props.
	Meta map[string]string
}

// Producer returns the node producing tensor name (nil for a graph input),
// and the output index.
func (g *Graph) Producer(name string) (*Node, int) {
	for _, n := range g.Nodes {
		for i, o := range n.Outputs {
			if o == name {
				return n, i
			}
		}
	}
	return nil, -1
}

// Consumers returns the nodes reading tensor name.
func (g *Graph) Consumers(name string) []*Node {
	var out []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if in == name {
				out = append(out, n)
				break
			}
		}
	}
	return out
}

// Sort orders g.Nodes topologically (stable with respect to the current
// order) and checks that every tensor is produced once and every input is
// available. It reports cycles and dangling inputs by name.
func (g *Graph) Sort() error {
	producer := map[string]int{}
	for _, in := range g.Inputs {
		producer[in] = -1
	}
	for i, n := range g.Nodes {
		for _, o := range n.Outputs {
			if _, dup := producer[o]; dup {
				return fmt.Errorf("tensor %q is produced twice (second time by node %q)", o, n.Name)
			}
			producer[o] = i
		}
	}
	indeg := make([]int, len(g.Nodes))
	users := make([][]int, len(g.Nodes))
	for i, n := range g.Nodes {
		for _, in := range n.Inputs {
			p, ok := producer[in]
			if !ok {
				return fmt.Errorf("node %q reads tensor %q, which nothing produces", n.Name, in)
			}
			if p >= 0 {
				indeg[i]++
				users[p] = append(users[p], i)
			}
		}
	}
	var ready, order []int
	for i := range g.Nodes {
		if indeg[i] == 0 {
			ready = append(ready, i)
		}
	}
	for len(ready) > 0 {
		sort.Ints(ready)
		i := ready[0]
		ready = ready[1:]
		order = append(order, i)
		for _, u := range users[i] {
			if indeg[u]--; indeg[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if len(order) != len(g.Nodes) {
		var stuck []string
		for i, d := range indeg {
			if d > 0 {
				stuck = append(stuck, g.Nodes[i].Name)
			}
		}
		return fmt.Errorf("the graph has a cycle through nodes %s", strings.Join(stuck, ", "))
	}
	sorted := make([]*Node, len(order))
	for k, i := range order {
		sorted[k] = g.Nodes[i]
	}
	g.Nodes = sorted
	for _, o := range g.Outputs {
		if _, ok := producer[o]; !ok {
			return fmt.Errorf("graph output %q is not produced by any node", o)
		}
	}
	return nil
}

// InputShape returns the shape of input i for a batch of n, or an error if
// the model leaves a non-batch dim free and size does not fix it. size, when
// non-nil, replaces the trailing spatial dims.
func (g *Graph) InputShape(i, n int, size []int) ([]int, error) {
	decl := g.InputShapes[i]
	shape := append([]int(nil), decl...)
	if i == 0 && len(shape) > 0 {
		shape[0] = n
	}
	if len(size) > 0 && len(size) < len(shape) {
		copy(shape[len(shape)-len(size):], size)
	}
	for d, v := range shape {
		if v < 0 {
			return nil, fmt.Errorf("input %q: dimension %d is not fixed by the model; give the input size", g.Inputs[i], d)
		}
	}
	return shape, nil
}

// Shapes infers the shape of every tensor for the given input shapes.
func (g *Graph) Shapes(inputs ...[]int) (map[string][]int, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("the model has %d input(s), %d shape(s) given", len(g.Inputs), len(inputs))
	}
	shapes := make(map[string][]int, len(g.Nodes)+len(inputs))
	for i, name := range g.Inputs {
		if _, err := CheckedElements(inputs[i]); err != nil {
			return nil, fmt.Errorf("input %q: %w", name, err)
		}
		shapes[name] = inputs[i]
	}
	for _, n := range g.Nodes {
		in := make([][]int, len(n.Inputs))
		for i, name := range n.Inputs {
			in[i] = shapes[name]
		}
		out, err := n.Op.Infer(in)
		if err != nil {
			return nil, fmt.Errorf("node %q (%s): %w", n.Name, n.Op.Type(), err)
		}
		if len(out) != len(n.Outputs) {
			return nil, fmt.Errorf("node %q (%s): %d outputs inferred for %d declared", n.Name, n.Op.Type(), len(out), len(n.Outputs))
		}
		for i, name := range n.Outputs {
			if _, err := CheckedElements(out[i]); err != nil {
				return nil, fmt.Errorf("node %q (%s) output %q: %w", n.Name, n.Op.Type(), name, err)
			}
			shapes[name] = out[i]
		}
	}
	return shapes, nil
}

// Activations holds the tensors of one forward pass, by name.
type Activations map[string]*Tensor

// RunOptions selects what a forward pass keeps.
type RunOptions struct {
	// KeepAll keeps every tensor (the explanation engine needs them); by
	// default a tensor is freed once its last consumer has run, and only
	// the graph outputs and Keep are returned.
	KeepAll bool
	// Keep names further tensors to return.
	Keep []string
}

// Run executes the graph on the given inputs (one per graph input, in order).
func (g *Graph) Run(opts RunOptions, inputs ...*Tensor) (Activations, error) {
	if len(inputs) != len(g.Inputs) {
		return nil, fmt.Errorf("the model has %d input(s), %d given", len(g.Inputs), len(inputs))
	}
	acts := make(Activations, len(g.Nodes)+len(inputs))
	for i, name := range g.Inputs {
		acts[name] = inputs[i]
	}
	return acts, g.runNodes(g.Nodes, acts, opts)
}

// RunFrom re-runs only the nodes downstream of tensor name, with value in
// its place, reading every other tensor from acts (a KeepAll pass). It
// returns the recomputed tensors together with the graph outputs; acts is
// not modified.
func (g *Graph) RunFrom(acts Activations, name string, value *Tensor) (Activations, error) {
	dirty := map[string]bool{name: true}
	var nodes []*Node
	for _, n := range g.Nodes {
		for _, in := range n.Inputs {
			if dirty[in] {
				nodes = append(nodes, n)
				for _, o := range n.Outputs {
					dirty[o] = true
				}
				break
			}
		}
	}
	local := make(Activations, len(acts))
	for k, v := range acts {
		local[k] = v
	}
	local[name] = value
	for _, n := range nodes {
		for _, o := range n.Outputs {
			delete(local, o)
		}
	}
	if err := g.runNodes(nodes, local, RunOptions{KeepAll: true}); err != nil {
		return nil, err
	}
	out := Activations{}
	for d := range dirty {
		out[d] = local[d]
	}
	for _, o := range g.Outputs {
		out[o] = local[o]
	}
	return out, nil
}

func (g *Graph) runNodes(nodes []*Node, acts Activations, opts RunOptions) error {
	var lastUse map[string]int
	if !opts.KeepAll {
		lastUse = map[string]int{}
		for i, n := range nodes {
			for _, in := range n.Inputs {
				lastUse[in] = i
			}
		}
		for _, o := range g.Outputs {
			lastUse[o] = len(nodes)
		}
		for _, k := range opts.Keep {
			lastUse[k] = len(nodes)
		}
	}
	free := newRecycler()
	defer free.done()
	for _, name := range g.Inputs {
		free.pin(acts[name]) // the caller's tensors are never reused
	}
	for i, n := range nodes {
		in := make([]*Tensor, len(n.Inputs))
		shapes := make([][]int, len(n.Inputs))
		for j, name := range n.Inputs {
			t, ok := acts[name]
			if !ok {
				return fmt.Errorf("node %q: input %q is not available", n.Name, name)
			}
			in[j], shapes[j] = t, t.Shape
		}
		outShapes, err := n.Op.Infer(shapes)
		if err != nil {
			return fmt.Errorf("node %q (%s): %w", n.Name, n.Op.Type(), err)
		}
		out := make([]*Tensor, len(outShapes))
		for j, s := range outShapes {
			if _, err := CheckedElements(s); err != nil {
				return fmt.Errorf("node %q (%s): %w", n.Name, n.Op.Type(), err)
			}
			out[j] = free.get(s)
		}
		if err := n.Op.Forward(in, out); err != nil {
			return fmt.Errorf("node %q (%s): %w", n.Name, n.Op.Type(), err)
		}
		for j, name := range n.Outputs {
			acts[name] = out[j]
		}
		if lastUse != nil {
			for _, name := range n.Inputs {
				if t, ok := acts[name]; ok && lastUse[name] == i {
					delete(acts, name)
					free.put(t)
				}
			}
		}
	}
	return nil
}

// Release gives the buffers of acts, the result of a Run of g, to later
// runs, which would otherwise allocate and clear fresh ones (page faults and
// zeroing are a tenth of an explanation of a mid-size network). The caller
// must not use any tensor of acts afterwards, except the tensors it passed
// as inputs, which stay its own.
func (g *Graph) Release(acts Activations) {
	r := newRecycler()
	for _, name := range g.Inputs {
		r.pin(acts[name])
	}
	for _, t := range acts {
		r.put(t)
		r.pin(t) // a tensor present under two names is offered once
	}
	r.done()
}

// spare holds buffers that finished runs no longer need, for later runs:
// maps from length to buffers, as in recycler.free.
var spare sync.Pool

// recycler hands the buffers of tensors a forward pass has freed to later
// outputs of the same size, sparing the allocation and the zeroing (every
// operator overwrites its outputs). It starts from the buffers earlier runs
// left (spare) and leaves its own there when done.
type recycler struct {
	free   map[int][][]float32
	pinned map[*float32]bool // buffers owned by the caller
}

func newRecycler() *recycler {
	free, ok := spare.Get().(map[int][][]float32)
	if !ok {
		free = map[int][][]float32{}
	}
	return &recycler{free: free, pinned: map[*float32]bool{}}
}

// done leaves the recycler's free buffers for later runs.
func (r *recycler) done() {
	spare.Put(r.free)
}

// poisonRecycled makes get fill reused buffers with NaN, so that a test
// catches an operator that leaves part of its output unwritten.
var poisonRecycled bool

func (r *recycler) get(shape []int) *Tensor {
	n := NumElements(shape)
	if len(r.free[n]) == 0 {
		return New(shape...)
	}
	bufs := r.free[n]
	data := bufs[len(bufs)-1]
	r.free[n] = bufs[:len(bufs)-1]
	if poisonRecycled {
		for i := range data {
			data[i] = float32(math.NaN())
		}
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}
}

// put offers t's buffer for reuse unless the caller owns it.
func (r *recycler) put(t *Tensor) {
	if len(t.Data) == 0 || r.pinned[&t.Data[0]] {
		return
	}
	r.free[len(t.Data)] = append(r.free[len(t.Data)], t.Data)
}

// pin keeps t's buffer out of reuse.
func (r *recycler) pin(t *Tensor) {
	if t != nil && len(t.Data) > 0 {
		r.pinned[&t.Data[0]] = true
	}
}
