package preprocess

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// idxBytes builds an IDX file by hand: 00 00 08 ndim, big-endian uint32
// dims, then the data.
func idxBytes(dims []uint32, data []byte) []byte {
	b := []byte{0, 0, 8, byte(len(dims))}
	for _, d := range dims {
		b = append(b, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
	}
	return append(b, data...)
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestIDXImagesAndLabels(t *testing.T) {
	// Two 2×3 images: 0..5 and 10..15.
	raw := idxBytes([]uint32{2, 2, 3}, []byte{0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15})
	dir := t.TempDir()
	for name, data := range map[string][]byte{"plain": raw, "gzip": gz(t, raw)} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := ReadIDX(path)
		if err != nil {
			t.Fatal(err)
		}
		if !equalInts(x.Dims, []int{2, 2, 3}) {
			t.Fatalf("%s: dims %v", name, x.Dims)
		}
		img, err := x.Image(1)
		if err != nil {
			t.Fatal(err)
		}
		if img.Bounds().Dx() != 3 || img.Bounds().Dy() != 2 || img.GrayAt(2, 1).Y != 15 || img.GrayAt(0, 0).Y != 10 {
			t.Errorf("%s: image 1 = %v", name, img)
		}
		if _, err := x.Image(2); err == nil {
			t.Errorf("%s: image 2 of 2 accepted", name)
		}
	}
	labels, err := ParseIDX(bytes.NewReader(idxBytes([]uint32{3}, []byte{7, 2, 1})))
	if err != nil {
		t.Fatal(err)
	}
	if !equalInts(labels.Dims, []int{3}) || !bytes.Equal(labels.Data, []byte{7, 2, 1}) {
		t.Errorf("labels %+v", labels)
	}
	if _, err := labels.Image(0); err == nil {
		t.Error("labels accepted as images")
	}
	if _, err := ReadIDX(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing file: %v", err)
	}
}

func TestIDXBadInput(t *testing.T) {
	start := time.Now()
	for name, c := range map[string]struct {
		data []byte
		msg  string
	}{
		"empty":            {nil, "header"},
		"bad magic":        {[]byte{1, 0, 8, 1, 0, 0, 0, 0}, "bad magic"},
		"float type":       {[]byte{0, 0, 0x0d, 1, 0, 0, 0, 0}, "element type 0x0d not supported"},
		"no dims":          {[]byte{0, 0, 8, 0}, "0 dimensions"},
		"dims cut":         {[]byte{0, 0, 8, 2, 0, 0, 0, 1, 0, 0}, "dimension 1"},
		"10^12 elements":   {idxBytes([]uint32{1000000, 1000000}, nil), "claim more than"},
		"2^64 elements":    {idxBytes([]uint32{0xffffffff, 0xffffffff, 0xffffffff}, nil), "claim more than"},
		"truncated":        {idxBytes([]uint32{2, 2}, []byte{1, 2, 3}), "truncated: dimensions [2 2] need 4 elements, found 3"},
		"trailing":         {idxBytes([]uint32{2}, []byte{1, 2, 3}), "trailing data"},
		"big claim, small": {idxBytes([]uint32{10000, 28, 28}, []byte{1}), "truncated"},
		"bad gzip":         {[]byte{0x1f, 0x8b, 0, 0}, "gzip"},
	} {
		_, err := ParseIDX(bytes.NewReader(c.data))
		if err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.msg)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("bad inputs took %v", d)
	}
}
