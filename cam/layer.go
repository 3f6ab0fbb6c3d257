package cam

import (
	"fmt"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
)

// PenultimateConvName is the value of saliency.Options.TargetLayer that
// selects PenultimateConv, the paper's choice of target layer.
const PenultimateConvName = "penultimate-conv"

// spatial reports whether shape is N×K×h×w with h·w > 1: a feature map a
// CAM can be read from.
func spatial(shape []int) bool {
	return len(shape) == 4 && shape[2]*shape[3] > 1
}

// headOps are the multi-term operators the default-layer walk passes
// through besides single-term and routing nodes: the classifier head's
// products and poolings.
var headOps = map[string]bool{
	"Gemm": true, "MatMul": true,
	"AveragePool": true, "MaxPool": true, "GlobalAveragePool": true, "GlobalMaxPool": true,
	"ReduceMean": true, "ReduceSum": true, "ReduceMax": true,
}

// headInput returns the data input of n when n is an operator of a
// classifier head (one data input; a product, a pooling, a routing op, an
// activation, or a convolution of a map with a single position, which is a
// fully connected layer; or a gated activation x·f(x)), and false otherwise (a convolution of a feature
// map, an addition of two branches, ...).
func headInput(g *graph.Graph, n *graph.Node, shapes map[string][]int) (string, bool) {
	if n.Op.Type() == "Mul" && len(n.Inputs) == 2 {
		// x · f(x) with f a single-input activation (Hardswish exported as
		// HardSigmoid + Mul, SiLU as Sigmoid + Mul) is an activation of x.
		for i, gate := range n.Inputs {
			x := n.Inputs[1-i]
			if p, _ := g.Producer(gate); p != nil && len(p.Inputs) == 1 && p.Inputs[0] == x {
				if bp, ok := p.Op.(graph.Backprop); ok && bp.Terms() == graph.SingleTerm {
					return x, true
				}
			}
		}
	}
	if len(n.Inputs) != 1 {
		return "", false
	}
	if headOps[n.Op.Type()] || n.Op.Type() == "Conv" && !spatial(shapes[n.Inputs[0]]) {
		return n.Inputs[0], true
	}
	if bp, ok := n.Op.(graph.Backprop); ok && bp.Terms() != graph.MultiTerm {
		return n.Inputs[0], true
	}
	return "", false
}

// DefaultLayer returns the default CAM target layer of g (SPEC §7.1): walking
// back from the logits through the classifier head (Gemm, MatMul, Flatten,
// Reshape, global and ordinary pooling, routing operators, activations, and
// convolutions of 1×1 maps, which TF-style heads use as the classifier),
// the first tensor that is 4-D with h·w > 1. For a ResNet that is the output
// of the last residual block after its ReLU, for MobileNetV2 the last ReLU6
// (Clip) output, for VGG the output of the adaptive average pool, which at
// the standard input size is a 1×1 AveragePool equal to the last feature
// map (features[-1]). shapes holds the shape of
// every tensor (graph.Graph.Shapes, or the shapes of a forward pass).
func DefaultLayer(g *graph.Graph, shapes map[string][]int) (string, error) {
	logits := excitation.Logits(g)
	name := logits
	for {
		shape, ok := shapes[name]
		if !ok {
			return "", fmt.Errorf("default CAM target layer: no shape for tensor %q", name)
		}
		if spatial(shape) {
			return name, nil
		}
		n, _ := g.Producer(name)
		if n == nil {
			return "", fmt.Errorf("default CAM target layer: walking back from the logits %q reached the input %q without a 4-D feature map with more than one position; give a target layer", logits, name)
		}
		in, ok := headInput(g, n, shapes)
		if !ok {
			return "", fmt.Errorf("default CAM target layer: walking back from the logits %q, node %q (%s) is not part of a classifier head and its output %q of shape %v is no feature map with more than one position; give a target layer", logits, n.Name, n.Op.Type(), name, shape)
		}
		name = in
	}
}

// ancestors returns the tensors the given tensor depends on, itself
// included.
func ancestors(g *graph.Graph, name string) map[string]bool {
	seen := map[string]bool{name: true}
	for i := len(g.Nodes) - 1; i >= 0; i-- {
		n := g.Nodes[i]
		for _, o := range n.Outputs {
			if seen[o] {
				for _, in := range n.Inputs {
					seen[in] = true
				}
				break
			}
		}
	}
	return seen
}

