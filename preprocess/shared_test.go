package preprocess

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sharedDir is the shared test material beside the repository.
const sharedDir = "../../shared"

func needShared(t *testing.T, sub string) string {
	t.Helper()
	p := filepath.Join(sharedDir, sub)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared test material %s not present (%v); skipping", p, err)
	}
	return p
}

// readTensorProto reads the float32 data of a serialised onnx.TensorProto
// (dims = field 1, float_data = field 4, raw_data = field 9).
func readTensorProto(t *testing.T, path string) (dims []int, data []float32) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	uvarint := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			t.Fatalf("%s: bad varint", path)
		}
		b = b[n:]
		return v
	}
	floats := func(p []byte) {
		for i := 0; i+4 <= len(p); i += 4 {
			data = append(data, math.Float32frombits(binary.LittleEndian.Uint32(p[i:])))
		}
	}
	for len(b) > 0 {
		key := uvarint()
		field, wire := key>>3, key&7
		switch wire {
		case 0:
			v := uvarint()
			if field == 1 {
				dims = append(dims, int(v))
			}
		case 2:
			n := uvarint()
			p := b[:n]
			b = b[n:]
			switch field {
			case 1: // packed dims
				for len(p) > 0 {
					v, k := binary.Uvarint(p)
					dims, p = append(dims, int(v)), p[k:]
				}
			case 4, 9:
				floats(p)
			}
		case 5:
			if field == 4 {
				floats(b[:4])
			}
			b = b[4:]
		case 1:
			b = b[8:]
		default:
			t.Fatalf("%s: unexpected wire type %d", path, wire)
		}
	}
	return dims, data
}

func TestDecodeSharedImages(t *testing.T) {
	dir := needShared(t, "images")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	opt, _, err := Resolve([3]int{3, 224, 224}, &Spec{Preset: "imagenet"})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if ext != ".png" && ext != ".jpg" && ext != ".jpeg" {
			continue
		}
		n++
		img, err := Load(filepath.Join(dir, e.Name()), opt)
		if err != nil {
			t.Errorf("%s: %v", e.Name(), err)
			continue
		}
		if img.C != 3 || img.H != 224 || img.W != 224 || len(img.Tensor) != 3*224*224 {
			t.Errorf("%s: got %dx%dx%d, %d values", e.Name(), img.C, img.H, img.W, len(img.Tensor))
		}
		lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
		for _, v := range img.Pixels {
			lo, hi = min(lo, v), max(hi, v)
		}
		if lo < 0 || hi > 1 || hi-lo < 0.2 {
			t.Errorf("%s: pixel range [%g, %g]", e.Name(), lo, hi)
		}
	}
	if n < 20 {
		t.Errorf("only %d images found in %s", n, dir)
	}
}

// compareReference preprocesses an image and compares it with a model's
// test_data_set input, which was made with PIL's bilinear resize. For
// lossless sources the resized bytes must be identical.
func compareReference(t *testing.T, image, model string, set int, preset string, exact bool) {
	t.Helper()
	imgPath := filepath.Join(needShared(t, "images"), image)
	ref := filepath.Join(needShared(t, "models"), model, "test_data_set_"+string(rune('0'+set)), "input_0.pb")
	dims, want := readTensorProto(t, ref)
	opt, _, err := Resolve([3]int{dims[1], dims[2], dims[3]}, &Spec{Preset: preset})
	if err != nil {
		t.Fatal(err)
	}
	img, err := Load(imgPath, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Tensor) != len(want) {
		t.Fatalf("%d values, reference has %d", len(img.Tensor), len(want))
	}
	if image == "coral_cat.png" && (img.SourceW != 512 || img.SourceH != 341) {
		t.Errorf("source size %dx%d, want 512x341 (images/index.tsv)", img.SourceW, img.SourceH)
	}
	// Back to reference pixel bytes: p = (x·std + mean)/scale.
	refPix, err := opt.Denormalize(want, img.C, img.H, img.W)
	if err != nil {
		t.Fatal(err)
	}
	var maxPix, sumPix, maxX float64
	for i := range want {
		d := math.Abs(float64(img.Pixels[i]-refPix[i])) * 255
		maxPix = math.Max(maxPix, d)
		sumPix += d
		maxX = math.Max(maxX, math.Abs(float64(img.Tensor[i]-want[i])))
	}
	mean := sumPix / float64(len(want))
	t.Logf("%s vs %s: max |Δpixel| %.3g, mean %.3g (of 255), max |Δx| %.3g", image, ref, maxPix, mean, maxX)
	if exact {
		if maxPix > 1e-3 || maxX > 2e-6*math.Max(1, maxAbs(want)) {
			t.Errorf("not the reference input: max |Δpixel| %g, max |Δx| %g", maxPix, maxX)
		}
	} else if mean > 1.5 || maxPix > 40 {
		// Go's JPEG decoder replicates chroma where libjpeg interpolates it.
		t.Errorf("too far from the reference input: mean |Δpixel| %g, max %g", mean, maxPix)
	}
}

