package iom

import (
	"math"
	"testing"
)

// TestBoxHandWorked checks the 3×3 mean filter on a 3×3 plane, where the
// borders average only their in-bounds neighbours.
func TestBoxHandWorked(t *testing.T) {
	m := []float32{
		1, 2, 3,
		4, 5, 6,
		7, 8, 9,
	}
	want := []float32{
		(1 + 2 + 4 + 5) / 4.0, (1 + 2 + 3 + 4 + 5 + 6) / 6.0, (2 + 3 + 5 + 6) / 4.0,
		(1 + 2 + 4 + 5 + 7 + 8) / 6.0, 45 / 9.0, (2 + 3 + 5 + 6 + 8 + 9) / 6.0,
		(4 + 5 + 7 + 8) / 4.0, (4 + 5 + 6 + 7 + 8 + 9) / 6.0, (5 + 6 + 8 + 9) / 4.0,
	}
	got := Box(m, 1, 3, 3, 3)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("element %d: %g, want %g", i, got[i], want[i])
		}
	}
	// Channels are filtered independently; k = 1 is the identity.
	two := append(append([]float32(nil), m...), make([]float32, 9)...)
	if got := Box(two, 2, 3, 3, 3); got[4] != 5 || got[13] != 0 {
		t.Errorf("channels mixed: %v", got)
	}
	if got := Box(m, 1, 3, 3, 1); got[0] != 1 || got[8] != 9 {
		t.Errorf("k = 1 changed the map: %v", got)
	}
}

func TestNormalize(t *testing.T) {
	got := Normalize([]float32{-4, 2, 0, 1})
	want := []float32{-1, 0.5, 0, 0.25}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Normalize: %v, want %v", got, want)
		}
	}
	zero := Normalize(make([]float32, 5))
	for _, v := range zero {
		if v != 0 {
			t.Fatalf("an all-zero map changed: %v", zero)
		}
	}
}

func TestFinalIsBoxThenNormalize(t *testing.T) {
	raw := &Raw{Shape: []int{1, 3, 3}, Maps: [][]float32{{0, 0, 0, 0, 9, 0, 0, 0, 0}}}
	got := raw.Final(0, 3)
	// Every neighbourhood holds the 9; the centre averages 9 values, the
	// corners 4: 9/4 is the maximum.
	if got[0] != 1 || math.Abs(float64(got[4])-4.0/9) > 1e-6 || math.Abs(float64(got[1])-4.0/6) > 1e-6 {
		t.Fatalf("Final: %v", got)
	}
}

func TestParseMethods(t *testing.T) {
	ms, err := ParseMethods("iom, GRAD ,pane")
	if err != nil || len(ms) != 3 || ms[1] != Grad {
		t.Fatalf("ParseMethods: %v, %v", ms, err)
	}
	if _, err := ParseMethods("iom,bogus"); err == nil {
		t.Fatal("an unknown method was accepted")
	}
	if _, err := ParseMethods(" , "); err == nil {
		t.Fatal("an empty list was accepted")
	}
}
