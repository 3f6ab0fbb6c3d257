package ops

import (
	"math"
	"sync"
)

// pointwiseWeights holds, made on first use, the transposed weights that
// kernels.Conv2DBackwardExcPointwise multiplies by for a map from C input
// to M output channels with weight a(in, o): C rows of max(a, 0), min(a, 0)
// for o = 0, 1, … (split, for inputs with no negative value), or C rows of
// a(in, ·) followed by C rows of |a(in, ·)|.
type pointwiseWeights struct {
	once [2]sync.Once
	t    [2][]float32
}

func (pw *pointwiseWeights) get(split bool, c, m int, a func(in, o int) float32) []float32 {
	k := 0
	if split {
		k = 1
	}
	pw.once[k].Do(func() {
		t := make([]float32, 2*c*m)
		for in := range c {
			for o := range m {
				v := a(in, o)
				if split {
					t[in*2*m+2*o], t[in*2*m+2*o+1] = max(v, 0), min(v, 0)
				} else {
					t[in*m+o], t[c*m+in*m+o] = v, float32(math.Abs(float64(v)))
				}
			}
		}
		pw.t[k] = t
	})
	return pw.t[k]
}