func maxAbs(v []float32) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

func TestReferenceInputs(t *testing.T) {
	// MobileNetV2 test_data_set_0 is cat.bmp (= coral_cat.png) resized to
	// 224x224, x = (p−128)/128; its expected output's top-1 is 286 Egyptian cat.
	t.Run("mobilenet_cat", func(t *testing.T) {
		compareReference(t, "coral_cat.png", "mobilenet_v2_1.0_224_quant", 0, "tf", true)
	})
	t.Run("mobilenet_grace_hopper", func(t *testing.T) {
		compareReference(t, "coral_grace_hopper.png", "mobilenet_v2_1.0_224_quant", 1, "tf", true)
	})
	t.Run("cifar_cat", func(t *testing.T) {
		compareReference(t, "coral_cat.png", "cifar10_resnet8_mlperf_tiny", 0, "cifar-raw", true)
	})
	t.Run("cifar_bird", func(t *testing.T) {
		compareReference(t, "coral_bird.png", "cifar10_resnet8_mlperf_tiny", 1, "cifar-raw", true)
	})
	t.Run("cifar_horses_jpeg", func(t *testing.T) {
		compareReference(t, "darknet_horses.jpg", "cifar10_resnet8_mlperf_tiny", 2, "cifar-raw", false)
	})
}

func TestMNISTReference(t *testing.T) {
	// The two *_cnn_small references were made with the unrounded data set
	// statistics (MNIST mean 0.13066, std 0.30811; Fashion-MNIST 0.28604,
	// 0.35302), the presets use the rounded values the models' README gives:
	// inputs then differ by up to 1.6e-4·(1+|x|).
	for _, c := range []struct {
		data, model, preset string
		tol                 float64
	}{
		{"mnist_t10k", "mnist_cnn_small", "mnist", 2e-4},
		{"mnist_t10k", "mnist_lenet5_ccoltong1215", "mnist", 2e-6},
		{"fashion_mnist_t10k", "fashion_mnist_cnn_small", "fashion-mnist", 2e-4},
	} {
		t.Run(c.model, func(t *testing.T) {
			dir := needShared(t, filepath.Join("datasets", c.data))
			models := needShared(t, "models")
			images, err := ReadIDX(filepath.Join(dir, "t10k-images-idx3-ubyte.gz"))
			if err != nil {
				t.Fatal(err)
			}
			labels, err := ReadIDX(filepath.Join(dir, "t10k-labels-idx1-ubyte.gz"))
			if err != nil {
				t.Fatal(err)
			}
			if want := []int{10000, 28, 28}; !equalInts(images.Dims, want) || !equalInts(labels.Dims, want[:1]) {
				t.Fatalf("dims %v and %v", images.Dims, labels.Dims)
			}
			for i := 0; i < 3; i++ {
				dims, want := readTensorProto(t, filepath.Join(models, c.model, "test_data_set_"+string(rune('0'+i)), "input_0.pb"))
				opt, _, err := Resolve([3]int{dims[1], dims[2], dims[3]}, &Spec{Preset: c.preset})
				if err != nil {
					t.Fatal(err)
				}
				g, err := images.Image(i)
				if err != nil {
					t.Fatal(err)
				}
				img, err := FromImage(g, opt)
				if err != nil {
					t.Fatal(err)
				}
				for k := range want {
					if d := math.Abs(float64(img.Tensor[k] - want[k])); d > c.tol*(1+math.Abs(float64(want[k]))) {
						t.Fatalf("image %d element %d: %g, reference %g", i, k, img.Tensor[k], want[k])
					}
				}
			}
			// Source files name the labels of images 0..2.
			if c.data == "mnist_t10k" && (labels.Data[0] != 7 || labels.Data[1] != 2 || labels.Data[2] != 1) {
				t.Errorf("labels %v, want 7 2 1", labels.Data[:3])
			}
			if c.data == "fashion_mnist_t10k" && (labels.Data[0] != 9 || labels.Data[1] != 2 || labels.Data[2] != 1) {
				t.Errorf("labels %v, want 9 2 1", labels.Data[:3])
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestLoadErrorsNameTheFile(t *testing.T) {
	_, err := Load("/nonexistent/x.png", Options{Size: [2]int{4, 4}, Scale: 1, Std: ones, Channels: 3})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/x.png") || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v", err)
	}
}
