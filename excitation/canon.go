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

// ZeroPadder is implemented by operators that may only pad their input
// with zeros (Pad in constant mode): ZeroPadding returns the begin and end
// pads of every input dim, or false.
type ZeroPadder interface {
	ZeroPadding() (begin, end []int, ok bool)
}

// PaddingAbsorber is implemented by operators that can take a zero padding
// of their input into their own (Conv). AbsorbPadding returns nil when it
// cannot.
type PaddingAbsorber interface {
	AbsorbPadding(begin, end []int) graph.Op
}

// FoldPadding returns a copy of g in which every zero padding whose only
// consumer is a PaddingAbsorber is folded into it, as exporters from
// TensorFlow write "same" strided convolutions. The padded zeros are terms
// that are zero, so no excitation changes; the padded tensor is no longer
// computed (nor readable). g is not modified.
func FoldPadding(g *graph.Graph) *graph.Graph {
	out := *g
	out.Nodes = nil
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o] = true
	}
	replaced := map[*graph.Node]*graph.Node{}
	skip := map[*graph.Node]bool{}
	for _, n := range g.Nodes {
		zp, ok := n.Op.(ZeroPadder)
		if !ok || len(n.Inputs) != 1 || len(n.Outputs) != 1 || outputs[n.Outputs[0]] {
			continue
		}
		consumers := g.Consumers(n.Outputs[0])
		if len(consumers) != 1 || len(consumers[0].Inputs) != 1 {
			continue
		}
		c := consumers[0]
		absorber, ok := c.Op.(PaddingAbsorber)
		if !ok {
			continue
		}
		begin, end, ok := zp.ZeroPadding()
		if !ok {
			continue
		}
		op := absorber.AbsorbPadding(begin, end)
		if op == nil {
			continue
		}
		replaced[c] = &graph.Node{Name: n.Name + "+" + c.Name, Op: op, Inputs: n.Inputs, Outputs: c.Outputs}
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

// Canonical returns g ready for explanation: batch normalisations folded
// (FoldBatchNorm), then zero paddings (FoldPadding). g is not modified.
func Canonical(g *graph.Graph) *graph.Graph {
	return FoldPadding(FoldBatchNorm(g))
}
