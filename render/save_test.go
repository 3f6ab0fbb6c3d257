package render

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// npyParts splits a .npy file (format 1.0) into its header dictionary, with
// the padding removed, its data, and the header's total length.
func npyParts(t *testing.T, b []byte) (dict string, data []byte, headerLen int) {
	t.Helper()
	if len(b) < 10 || string(b[:8]) != "\x93NUMPY\x01\x00" {
		t.Fatalf("not a version 1.0 .npy file: % x", b[:min(len(b), 10)])
	}
	n := int(binary.LittleEndian.Uint16(b[8:10]))
	h := string(b[10 : 10+n])
	if !strings.HasSuffix(h, "\n") {
		t.Fatalf("header does not end in a newline: %q", h)
	}
	return strings.TrimRight(h, " \n"), b[10+n:], 10 + n
}

// TestSaveNPYMatchesNumpy compares with numpy.save output for the same
// arrays (testdata/make_golden.py): same dictionary, same data bytes, and a
// header that keeps the data 64-byte aligned as the format asks.
func TestSaveNPYMatchesNumpy(t *testing.T) {
	dir := t.TempDir()
	for name, shape := range map[string][]int{
		"2x3x4": {2, 3, 4}, "5": {5}, "1x1x2x2": {1, 1, 2, 2}, "scalar": {}, "0": {0},
	} {
		n := 1
		for _, d := range shape {
			n *= d
		}
		data := make([]float32, n)
		for i := range data {
			data[i] = float32(i)*0.25 - 1
		}
		path := filepath.Join(dir, name+".npy")
		if err := SaveNPY(path, data, shape); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("testdata", "npy", name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		gd, gdata, glen := npyParts(t, got)
		wd, wdata, _ := npyParts(t, want)
		if gd != wd {
			t.Errorf("%s: header %q, numpy writes %q", name, gd, wd)
		}
		if !bytes.Equal(gdata, wdata) {
			t.Errorf("%s: data % x, numpy writes % x", name, gdata, wdata)
		}
		if glen%64 != 0 {
			t.Errorf("%s: data starts at byte %d, not 64-aligned", name, glen)
		}
	}
}

func TestSaveNPYErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		data  []float32
		shape []int
	}{
		{make([]float32, 6), []int{2, 2}},
		{make([]float32, 1), []int{-1}},
		{nil, []int{1 << 20, 1 << 20}},
		{nil, nil},
	} {
		if err := SaveNPY(filepath.Join(dir, "x.npy"), c.data, c.shape); err == nil {
			t.Errorf("shape %v with %d values: no error", c.shape, len(c.data))
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("files left behind: %v", entries)
	}
}
