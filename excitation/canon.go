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
	return fold(g, func(first, second *graph.Node) graph.Op {
		aff, ok := second.Op.(ChannelAffine)
		folder, ok2 := first.Op.(AffineFolder)
		if !ok || !ok2 {
			return nil
		}
		return folder.FoldAffine(aff.ChannelAffine())
	})
}

// fold returns a copy of g in which every pair of nodes that merge accepts,
// first with a single output that is not a graph output and whose only
// consumer is second (with that single input), becomes the one node merge
// returns, with first's inputs and second's outputs. merge returns nil to
// keep a pair. g is not modified.
func fold(g *graph.Graph, merge func(first, second *graph.Node) graph.Op) *graph.Graph {
	out := *g
	out.Nodes = nil
	outputs := map[string]bool{}
	for _, o := range g.Outputs {
		outputs[o] = true
	}
	replaced := map[*graph.Node]*graph.Node{}
	skip := map[*graph.Node]bool{}
	for _, first := range g.Nodes {
		if skip[first] || len(first.Outputs) != 1 || outputs[first.Outputs[0]] {
			continue
		}
		consumers := g.Consumers(first.Outputs[0])
		if len(consumers) != 1 || len(consumers[0].Inputs) != 1 {
			continue
		}
		second := consumers[0]
		if op := merge(first, second); op != nil {
			replaced[first] = &graph.Node{Name: first.Name + "+" + second.Name, Op: op, Inputs: first.Inputs, Outputs: second.Outputs}
			skip[second] = true
		}
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
	return fold(g, func(first, second *graph.Node) graph.Op {
		zp, ok := first.Op.(ZeroPadder)
		absorber, ok2 := second.Op.(PaddingAbsorber)
		if !ok || !ok2 {
			return nil
		}
		begin, end, ok := zp.ZeroPadding()
		if !ok {
			return nil
		}
		return absorber.AbsorbPadding(begin, end)
	})
}

// Canonical returns g ready for explanation: batch normalisations folded
// (FoldBatchNorm), then zero paddings (FoldPadding). g is not modified.
func Canonical(g *graph.Graph) *graph.Graph {
	return FoldPadding(FoldBatchNorm(g))
}
