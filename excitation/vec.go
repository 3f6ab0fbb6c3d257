package excitation

import (
	"math"
	"sync/atomic"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/internal/par"
	"github.com/paneonnx/paneonnx/kernels"
)

// Vec is a batch of backward vectors over one tensor: row b of T (batch
// N·S, row b belongs to image b/S) stands for T_b · 2^Log2Scale[b]. The
// per-row scale lets products of many excitation matrices, which grow or
// shrink geometrically with depth, stay inside float32's range.
type Vec struct {
	T         *graph.Tensor
	Log2Scale []float64

	normalized bool // normalize has nothing left to do
}

// Rows returns the number of rows (seeds × images).
func (v *Vec) Rows() int { return v.T.Shape[0] }

func (v *Vec) rowLen() int { return len(v.T.Data) / v.Rows() }

// Row returns row b as float32 values still to be multiplied by 2^Log2Scale[b].
func (v *Vec) Row(b int) []float32 {
	n := v.rowLen()
	return v.T.Data[b*n : (b+1)*n]
}

// Float64 returns row b at its true scale. Values beyond float64's range
// become ±Inf.
func (v *Vec) Float64(b int) []float64 {
	row := v.Row(b)
	out := make([]float64, len(row))
	for i, x := range row {
		out[i] = math.Ldexp(float64(x), int(v.Log2Scale[b]))
	}
	return out
}

func newVec(shape []int) *Vec {
	return &Vec{T: graph.New(shape...), Log2Scale: make([]float64, shape[0])}
}

// scaleRow multiplies row b by 2^e (e an integer), exactly.
func scaleRow(row []float32, e float64) {
	if e == 0 {
		return
	}
	if e < -300 {
		clear(row)
		return
	}
	f := float32(math.Exp2(e))
	if e < -126 || f == 0 {
		// Subnormal factors lose precision: scale in two steps.
		h := float32(math.Exp2(e / 2))
		for i := range row {
			row[i] = row[i] * h * h
		}
		return
	}
	for i := range row {
		row[i] *= f
	}
}

// add accumulates src into dst (same shape), aligning each row's scale to
// the larger of the two.
func (dst *Vec) add(src *Vec) {
	for b := range dst.Rows() {
		d, s := dst.Row(b), src.Row(b)
		ld, ls := dst.Log2Scale[b], src.Log2Scale[b]
		if ls > ld && !allZero(d) {
			scaleRow(d, ld-ls)
			dst.Log2Scale[b] = ls
		} else if allZero(d) {
			dst.Log2Scale[b] = ls
		}
		f := float32(math.Exp2(ls - dst.Log2Scale[b]))
		if ls-dst.Log2Scale[b] < -149 {
			continue
		}
		par.For(len(d), parallelGrain, func(lo, hi int) { kernels.AddScaled(d[lo:hi], s[lo:hi], f) })
	}
}

// normalize keeps each row inside a comfortable float32 range: when its
// max-abs leaves [2^−40, 2^40] the row is rescaled so that the max-abs is in
// [1, 2), and the factor goes into Log2Scale. Rows inside the range are only
// scanned, so vectors that neither grow nor shrink cost one pass.
func (v *Vec) normalize() {
	for b := range v.Rows() {
		v.normalizeRow(b, maxAbsBits(v.Row(b)))
	}
}

// maxAbsBits is kernels.MaxAbsBits of row, on several goroutines when the
// row is long.
func maxAbsBits(row []float32) uint32 {
	return parMaxBits(len(row), func(lo, hi int) uint32 { return kernels.MaxAbsBits(row[lo:hi]) })
}

// parMaxBits runs chunk over [0, n) split as par.For splits it and returns
// the largest bit pattern the chunks report.
func parMaxBits(n int, chunk func(lo, hi int) uint32) uint32 {
	var top atomic.Uint32
	par.For(n, parallelGrain, func(lo, hi int) {
		m := chunk(lo, hi)
		for old := top.Load(); m > old && !top.CompareAndSwap(old, m); old = top.Load() {
		}
	})
	return top.Load()
}

// normalizeRow is normalize for row b, whose max-abs has bit pattern m.
func (v *Vec) normalizeRow(b int, m uint32) {
	if m == 0 || m >= 0x7f800000 { // all zero, or Inf/NaN: leave as is
		return
	}
	e := int(m>>23) - 127 // the exponent of the max-abs
	if e >= -40 && e <= 40 {
		return
	}
	scaleRow(v.Row(b), float64(-e))
	v.Log2Scale[b] += float64(e)
}

func allZero(row []float32) bool {
	for _, x := range row {
		if x != 0 {
			return false
		}
	}
	return true
}
