package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// forEachEW runs f with the vector element-wise bodies (where the CPU has
// them) and with Go alone.
func forEachEW(t *testing.T, f func(t *testing.T)) {
	saved := ew
	defer func() { ew = saved }()
	if saved.band != nil {
		t.Run("vector", f)
	}
	ew = ewKernels{}
	t.Run("go", f)
}

// specialSlice returns n values mixing ordinary numbers with ±0, ±Inf, NaN
// and values equal to the given landmarks.
func specialSlice(r *rand.Rand, n int, landmarks ...float32) []float32 {
	s := randSlice(r, n)
	specials := append([]float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}, landmarks...)
	for i := range s {
		if r.IntN(4) == 0 {
			s[i] = specials[r.IntN(len(specials))]
		}
	}
	return s
}

func sameBits(a, b float32) bool {
	return math.Float32bits(a) == math.Float32bits(b) || (a != a && b != b)
}

// ewLengths covers empty, tail-only, whole-vector and mixed lengths, at
// an odd offset so the slices are not 32-byte aligned.
func ewCase(r *rand.Rand, n int, landmarks ...float32) []float32 {
	return specialSlice(r, n+3, landmarks...)[3:]
}

func TestBand(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(1, 2))
		for n := range 41 {
			for _, c := range []struct {
				lo, hi            float32
				upper, accumulate bool
			}{{0, 0, false, false}, {0, 0, false, true}, {0, 6, true, false}, {-0.5, 0.25, true, true}} {
				v, x, dst := ewCase(r, n), ewCase(r, n, c.lo, c.hi), ewCase(r, n)
				want := make([]float32, n)
				for i := range want {
					// Definition: the coefficient 1[lo < x < hi] times v.
					inside := x[i] > c.lo && (!c.upper || x[i] < c.hi)
					if inside {
						want[i] = v[i]
					}
					if c.accumulate {
						want[i] += dst[i]
					}
				}
				Band(dst, v, x, c.lo, c.hi, c.upper, c.accumulate)
				for i := range want {
					if !sameBits(dst[i], want[i]) && !(dst[i] == 0 && want[i] == 0) {
						t.Fatalf("n=%d %+v i=%d: x=%v v=%v got %v want %v", n, c, i, x[i], v[i], dst[i], want[i])
					}
				}
			}
		}
	})
}

func TestClamp(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(3, 4))
		for n := range 41 {
			for _, b := range [][2]float32{{0, 6}, {-0.25, 0.5}, {float32(math.Inf(-1)), float32(math.Inf(1))}} {
				x, y := ewCase(r, n, b[0], b[1]), make([]float32, n)
				Clamp(y, x, b[0], b[1])
				for i, v := range x {
					want := float32(math.Min(math.Max(float64(v), float64(b[0])), float64(b[1])))
					if y[i] != want && !(v != v && y[i] != y[i]) {
						t.Fatalf("n=%d bounds %v: clamp(%v) = %v, want %v", n, b, v, y[i], want)
					}
				}
			}
		}
	})
}

func TestCombineExc(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(5, 6))
		for n := range 41 {
			for _, negative := range []bool{false, true} {
				a, b, x := ewCase(r, n), ewCase(r, n), ewCase(r, n)
				want := make([]float32, n)
				var top float64
				nan := false
				for i := range want {
					// SPEC §5.2: ½·1[x≠0]·(a ± sign(x)·b).
					sx := float32(1)
					if math.Signbit(float64(x[i])) {
						sx = -1
					}
					if negative {
						sx = -sx
					}
					if x[i] != 0 {
						want[i] = 0.5 * (a[i] + sx*b[i])
					}
					top = math.Max(top, math.Abs(float64(want[i])))
					nan = nan || want[i] != want[i]
				}
				if nan {
					top = math.NaN()
				}
				got := CombineExc(a, b, x, negative)
				for i := range want {
					if !sameBits(a[i], want[i]) && !(a[i] == 0 && want[i] == 0) {
						t.Fatalf("n=%d negative=%v i=%d: got %v want %v", n, negative, i, a[i], want[i])
					}
				}
				gotTop := float64(math.Float32frombits(got))
				if gotTop != top && !(math.IsNaN(top) && math.IsNaN(gotTop)) {
					t.Fatalf("n=%d: max |a| = %v, want %v", n, gotTop, top)
				}
			}
		}
	})
}

func TestSignFlip(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(7, 8))
		for n := range 41 {
			for _, c := range []float32{0, 0.25} {
				v, y, out := ewCase(r, n), ewCase(r, n, c), make([]float32, n)
				SignFlip(out, v, y, c)
				for i := range out {
					want := v[i]
					if float64(y[i])-float64(c) < 0 && y[i] != c {
						want = -want
					}
					if !sameBits(out[i], want) {
						t.Fatalf("n=%d c=%v: v=%v y=%v: got %v want %v", n, c, v[i], y[i], out[i], want)
					}
				}
			}
		}
	})
}

