package ops

import (
	"math"
	"testing"
)

// TestMathf compares the float32 functions with float64 math on a dense
// grid plus the edges of their ranges, in units of float32 rounding.
func TestMathf(t *testing.T) {
	for _, c := range []struct {
		name   string
		f      func(float32) float32
		ref    func(float64) float64
		lo, hi float64
		ulps   float64
	}{
		{"expf", expf, math.Exp, -87, 88.7, 4},
		{"expm1f", expm1f, math.Expm1, -20, 20, 5},
		{"sigmoidf", sigmoidf, sigmoid, -80, 80, 4},
		{"tanhf", tanhf, math.Tanh, -12, 12, 4},
	} {
		worst := 0.0
		check := func(x float32) {
			got, want := float64(c.f(x)), c.ref(float64(x))
			if math.IsInf(want, 0) || want == 0 {
				if got != want {
					t.Errorf("%s(%g) = %g, want %g", c.name, x, got, want)
				}
				return
			}
			if e := math.Abs(got-want) / math.Abs(want) / 0x1p-24; e > worst {
				worst = e
			}
		}
		for i := 0; i <= 200000; i++ {
			check(float32(c.lo + (c.hi-c.lo)*float64(i)/200000))
		}
		for _, x := range []float32{0, 1e-30, -1e-30, 1e-8, -1e-8, 0.3465, -0.3465, 0.3466, -0.3466} {
			check(x)
		}
		if worst > c.ulps {
			t.Errorf("%s: error up to %.1f ulps", c.name, worst)
		}
	}
	for _, c := range []struct {
		x, want float32
	}{
		{89, float32(math.Inf(1))}, {-104, 0}, {float32(math.Inf(-1)), 0},
	} {
		if got := expf(c.x); got != c.want {
			t.Errorf("expf(%g) = %g, want %g", c.x, got, c.want)
		}
	}
	// A subnormal result has only a few significant bits.
	if v := expf(-100); v <= 0 || math.Abs(float64(v)/math.Exp(-100)-1) > 0.05 {
		t.Errorf("expf(-100) = %g, want the subnormal %g", v, math.Exp(-100))
	}
	if v := expf(float32(math.NaN())); v == v {
		t.Errorf("expf(NaN) = %g", v)
	}
	if v := sigmoidf(-100); v < 0 || v > 1e-40 {
		t.Errorf("sigmoidf(-100) = %g", sigmoidf(-100))
	}
	if tanhf(20) != 1 || tanhf(-20) != -1 {
		t.Errorf("tanhf(±20) = %g, %g", tanhf(20), tanhf(-20))
	}
}
