package excitation

import (
	"math"

	"github.com/paneonnx/paneonnx/graph"
)

// Vec is a batch of backward vectors over one tensor: row b of T (batch
// N·S, row b belongs to image b/S) stands for T_b · 2^Log2Scale[b]. The
// per-row scale lets products of many excitation matrices, which grow or
// shrink geometrically with depth, stay inside float32's range.
type Vec struct {
	T         *graph.Tensor
	Log2Scale []float64
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
		for i, x := range s {
			d[i] += x * f
		}
	}
}

// normalize rescales each row so that its max-abs is a power of two in
// [1, 2), folding the factor into Log2Scale.
func (v *Vec) normalize() {
	for b := range v.Rows() {
		row := v.Row(b)
		var m float32
		for _, x := range row {
			m = max(m, abs32(x))
		}
		if m == 0 || math.IsInf(float64(m), 0) || math.IsNaN(float64(m)) {
			continue
		}
		_, e := math.Frexp(float64(m)) // m = f·2^e with f in [0.5, 1)
		shift := float64(e - 1)
		scaleRow(row, -shift)
		v.Log2Scale[b] += shift
	}
}

func allZero(row []float32) bool {
	for _, x := range row {
		if x != 0 {
			return false
		}
	}
	return true
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
