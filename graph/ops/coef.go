package ops

import "github.com/paneonnx/paneonnx/graph"

// absOf returns |v| element-wise.
func absOf(v []float32) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		if x < 0 {
			x = -x
		}
		out[i] = x
	}
	return out
}

// channelConst returns a tensor of the given NC... shape holding per[c] at
// every position of channel c (for a 2-D [N, C] shape, per column).
func channelConst(shape []int, per []float32) *graph.Tensor {
	t := graph.New(shape...)
	inner := 1
	for _, d := range shape[2:] {
		inner *= d
	}
	for start := 0; start < len(t.Data); start += inner * len(per) {
		for c, v := range per {
			row := t.Data[start+c*inner : start+(c+1)*inner]
			for i := range row {
				row[i] = v
			}
		}
	}
	return t
}
