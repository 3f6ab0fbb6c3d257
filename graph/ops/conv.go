package ops

import (
	"fmt"
	"sync"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/kernels"
)

func init() { graph.Register("Conv", newConv) }

// Conv is a 1-D or 2-D convolution with constant weights and optional bias.
// Local linear form: A = the convolution with W, c = the bias (MultiTerm).
type Conv struct {
	// W has shape [M, C/Group, KH, KW] ([M, C/Group, K] for 1-D); B has M
	// values or is nil.
	W     *graph.Tensor
	B     []float32
	Group int
	win   window

	absOnce sync.Once
	absW    []float32

	partsOnce sync.Once
	parts     []float32 // rows max(W_m, 0), min(W_m, 0) for m = 0, 1, …

	pointwise pointwiseWeights
}

func newConv(s *graph.NodeSpec) (graph.Op, error) {
	if err := s.RequireData(0); err != nil {
		return nil, err
	}
	wc, err := s.ConstInput(1, "W", false)
	if err != nil {
		return nil, err
	}
	if len(wc.Shape) != 3 && len(wc.Shape) != 4 {
		return nil, s.Errorf("weight of shape %v: %d-D convolutions are not supported (1-D and 2-D are)", wc.Shape, len(wc.Shape)-2)
	}
	kernel := make([]int64, len(wc.Shape)-2)
	for i := range kernel {
		kernel[i] = int64(wc.Shape[2+i])
	}
	win, err := readWindow(s, kernel, false)
	if err != nil {
		return nil, err
	}
	group, err := s.Int("group", 1)
	if err != nil {
		return nil, err
	}
	m := wc.Shape[0]
	if group < 1 || int64(m)%group != 0 {
		return nil, s.Errorf("group %d does not divide the %d output channels", group, m)
	}
	c := &Conv{W: wc.Tensor(), Group: int(group), win: win}
	if bc, err := s.ConstInput(2, "B", true); err != nil {
		return nil, err
	} else if bc != nil {
		if len(bc.V) != m {
			return nil, s.Errorf("bias has %d values for %d output channels", len(bc.V), m)
		}
		c.B = bc.Float32()
	}
	return c, nil
}

// FoldAffine returns the convolution followed by the per-output-channel
// affine map v ↦ scale·v + shift (a BatchNormalization on its output).
func (c *Conv) FoldAffine(scale, shift []float32) graph.Op {
	m := c.W.Shape[0]
	if len(scale) != m {
		return nil
	}
	f := &Conv{W: graph.New(c.W.Shape...), B: make([]float32, m), Group: c.Group, win: c.win}
	per := len(c.W.Data) / m
	for i, v := range c.W.Data {
		f.W.Data[i] = v * scale[i/per]
	}
	for j := range m {
		var b float32
		if c.B != nil {
			b = c.B[j]
		}
		f.B[j] = b*scale[j] + shift[j]
	}
	return f
}

// AbsorbPadding returns the convolution of its input zero-padded by begin
// and end (per dim of the input, batch and channels first), or nil when the
// padding touches the batch or channel dims or auto_pad sets the pads.
func (c *Conv) AbsorbPadding(begin, end []int) graph.Op {
	r := 2 + c.win.spatial
	if len(begin) != r || len(end) != r || begin[0] != 0 || end[0] != 0 || begin[1] != 0 || end[1] != 0 || c.win.autoPad != "NOTSET" {
		return nil
	}
	win := c.win
	off := 2 - c.win.spatial // 1-D windows use the width axis
	for i := range c.win.spatial {
		win.pads[off+i] += begin[2+i]
		win.pads[2+off+i] += end[2+i]
	}
	return &Conv{W: c.W, B: c.B, Group: c.Group, win: win}
}

// Type implements graph.Op.
func (c *Conv) Type() string { return "Conv" }

func (c *Conv) params(in []int) (kernels.ConvParams, error) {
	g, err := c.win.apply(in)
	if err != nil {
		return kernels.ConvParams{}, err
	}
	if g.c != c.W.Shape[1]*c.Group {
		return kernels.ConvParams{}, fmt.Errorf("input has %d channels, the weight expects %d", g.c, c.W.Shape[1]*c.Group)
	}
	return kernels.ConvParams{
		N: g.n, C: g.c, H: g.h, W: g.w, M: c.W.Shape[0], KH: c.win.kernel[0], KW: c.win.kernel[1],
		OH: g.oh, OW: g.ow, StrideH: c.win.strides[0], StrideW: c.win.strides[1],
		DilH: c.win.dilations[0], DilW: c.win.dilations[1],
		PadT: g.pads[0], PadL: g.pads[1], PadB: g.pads[2], PadR: g.pads[3], Group: c.Group,
	}, nil
}

// Infer implements graph.Op.
func (c *Conv) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	g, err := c.win.apply(in[0])
	if err != nil {
		return nil, err
	}
	if _, err := c.params(in[0]); err != nil {
		return nil, err
	}
	return [][]int{c.win.outShape(g, c.W.Shape[0])}, nil
}

// Forward implements graph.Op.
func (c *Conv) Forward(in, out []*graph.Tensor) error {
	p, err := c.params(in[0].Shape)
	if err != nil {
		return err
	}
	kernels.Conv2D(p, in[0].Data, c.W.Data, c.B, out[0].Data)
	return nil
}

