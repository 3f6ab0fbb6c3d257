package ops

import (
	"fmt"
	"slices"

	"github.com/paneonnx/paneonnx/graph"
)

// window holds the sliding-window attributes shared by Conv, MaxPool and
// AveragePool for 1-D and 2-D inputs (a 1-D input is a 2-D one of height 1).
type window struct {
	kernel, strides, dilations [2]int
	// pads are top, left, bottom, right; autoPad overrides them per shape.
	pads     [4]int
	autoPad  string
	ceilMode bool
	spatial  int // 1 or 2
}

// readWindow reads kernel_shape (or takes kernel when the attribute is
// absent, as Conv may), strides, dilations, pads, auto_pad and, when
// allowCeil, ceil_mode.
func readWindow(s *graph.NodeSpec, kernel []int64, allowCeil bool) (window, error) {
	var w window
	ks, err := s.Ints("kernel_shape", kernel)
	if err != nil {
		return w, err
	}
	if len(ks) < 1 || len(ks) > 2 {
		return w, s.Errorf("kernel_shape %v: windows of %d dims are not supported (1-D and 2-D are)", ks, len(ks))
	}
	w.spatial = len(ks)
	if kernel != nil && !slices.Equal(ks, kernel) {
		return w, s.Errorf("kernel_shape %v does not match the weight's %v", ks, kernel)
	}
	get := func(name string, def int64, n int) ([]int64, error) {
		v, err := s.Ints(name, nil)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = make([]int64, n)
			for i := range v {
				v[i] = def
			}
		}
		if len(v) != n {
			return nil, s.Errorf("%s has %d values, expected %d", name, len(v), n)
		}
		return v, nil
	}
	st, err := get("strides", 1, w.spatial)
	if err != nil {
		return w, err
	}
	dl, err := get("dilations", 1, w.spatial)
	if err != nil {
		return w, err
	}
	pd, err := get("pads", 0, 2*w.spatial)
	if err != nil {
		return w, err
	}
	if w.autoPad, err = s.String("auto_pad", "NOTSET"); err != nil {
		return w, err
	}
	switch w.autoPad {
	case "NOTSET", "VALID", "SAME_UPPER", "SAME_LOWER":
	default:
		return w, s.Errorf("auto_pad %q is not one of NOTSET, VALID, SAME_UPPER, SAME_LOWER", w.autoPad)
	}
	if allowCeil {
		c, err := s.Int("ceil_mode", 0)
		if err != nil {
			return w, err
		}
		w.ceilMode = c != 0
	}
	// Map 1-D to the width axis of a height-1 2-D window.
	off := 2 - w.spatial
	w.kernel, w.strides, w.dilations = [2]int{1, 1}, [2]int{1, 1}, [2]int{1, 1}
	for i := range w.spatial {
		if ks[i] < 1 || st[i] < 1 || dl[i] < 1 || ks[i] > 1<<16 || st[i] > 1<<16 || dl[i] > 1<<16 {
			return w, s.Errorf("kernel %v, strides %v and dilations %v must be positive and reasonable", ks, st, dl)
		}
		if pd[i] < 0 || pd[i+w.spatial] < 0 || pd[i] > 1<<16 || pd[i+w.spatial] > 1<<16 {
			return w, s.Errorf("pads %v must be non-negative and reasonable", pd)
		}
		w.kernel[off+i], w.strides[off+i], w.dilations[off+i] = int(ks[i]), int(st[i]), int(dl[i])
		w.pads[off+i], w.pads[2+off+i] = int(pd[i]), int(pd[i+w.spatial])
	}
	return w, nil
}

// geometry is a window applied to one input shape.
type geometry struct {
	n, c, h, w, oh, ow int
	pads               [4]int
}

// apply resolves auto_pad and ceil_mode for input shape in ([N,C,L] or
// [N,C,H,W]) and returns the output spatial size.
func (w window) apply(in []int) (geometry, error) {
	if len(in) != 2+w.spatial {
		return geometry{}, fmt.Errorf("input of shape %v, expected %d spatial dims", in, w.spatial)
	}
	g := geometry{n: in[0], c: in[1], h: 1, w: in[len(in)-1], pads: w.pads}
	if w.spatial == 2 {
		g.h = in[2]
	}
	size := [2]int{g.h, g.w}
	var out [2]int
	for a := range 2 {
		ext := w.dilations[a]*(w.kernel[a]-1) + 1
		switch w.autoPad {
		case "VALID":
			g.pads[a], g.pads[2+a] = 0, 0
		case "SAME_UPPER", "SAME_LOWER":
			o := (size[a] + w.strides[a] - 1) / w.strides[a]
			total := max((o-1)*w.strides[a]+ext-size[a], 0)
			small, big := total/2, total-total/2
			if w.autoPad == "SAME_UPPER" {
				g.pads[a], g.pads[2+a] = small, big
			} else {
				g.pads[a], g.pads[2+a] = big, small
			}
		}
		span := size[a] + g.pads[a] + g.pads[2+a] - ext
		if span < 0 {
			return geometry{}, fmt.Errorf("the window (extent %d) is larger than the padded input %v", ext, in)
		}
		if w.ceilMode {
			out[a] = (span+w.strides[a]-1)/w.strides[a] + 1
			// A last window that starts in the end padding is dropped.
			if (out[a]-1)*w.strides[a] >= size[a]+g.pads[a] {
				out[a]--
			}
		} else {
			out[a] = span/w.strides[a] + 1
		}
	}
	g.oh, g.ow = out[0], out[1]
	return g, nil
}

// outShape returns the output shape for c output channels, keeping the
// input's rank.
func (w window) outShape(g geometry, c int) []int {
	if w.spatial == 1 {
		return []int{g.n, c, g.ow}
	}
	return []int{g.n, c, g.oh, g.ow}
}
