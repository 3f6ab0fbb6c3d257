package excitation

import "github.com/paneonnx/paneonnx/graph"

// ChannelAffine is implemented by operators that are a per-channel affine
// map y = scale_c·x + shift_c (inference BatchNormalization).
type ChannelAffine interface {
	ChannelAffine() (scale, shift []float32)
}

// AffineFolder is implemented by operators that can absorb a following
// per-output-channel affine map (Conv, Gemm). FoldAffine returns nil when it
// cannot.
type AffineFolder interface {
	FoldAffine(scale, shift []float32) graph.Op
}

// FoldBatchNorm returns a copy of g in which every ChannelAffine node whose
// input comes straight from an AffineFolder with no other consumer is folded
// into it (SPEC §5.1). Folding into the producer leaves every excitation
// unchanged, because the contributions and y' of each output channel scale
// by the same factor; a normalisation after anything else (or into a
// following layer, which would change which contributions are positive)
// stays a diagonal node. g is not modified.
func FoldBatchNorm(g *graph.Graph) *graph.Graph {
	out := *g
	out.Nodes = nil
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o] = true
	}
	replaced := map[*graph.Node]*graph.Node{}
	skip := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		aff, ok := n.Op.(ChannelAffine)
		if !ok || len(n.Inputs) != 1 {
			continue
		}
		p, _ := g.Producer(n.Inputs[0])
		if p == nil || len(p.Outputs) != 1 || outputs[p.Outputs[0]] || len(g.Consumers(p.Outputs[0])) != 1 {
			continue
		}
		folder, ok := p.Op.(AffineFolder)
		if !ok {
			continue
		}
		scale, shift := aff.ChannelAffine()
		op := folder.FoldAffine(scale, shift)
		if op == nil {
			continue
		}
		replaced[p] = &graph.Node{Name: p.Name + "+" + n.Name, Op: op, Inputs: p.Inputs, Outputs: n.Outputs}
		skip[n] = true
	}
	for _, n := range g.Nodes {
		switch {
		case skip[n]:
		case replaced[n] != nil:
			out.Nodes = append(out.Nodes, replaced[n])
		default:
			out.Nodes = append(out.Nodes, n)
		}
	}
	return &out
}
