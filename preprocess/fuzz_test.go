package preprocess

import (
	"bytes"
	"testing"
)

// FuzzDecode feeds arbitrary bytes through decoding, conversion and
// resizing: errors are fine, panics and runaway memory are not. The pixel
// limit is lowered so that a header claiming a large image is refused
// before the decoder allocates it.
func FuzzDecode(f *testing.F) {
	opts := []Options{
		{Size: [2]int{7, 5}, Resize: Stretch, Scale: 1, Std: ones, Channels: 3},
		{Size: [2]int{3, 4}, Resize: ShorterCrop, CropFraction: 0.875, Scale: 1, Std: ones, Channels: 1},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := decodeBytes(data, 1<<16)
		if err != nil {
			return
		}
		for _, o := range opts {
			out := fromImage(img, o)
			if len(out.Tensor) != o.Channels*o.Size[0]*o.Size[1] {
				t.Fatalf("%d values for %v", len(out.Tensor), o.Size)
			}
		}
	})
}

// FuzzIDX feeds arbitrary bytes to the IDX reader.
func FuzzIDX(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseIDX(bytes.NewReader(data))
		if err != nil {
			return
		}
		n := 1
		for _, d := range x.Dims {
			n *= d
		}
		if n != len(x.Data) {
			t.Fatalf("dims %v but %d elements", x.Dims, len(x.Data))
		}
		if len(x.Dims) == 3 && x.Dims[0] > 0 {
			if _, err := x.Image(x.Dims[0] - 1); err != nil {
				t.Fatal(err)
			}
		}
	})
}
