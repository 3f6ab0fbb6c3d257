package ops

import (
	"fmt"
	"sync"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/kernels"
)

func init() {
	graph.Register("MaxPool", newPool(true))
	graph.Register("AveragePool", newPool(false))
}

// Pool is MaxPool or AveragePool over 1-D or 2-D windows. MaxPool's local
// linear form selects the first maximum of each window in row-major order
// with coefficient 1 (SingleTerm); AveragePool's is the mean over the
// window's counted elements (MultiTerm). Both have c = 0.
type Pool struct {
	Max             bool
	CountIncludePad bool
	win             window
}

func newPool(isMax bool) graph.Constructor {
	return func(s *graph.NodeSpec) (graph.Op, error) {
		if err := s.RequireData(0); err != nil {
			return nil, err
		}
		if s.NumOutputs > 1 {
			return nil, s.Errorf("the Indices output is not supported")
		}
		win, err := readWindow(s, nil, true)
		if err != nil {
			return nil, err
		}
		p := &Pool{Max: isMax, win: win}
		if isMax {
			order, err := s.Int("storage_order", 0)
			if err != nil {
				return nil, err
			}
			if order != 0 {
				return nil, s.Errorf("storage_order %d only affects the Indices output, which is not supported", order)
			}
		} else {
			cip, err := s.Int("count_include_pad", 0)
			if err != nil {
				return nil, err
			}
			p.CountIncludePad = cip != 0
		}
		return p, nil
	}
}

// Type implements graph.Op.
func (p *Pool) Type() string {
	if p.Max {
		return "MaxPool"
	}
	return "AveragePool"
}

func (p *Pool) params(in []int) (kernels.PoolParams, error) {
	g, err := p.win.apply(in)
	if err != nil {
		return kernels.PoolParams{}, err
	}
	return kernels.PoolParams{
		N: g.n, C: g.c, H: g.h, W: g.w, KH: p.win.kernel[0], KW: p.win.kernel[1], OH: g.oh, OW: g.ow,
		StrideH: p.win.strides[0], StrideW: p.win.strides[1], DilH: p.win.dilations[0], DilW: p.win.dilations[1],
		PadT: g.pads[0], PadL: g.pads[1], PadB: g.pads[2], PadR: g.pads[3], CountIncludePad: p.CountIncludePad,
	}, nil
}

// Infer implements graph.Op.
func (p *Pool) Infer(in [][]int) ([][]int, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("expects 1 data input, has %d", len(in))
	}
	g, err := p.win.apply(in[0])
	if err != nil {
		return nil, err
	}
	return [][]int{p.win.outShape(g, g.c)}, nil
}

// Forward implements graph.Op.
func (p *Pool) Forward(in, out []*graph.Tensor) error {
	pp, err := p.params(in[0].Shape)
	if err != nil {
		return err
	}
	if p.Max {
		kernels.MaxPool2D(pp, in[0].Data, out[0].Data, nil)
	} else {
		kernels.AvgPool2D(pp, in[0].Data, out[0].Data)
	}
	return nil
}

// NonNegativeOutputs implements graph.NonNegativeOp: maxima and averages
// of non-negative values.
func (p *Pool) NonNegativeOutputs(in []bool) bool { return in[0] }

// Backward implements graph.Backprop. Every mode uses the same matrix: its
// coefficients are non-negative and it is the true Jacobian too.
func (p *Pool) Backward(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return p.backward(x, y, dy, dx, false)
}

// BackwardSet implements graph.BackwardSetter.
func (p *Pool) BackwardSet(mode graph.Mode, x, y, dy, dx []*graph.Tensor) error {
	return p.backward(x, y, dy, dx, true)
}

// argmaxBuffers recycles MaxPool's backward scratch (the window maxima and
// their positions, recomputed from x), which would otherwise be allocated
// and cleared on every call.
var argmaxBuffers sync.Pool

type argmaxBuffer struct {
	idx []int32
	max []float32
}

func (p *Pool) backward(x, y, dy, dx []*graph.Tensor, set bool) error {
	if noProduct(dy[0], dx[0], set) {
		return nil
	}
	pp, err := p.params(x[0].Shape)
	if err != nil {
		return err
	}
	if !p.Max {
		if set {
			clear(dx[0].Data)
		}
		pp.N = dy[0].Shape[0]
		kernels.AvgPool2DBackward(pp, dy[0].Data, dx[0].Data)
		return nil
	}
	buf, _ := argmaxBuffers.Get().(*argmaxBuffer)
	if buf == nil || cap(buf.idx) < len(y[0].Data) {
		buf = &argmaxBuffer{idx: make([]int32, len(y[0].Data)), max: make([]float32, len(y[0].Data))}
	}
	defer argmaxBuffers.Put(buf)
	argmax, scratch := buf.idx[:len(y[0].Data)], buf.max[:len(y[0].Data)]
	kernels.MaxPool2D(pp, x[0].Data, scratch, argmax)
	kernels.MaxPool2DBackward(pp, dy[0].Data, argmax, dx[0].Data, dy[0].Shape[0]/x[0].Shape[0], set)
	return nil
}

// Offset implements graph.Backprop: pooling has no constant part.
func (p *Pool) Offset(x, y []*graph.Tensor) []*graph.Tensor { return nil }

// Terms implements graph.Backprop.
func (p *Pool) Terms() graph.Terms {
	if p.Max {
		return graph.SingleTerm
	}
	return graph.MultiTerm
}
