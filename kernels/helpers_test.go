package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// forEachKernels runs f once per tile-kernel family this machine supports,
// restoring the default afterwards.
func forEachKernels(t *testing.T, f func(t *testing.T)) {
	saved := activeKernels
	defer func() { activeKernels = saved }()
	for _, k := range availableKernels() {
		activeKernels = k
		t.Run(k.name, f)
	}
}

// randSlice returns n uniform values in [-1, 1).
func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = 2*r.Float32() - 1
	}
	return s
}

// checkClose fails when got and want differ by more than tol relative to
// scale (the magnitude of the terms that were summed).
func checkClose(t *testing.T, what string, got []float32, want, scale []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", what, len(got), len(want))
	}
	for i := range got {
		d := math.Abs(float64(got[i]) - want[i])
		if !(d <= tol*(scale[i]+1e-6)) {
			t.Fatalf("%s: element %d = %g, want %g (scale %g)", what, i, got[i], want[i], scale[i])
		}
	}
}