func TestSignMatch(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for n := range 41 {
			for _, c := range []struct{ opposite, negate bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
				v, z, y, dst := ewCase(r, n), ewCase(r, n), ewCase(r, n), ewCase(r, n)
				SignMatch(dst, v, z, y, c.opposite, c.negate)
				for i := range dst {
					// The term z is counted where it is non-zero and its sign
					// is the output's (+ at zero), or the opposite one.
					out := 1.0
					if y[i] < 0 {
						out = -1
					}
					if c.opposite {
						out = -out
					}
					var want float32
					if z[i] != 0 && z[i] == z[i] && math.Copysign(1, float64(z[i])) == out {
						want = v[i]
						if c.negate {
							want = -want
						}
					}
					if !sameBits(dst[i], want) && !(dst[i] == 0 && want == 0) {
						t.Fatalf("n=%d %+v: v=%v z=%v y=%v: got %v want %v", n, c, v[i], z[i], y[i], dst[i], want)
					}
				}
			}
		}
	})
}

func TestNonZeroSign(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for n := range 41 {
			for _, sign := range []bool{false, true} {
				v, x := ewCase(r, n), ewCase(r, n)
				want := make([]float32, n)
				for i := range want {
					// v·1[x≠0], or v·sign(x) with sign(±0) = 0.
					switch {
					case x[i] == 0:
					case !sign || !math.Signbit(float64(x[i])):
						want[i] = v[i]
					default:
						want[i] = -v[i]
					}
				}
				NonZeroSign(v, x, sign)
				for i := range want {
					if !sameBits(v[i], want[i]) && !(v[i] == 0 && want[i] == 0) {
						t.Fatalf("n=%d sign=%v x=%v: got %v want %v", n, sign, x[i], v[i], want[i])
					}
				}
			}
		}
	})
}

// TestSumsF64 checks DotF64 and SumF64 against float64 sums of exact
// products (to rounding) and the vector path against Go bit for bit.
func TestSumsF64(t *testing.T) {
	results := map[string][]float64{}
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(13, 14)) // the same data on every path
		var got []float64
		for n := range 70 {
			a, b := randSlice(r, n+1)[1:], randSlice(r, n)
			var dot, sum, mag float64
			for i := range a {
				dot += float64(a[i]) * float64(b[i])
				sum += float64(a[i])
				mag += math.Abs(float64(a[i])) * (1 + math.Abs(float64(b[i])))
			}
			d, s := DotF64(a, b), SumF64(a)
			if math.Abs(d-dot) > 1e-13*mag || math.Abs(s-sum) > 1e-13*mag {
				t.Fatalf("n=%d: dot %v want %v, sum %v want %v", n, d, dot, s, sum)
			}
			got = append(got, d, s)
		}
		results[t.Name()] = got
	})
	var paths [][]float64
	for _, v := range results {
		paths = append(paths, v)
	}
	for i := 1; i < len(paths); i++ {
		for k := range paths[0] {
			if paths[i][k] != paths[0][k] {
				t.Fatalf("vector and Go sums differ: %v vs %v", paths[i][k], paths[0][k])
			}
		}
	}
}

func TestMaxAbsBits(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(15, 16))
		for n := range 41 {
			x := ewCase(r, n)
			var want uint32
			for _, v := range x {
				// Definition: the largest |x|, NaN above everything.
				b := math.Float32bits(float32(math.Abs(float64(v))))
				if v != v {
					b = math.Float32bits(v) &^ signBit
				}
				want = max(want, b)
			}
			if got := MaxAbsBits(x); got != want {
				t.Fatalf("n=%d: got %#x want %#x", n, got, want)
			}
		}
	})
}

func TestSplitSign(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(9, 10))
		for n := range 41 {
			for _, c := range []float32{0, 0.25} {
				v, y := ewCase(r, n), ewCase(r, n, c)
				if n > 0 && r.IntN(3) == 0 {
					clear(v) // both parts zero
				}
				pos, neg := make([]float32, n), make([]float32, n)
				anyPos, anyNeg := SplitSign(pos, neg, v, y, c)
				wantPos, wantNeg := false, false
				for i := range v {
					below := float64(y[i])-float64(c) < 0 && y[i] != c
					p, q := v[i], float32(0)
					if below {
						p, q = 0, v[i]
					}
					if !sameBits(pos[i], p) || !sameBits(neg[i], q) {
						t.Fatalf("n=%d c=%v: v=%v y=%v: got (%v, %v) want (%v, %v)", n, c, v[i], y[i], pos[i], neg[i], p, q)
					}
					wantPos = wantPos || p != 0
					wantNeg = wantNeg || q != 0
				}
				if anyPos != wantPos || anyNeg != wantNeg {
					t.Fatalf("n=%d: non-zero parts (%v, %v), want (%v, %v)", n, anyPos, anyNeg, wantPos, wantNeg)
				}
			}
		}
	})
}

func TestAddScaled(t *testing.T) {
	forEachEW(t, func(t *testing.T) {
		r := rand.New(rand.NewPCG(11, 12))
		for n := range 41 {
			for _, f := range []float32{1, 0.375, -3, float32(math.Inf(1))} {
				dst, src := ewCase(r, n), ewCase(r, n)
				want := make([]float32, n)
				for i := range want {
					p := src[i] * f // rounded to float32, then summed
					want[i] = dst[i] + p
				}
				AddScaled(dst, src, f)
				for i := range dst {
					if !sameBits(dst[i], want[i]) && !(dst[i] != dst[i] && want[i] != want[i]) {
						t.Fatalf("n=%d f=%v: element %d: got %v want %v", n, f, i, dst[i], want[i])
					}
				}
			}
		}
	})
}
