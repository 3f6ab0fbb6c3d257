package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// naiveSgemm is the float64 reference: it returns alpha·op(A)·op(B) + beta·C
// and, per element, the sum of absolute values of the terms.
func naiveSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, scale []float64) {
	want = make([]float64, len(c))
	scale = make([]float64, len(c))
	for i := range c {
		want[i] = float64(c[i])
		scale[i] = math.Abs(float64(c[i]))
	}
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				s += float64(av) * float64(bv)
				sa += math.Abs(float64(av) * float64(bv))
			}
			x, sx := float64(alpha)*s, math.Abs(float64(alpha))*sa
			if beta != 0 {
				x += float64(beta) * float64(c[i*ldc+j])
				sx += math.Abs(float64(beta) * float64(c[i*ldc+j]))
			}
			want[i*ldc+j], scale[i*ldc+j] = x, sx
		}
	}
	return want, scale
}

func TestSgemm(t *testing.T) {
	type tc struct {
		m, n, k        int
		transA, transB bool
		alpha, beta    float32
	}
	cases := []tc{
		{1, 1, 1, false, false, 1, 0},
		{13, 33, 7, false, false, 1, 0},
		{12, 32, 4, false, false, 1, 1},
		{25, 70, 300, false, false, 1, 0.5},
		{7, 5, 3, true, false, 2, 0},
		{9, 17, 19, false, true, -1, 1},
		{30, 45, 260, true, true, 0.5, -2},
		{1, 100, 77, false, false, 1, 0},
		{1, 1000, 64, false, true, 1, 1},
		{3, 1, 40, false, false, 1, 0},
		{64, 300, 520, false, false, 1, 0},
		{100, 9, 600, true, false, 1, 0},
		{5, 5, 0, false, false, 1, 3},
		{4, 4, 4, false, false, 0, 0.25},
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 12 {
		cases = append(cases, tc{1 + r.IntN(40), 1 + r.IntN(90), 1 + r.IntN(300), r.IntN(2) == 0, r.IntN(2) == 0, 2*r.Float32() - 1, float32(r.IntN(3)) - 1})
		_ = i
	}
	forEachKernels(t, func(t *testing.T) {
		for _, c := range cases {
			name := fmt.Sprintf("%dx%dx%d/tA=%v/tB=%v/a=%g/b=%g", c.m, c.n, c.k, c.transA, c.transB, c.alpha, c.beta)
			lda, ldb, ldc := c.k+3, c.n+1, c.n+2
			if c.transA {
				lda = c.m + 2
			}
			if c.transB {
				ldb = c.k + 5
			}
			aRows, bRows := c.m, c.k
			if c.transA {
				aRows = c.k
			}
			if c.transB {
				bRows = c.n
			}
			a := randSlice(r, aRows*lda)
			b := randSlice(r, bRows*ldb)
			cm := randSlice(r, c.m*ldc)
			if c.beta == 0 {
				for i := range cm {
					cm[i] = float32(math.NaN()) // must not be read
				}
			}
			want, scale := naiveSgemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, cm, ldc)
			if c.beta == 0 {
				for i := range want {
					if i%ldc >= c.n {
						want[i], scale[i] = math.NaN(), 0
					}
				}
			}
			got := append([]float32(nil), cm...)
			Sgemm(c.transA, c.transB, c.m, c.n, c.k, c.alpha, a, lda, b, ldb, c.beta, got, ldc)
			for i := range got {
				if i%ldc >= c.n {
					if math.Float32bits(got[i]) != math.Float32bits(cm[i]) {
						t.Fatalf("%s: padding element %d changed", name, i)
					}
					got[i], want[i] = 0, 0
				}
			}
			checkClose(t, name, got, want, scale, 1e-5)
		}
	})
}

func TestGatherStrided(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	src := randSlice(r, 400)
	forEachKernels(t, func(t *testing.T) {
		for stride := 1; stride <= 4; stride++ {
			for n := 0; n <= 40; n++ {
				dst := make([]float32, n+1)
				dst[n] = 7
				gatherStrided(dst[:n], src[3:], stride)
				for j := range n {
					if dst[j] != src[3+j*stride] {
						t.Fatalf("stride %d n %d: dst[%d] = %g, want %g", stride, n, j, dst[j], src[3+j*stride])
					}
				}
				if dst[n] != 7 {
					t.Fatalf("stride %d n %d: wrote past the end", stride, n)
				}
			}
		}
	})
}

func TestScatterAddStrided(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	forEachKernels(t, func(t *testing.T) {
		for stride := 1; stride <= 3; stride++ {
			for n := 1; n <= 70; n++ {
				src := randSlice(r, n)
				dst := randSlice(r, (n-1)*stride+1)
				want := append([]float32(nil), dst...)
				for j, v := range src {
					want[j*stride] += v
				}
				scatterAddStrided(dst, src, stride)
				for i := range dst {
					if dst[i] != want[i] {
						t.Fatalf("stride %d n %d: dst[%d] = %g, want %g", stride, n, i, dst[i], want[i])
					}
				}
			}
		}
	})
}