// PenultimateConv returns the output of the penultimate convolution of g,
// the target layer of the paper's experiment: with the conv depth of a
// tensor being the largest number of Conv nodes on a path from the input
// to it, the last convolution is the Conv with a spatial output (4-D,
// h·w > 1; a 1×1 classifier convolution does not count) feeding the logits
// with the largest depth (the later one in graph order on a tie), and the
// penultimate one is the first Conv met walking back from its data input,
// always along the input of largest depth (through a residual Add, the
// residual branch rather than the shortcut). In a ResNet this is the first
// 3×3 convolution of the last block, in MobileNetV2 the projection
// convolution of the last inverted residual block. In a graph whose
// BatchNormalizations were folded (excitation.FoldBatchNorm) the tensor is
// the normalised, pre-activation output. It must be 4-D with h·w > 1.
func PenultimateConv(g *graph.Graph, shapes map[string][]int) (string, error) {
	depth := map[string]int{}
	var last *graph.Node
	useful := ancestors(g, excitation.Logits(g))
	for _, n := range g.Nodes {
		d := 0
		for _, in := range n.Inputs {
			d = max(d, depth[in])
		}
		if n.Op.Type() == "Conv" {
			d++
			if useful[n.Outputs[0]] && spatial(shapes[n.Outputs[0]]) && (last == nil || d >= depth[last.Outputs[0]]) {
				last = n
			}
		}
		for _, o := range n.Outputs {
			depth[o] = d
		}
	}
	if last == nil {
		return "", fmt.Errorf("penultimate convolution: the model has no Conv node with a spatial output feeding the logits")
	}
	n := last
	for {
		if len(n.Inputs) == 0 {
			return "", fmt.Errorf("penultimate convolution: node %q has no data input", n.Name)
		}
		in := n.Inputs[0]
		for _, x := range n.Inputs[1:] {
			if depth[x] > depth[in] {
				in = x
			}
		}
		p, _ := g.Producer(in)
		if p == nil {
			return "", fmt.Errorf("penultimate convolution: the model has a single convolution (%q) on its deepest path", last.Name)
		}
		if p.Op.Type() == "Conv" {
			out := p.Outputs[0]
			if !spatial(shapes[out]) {
				return "", fmt.Errorf("penultimate convolution %q: its output %q has shape %v, not a feature map with more than one position", p.Name, out, shapes[out])
			}
			return out, nil
		}
		n = p
	}
}

// Candidates lists the tensors of g that can serve as a CAM target layer —
// node outputs that are 4-D with h·w > 1 and that the logits depend on — in
// graph order, and the default one (DefaultLayer; "" with the error when the
// rule finds none). Tensors that BatchNormalization folding removes are not
// in a folded graph: pass the graph the methods run on.
func Candidates(g *graph.Graph, shapes map[string][]int) (candidates []string, def string, err error) {
	useful := ancestors(g, excitation.Logits(g))
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			if useful[o] && spatial(shapes[o]) {
				candidates = append(candidates, o)
			}
		}
	}
	def, err = DefaultLayer(g, shapes)
	return candidates, def, err
}

// ResolveLayer returns the target layer that the option value name
// selects: DefaultLayer for "", PenultimateConv for PenultimateConvName,
// else the tensor name itself, which must be a 4-D tensor of g.
func ResolveLayer(g *graph.Graph, shapes map[string][]int, name string) (string, error) {
	switch name {
	case "":
		return DefaultLayer(g, shapes)
	case PenultimateConvName:
		return PenultimateConv(g, shapes)
	}
	shape, ok := shapes[name]
	if !ok {
		return "", fmt.Errorf("target layer %q is not a tensor of the model, or one folded away (BatchNormalization and zero paddings are folded; `paneonnx layers` lists the candidates)", name)
	}
	if len(shape) != 4 {
		return "", fmt.Errorf("target layer %q has shape %v; a CAM needs a 4-D N×K×h×w tensor", name, shape)
	}
	return name, nil
}
