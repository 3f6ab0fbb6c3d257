package graph

// Op is one operator of the IR: its attributes and constant operands are
// fixed at import, its data inputs and outputs are float32 tensors.
type Op interface {
	// Type returns the ONNX operator type, e.g. "Conv".
	Type() string
	// Infer returns the output shapes for the given data-input shapes, or an
	// error naming the problem.
	Infer(in [][]int) ([][]int, error)
	// Forward computes the outputs. out holds tensors already allocated with
	// the shapes Infer returned; Forward overwrites them.
	Forward(in, out []*Tensor) error
}

// Mode selects which matrix a backward product uses.
type Mode uint8

const (
	// Grad is the true Jacobian: smooth activations use f'(x), products use
	// the product rule.
	Grad Mode = iota
	// Coef is the matrix A of the node's local linear form y = A·x + c at
	// this instance (SPEC §5.1).
	Coef
	// AbsCoef is |A|, element-wise.
	AbsCoef
)

func (m Mode) String() string {
	switch m {
	case Grad:
		return "grad"
	case Coef:
		return "coef"
	case AbsCoef:
		return "abscoef"
	}
	return "mode?"
}

// Terms classifies how many input elements each output element of a node
// depends on in its local linear form.
type Terms uint8

const (
	// MultiTerm: an output is a sum of several input contributions (Conv,
	// Gemm, pooling averages, Add of data tensors).
	MultiTerm Terms = iota
	// SingleTerm: an output is one input element times a coefficient, plus a
	// constant (ReLU, MaxPool, BatchNormalization, smooth activations, gates).
	SingleTerm
	// Routing: an output is one input element, unchanged, or a constant
	// (Reshape, Transpose, Concat, Slice, Pad, Flatten).
	Routing
)

// Backprop is implemented by operators the backward engine can walk through.
//
// x and y are the node's forward data inputs and outputs (batch N). A
// backward tensor has batch N·S: row b belongs to image b/S, so one pass
// carries S seeds per image. dy[o] is nil when no vector reaches output o;
// dx[i] is nil when input i needs none. Backward accumulates: dx[i] += Mᵀ·dy
// where M is the matrix that mode selects.
type Backprop interface {
	Backward(mode Mode, x, y, dy, dx []*Tensor) error
	// Offset returns c of the local linear form y = A·x + c for each output,
	// with nil for an output whose c is zero (and a nil slice when all are).
	Offset(x, y []*Tensor) []*Tensor
	// Terms classifies the node (see Terms).
	Terms() Terms
}

// BackwardSetter is optionally implemented by a Backprop that can store
// its product instead of accumulating it: BackwardSet is Backward with
// dx[i] = Mᵀ·dy, whatever dx held before.
type BackwardSetter interface {
	BackwardSet(mode Mode, x, y, dy, dx []*Tensor) error
}

// InPlaceSetter is optionally implemented by a BackwardSetter of a node
// with one input and one output of the same shape whose products are
// element-wise (dx[i] depends on dy[i] only): BackwardSet may then be given
// dx[0] sharing dy[0]'s storage.
type InPlaceSetter interface {
	BackwardSetInPlace()
}

// ChannelOffsetter is optionally implemented by a Backprop whose offset c
// of output o may be one value per channel (dimension 1), broadcast over
// the other dimensions, so that sign(y − c) can be formed without
// materialising c. ChannelOffset returns those values (nil when c is zero)
// and true, or false when c is not of that form at this node.
type ChannelOffsetter interface {
	ChannelOffset(o int) ([]float32, bool)
}

// ExcBackprop is optionally implemented by a MultiTerm Backprop that has a
// cheaper exact excitation product than the generic two-product form
// (SPEC §5.2) in some cases. BackwardExc stores Exc+ᵀ·dy (Exc−ᵀ·dy when
// positive is false) in dx, whatever dx held before, and reports true; it
// reports false, leaving dx unspecified, when it does not apply to these
// tensors. Output signs are sign(y − c) with +1 where y = c. nonNegative[i]
// reports that x[i] has no element below zero. A non-nil gate asks for
// dx[0] to be zeroed, too, wherever x[0] lies outside gate.Window: the
// product of the WindowBackprop node that made x[0], taken in while dx is
// in cache. The top it returns, when not nil, holds for each row of dx[0]
// the largest bit pattern of |dx[0]| (its bits with the sign cleared, which
// order like the magnitudes), found while dx was in cache: the engine then
// need not scan.
type ExcBackprop interface {
	BackwardExc(positive bool, x, y, dy, dx []*Tensor, nonNegative []bool, gate *Gate) (ok bool, top []uint32, err error)
}

// Gate is the product of a WindowBackprop node, taken in by the product of
// its one consumer. Input is the window node's input: the window gives the
// same mask on it as on x[0], also combined with x[0] > 0 (the window keeps
// each value it contains unchanged), and a product that reads x[0] only
// through such masks may read Input instead, which the node before has
// just read.
type Gate struct {
	Window
	Input *Tensor
}

// Window is a set of values: the open interval (Lo, Hi), or (Lo, ∞) when
// Upper is false.
type Window struct {
	Lo, Hi float32
	Upper  bool
}

// Contains reports whether v lies in the window (never for NaN).
func (w Window) Contains(v float32) bool { return w.Lo < v && (!w.Upper || v < w.Hi) }

// WindowBackprop is optionally implemented by a one-input element-wise
// Backprop whose product, in every mode, keeps dy where its output lies in
// a window and zeroes it elsewhere (ReLU, Clip): dx = dy·1[y ∈ window].
// The node must keep the values inside the window unchanged and map every
// other one outside it, so that the window gives the same mask on its input.
// OutputWindow returns that window and true, or false when the node's
// product has no such form.
type WindowBackprop interface {
	OutputWindow() (Window, bool)
}

// NonNegativeOp is optionally implemented by an Op whose outputs have no
// element below zero whenever the data inputs marked in nonNegative have
// none (ReLU, pooling, padding with zeros, views), so that the engine knows
// it without scanning the tensors.
type NonNegativeOp interface {
	NonNegativeOutputs(nonNegative []bool) bool
}
