package graph

import (
	"fmt"
	"math"
	"slices"
)

// MaxElements bounds the number of elements of any one tensor the importer or
// the executor will allocate (2^31, 8 GiB of float32); larger shapes are an
// error rather than an out-of-memory crash.
const MaxElements = 1 << 31

// Tensor is a dense float32 tensor in row-major order (NCHW for images).
// The zero value is an empty scalar-less tensor; use New to allocate.
type Tensor struct {
	Shape []int
	Data  []float32
}

// New allocates a zeroed tensor of the given shape.
func New(shape ...int) *Tensor {
	n := NumElements(shape)
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// FromData wraps data (not copied) in a tensor of the given shape.
// It returns an error if the sizes disagree.
func FromData(shape []int, data []float32) (*Tensor, error) {
	if n, err := CheckedElements(shape); err != nil {
		return nil, err
	} else if n != len(data) {
		return nil, fmt.Errorf("shape %v holds %d elements, data has %d", shape, n, len(data))
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: data}, nil
}

// Len returns the number of elements.
func (t *Tensor) Len() int { return len(t.Data) }

// Clone returns a deep copy.
func (t *Tensor) Clone() *Tensor {
	return &Tensor{Shape: append([]int(nil), t.Shape...), Data: append([]float32(nil), t.Data...)}
}

// Batch returns the size of the leading dimension (1 for a scalar).
func (t *Tensor) Batch() int {
	if len(t.Shape) == 0 {
		return 1
	}
	return t.Shape[0]
}

// NumElements returns the product of the dims (1 for a scalar).
func NumElements(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// CheckedElements returns the product of the dims, or an error when a dim is
// negative or the product exceeds MaxElements.
func CheckedElements(shape []int) (int, error) {
	n := 1
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v has a negative dimension", shape)
		}
		if d != 0 && n > MaxElements/d {
			return 0, fmt.Errorf("shape %v has more than %d elements", shape, MaxElements)
		}
		n *= d
	}
	return n, nil
}

// Strides returns the row-major strides of shape.
func Strides(shape []int) []int {
	s := make([]int, len(shape))
	acc := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = acc
		acc *= shape[i]
	}
	return s
}

// SameShape reports whether a and b are equal.
func SameShape(a, b []int) bool { return slices.Equal(a, b) }

// HasNonFinite reports whether any element is NaN or ±Inf.
func HasNonFinite(data []float32) bool {
	for _, v := range data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return true
		}
	}
	return false
}

// HasNegative reports whether any element is below zero (−0 and NaN are
// not).
func HasNegative(data []float32) bool {
	return slices.ContainsFunc(data, func(v float32) bool { return v < 0 })
}

// RelativeError returns max|got−want| / max|want| (the absolute error when
// want is all zero), and +Inf when the lengths differ or got has NaN where
// want has none. NaN and matching infinities in want are skipped.
func RelativeError(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var maxDiff, maxRef float64
	for i := range got {
		g, w := float64(got[i]), float64(want[i])
		if math.IsNaN(w) && math.IsNaN(g) || (math.IsInf(w, 0) && g == w) {
			continue
		}
		d := math.Abs(g - w)
		if math.IsNaN(d) {
			return math.Inf(1)
		}
		maxDiff = math.Max(maxDiff, d)
		maxRef = math.Max(maxRef, math.Abs(w))
	}
	if maxRef == 0 {
		return maxDiff
	}
	return maxDiff / maxRef
}