// Backward implements graph.Backprop: Grad and Coef are both the transposed
// convolution with W, AbsCoef the one with |W|.
func (c *Conv) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return c.backward(mode, x, dy, dx, false)
}

// BackwardSet implements graph.BackwardSetter.
func (c *Conv) BackwardSet(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return c.backward(mode, x, dy, dx, true)
}

func (c *Conv) backward(mode graph.Mode, x, dy, dx []*graph.Tensor, set bool) error {
	if noProduct(dy[0], dx[0], set) {
		return nil
	}
	shape := append([]int{dx[0].Shape[0]}, x[0].Shape[1:]...)
	p, err := c.params(shape)
	if err != nil {
		return err
	}
	w := c.W.Data
	if mode == graph.AbsCoef {
		w = c.abs()
	}
	if set {
		kernels.Conv2DBackwardDataSet(p, dy[0].Data, w, dx[0].Data)
	} else {
		kernels.Conv2DBackwardData(p, dy[0].Data, w, dx[0].Data)
	}
	return nil
}

func (c *Conv) abs() []float32 {
	c.absOnce.Do(func() { c.absW = absOf(c.W.Data) })
	return c.absW
}

// BackwardExc implements graph.ExcBackprop for two cases the generic two
// products and their sign and combination passes serve slowly.
//
// A convolution whose input has no negative value (it follows a ReLU, the
// usual case): there Exc+ᵀv = 1[x>0]·(A⁺ᵀv⁺ + A⁻ᵀv⁻) and
// Exc−ᵀv = 1[x>0]·(A⁻ᵀv⁺ + A⁺ᵀv⁻), with v± the parts of v at outputs of
// sign ±: one transposed convolution with twice the output channels (only
// the non-zero ones with Group 1).
//
// A pointwise (1×1) convolution, whatever its input: that form, or the
// generic one where the input has both signs (the expansion after a linear
// bottleneck), made block by block of positions while in cache.
//
// A strided convolution with a large kernel whose input has both signs (a
// first layer, on the image): the generic form, made block by block of
// output rows while in cache.
//
// The first two narrow their input mask to the gate while dx is in cache,
// reading the gate's input where they read x only through masks; the third
// takes no gate (a first layer has none).
func (c *Conv) BackwardExc(positive bool, x, y, dy, dx []*graph.Tensor, nonNegative []bool, gate *graph.Gate) (bool, []uint32, error) {
	if dy[0] == nil || dx[0] == nil || x[0].Batch() == 0 {
		return false, nil, nil
	}
	shape := append([]int{dx[0].Shape[0]}, x[0].Shape[1:]...)
	p, err := c.params(shape)
	if err != nil {
		return false, nil, err
	}
	// The column form is worth it where the column matrix is large next to
	// dx (a 7×7 stem, stride 2): a 3×3 one does as well with whole products.
	cols := !p.Pointwise() && !nonNegative[0]
	if cols && (c.Group != 1 || p.KH*p.KW < 4*p.StrideH*p.StrideW || gate != nil) {
		return false, nil, nil
	}
	top := make([]uint32, dx[0].Shape[0])
	perImage := dx[0].Shape[0] / x[0].Batch()
	if p.Pointwise() {
		split := nonNegative[0]
		weights := c.pointwise.get(split, c.W.Shape[1], c.W.Shape[0], func(in, o int) float32 { return c.W.Data[o*c.W.Shape[1]+in] })
		kernels.Conv2DBackwardExcPointwise(p, perImage, dy[0].Data, y[0].Data, c.B, weights, split, !positive, kernelGate(gate), x[0].Data, dx[0].Data, top)
		return true, top, nil
	}
	if cols {
		kernels.Conv2DBackwardExcCols(p, perImage, dy[0].Data, y[0].Data, c.B, c.W.Data, c.abs(), !positive, x[0].Data, dx[0].Data, top)
		return true, top, nil
	}
	c.partsOnce.Do(func() {
		row := len(c.W.Data) / c.W.Shape[0]
		c.parts = make([]float32, 2*len(c.W.Data))
		for i, v := range c.W.Data {
			m, k := i/row, i%row
			c.parts[2*m*row+k], c.parts[(2*m+1)*row+k] = max(v, 0), min(v, 0)
		}
	})
	kernels.Conv2DBackwardExc(p, perImage, dy[0].Data, y[0].Data, c.B, c.parts, !positive, kernelGate(gate), x[0].Data, dx[0].Data, top)
	return true, top, nil
}

// kernelGate returns gate in the kernels' terms (nil for nil).
func kernelGate(gate *graph.Gate) *kernels.Gate {
	if gate == nil {
		return nil
	}
	return &kernels.Gate{Window: kernels.Window{Lo: gate.Lo, Hi: gate.Hi, Upper: gate.Upper}, On: gate.Input.Data}
}

// Offset implements graph.Backprop: the bias, broadcast over the output.
func (c *Conv) Offset(x, y []*graph.Tensor) []*graph.Tensor {
	if c.B == nil {
		return nil
	}
	return []*graph.Tensor{channelConst(y[0].Shape, c.B)}
}

// ChannelOffset implements graph.ChannelOffsetter: the bias.
func (c *Conv) ChannelOffset(o int) ([]float32, bool) { return c.B, true }

// Terms implements graph.Backprop.
func (c *Conv) Terms() graph.Terms { return graph.MultiTerm }
