package preprocess

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// ResizeMode says how an image is brought to the model's input size.
type ResizeMode int

const (
	// Stretch resizes the whole image to exactly Size, ignoring its aspect
	// ratio (TF-slim and most MNIST/CIFAR pipelines).
	Stretch ResizeMode = iota
	// ShorterCrop resizes the image, keeping its aspect ratio, so that its
	// shorter side is floor(min(Size)/CropFraction) pixels, then cuts the
	// centre Size region (torchvision's Resize(s) followed by CenterCrop).
	ShorterCrop
)

// String returns the name used in JSON and on the command line.
func (m ResizeMode) String() string {
	switch m {
	case Stretch:
		return "stretch"
	case ShorterCrop:
		return "shorter-crop"
	}
	return fmt.Sprintf("ResizeMode(%d)", int(m))
}

// ParseResizeMode reads "stretch" or "shorter-crop".
func ParseResizeMode(s string) (ResizeMode, error) {
	switch s {
	case "stretch":
		return Stretch, nil
	case "shorter-crop":
		return ShorterCrop, nil
	}
	return 0, fmt.Errorf("unknown resize mode %q (want stretch or shorter-crop)", s)
}

// MaxSide bounds every side of a model input that Options accepts.
const MaxSide = 16384

// Options fully describes how an image becomes a model input tensor.
//
// A pixel value p in [0,255] of channel c becomes
//
//	x_c = (p·Scale − Mean_c) / Std_c
//
// For a one-channel model only Mean[0] and Std[0] are used.
type Options struct {
	Size         [2]int     // model input height and width
	Resize       ResizeMode // how the image is brought to Size
	CropFraction float32    // ShorterCrop only: crop side / resized shorter side, in (0,1]
	Mean, Std    [3]float32 // per channel, applied after Scale
	Scale        float32    // multiplies the [0,255] pixel value first
	Channels     int        // 1 (grey) or 3 (RGB)
}

// Validate reports the first field that cannot be used.
func (o Options) Validate() error {
	if o.Size[0] < 1 || o.Size[1] < 1 || o.Size[0] > MaxSide || o.Size[1] > MaxSide {
		return fmt.Errorf("preprocess: input size %dx%d outside 1..%d", o.Size[0], o.Size[1], MaxSide)
	}
	switch o.Resize {
	case Stretch:
	case ShorterCrop:
		f := float64(o.CropFraction)
		if !(f > 0 && f <= 1) {
			return fmt.Errorf("preprocess: crop fraction %g outside (0,1]", f)
		}
	default:
		return fmt.Errorf("preprocess: unknown resize mode %d", int(o.Resize))
	}
	if o.Channels != 1 && o.Channels != 3 {
		return fmt.Errorf("preprocess: %d channels (want 1 or 3)", o.Channels)
	}
	if !finite(o.Scale) || o.Scale == 0 {
		return fmt.Errorf("preprocess: scale %g must be finite and non-zero", o.Scale)
	}
	for c := 0; c < o.Channels; c++ {
		if !finite(o.Mean[c]) {
			return fmt.Errorf("preprocess: mean[%d] = %g is not finite", c, o.Mean[c])
		}
		if !finite(o.Std[c]) || o.Std[c] == 0 {
			return fmt.Errorf("preprocess: std[%d] = %g must be finite and non-zero", c, o.Std[c])
		}
	}
	return nil
}

func finite(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Normalize maps pixel-space values in [0,1] (value = p/255) to model
// space: x = (v·255·Scale − Mean_c)/Std_c. pixels holds one or more C×H×W
// images back to back; c must equal o.Channels. The result is a new slice.
func (o Options) Normalize(pixels []float32, c, h, w int) ([]float32, error) {
	return o.affine(pixels, c, h, w, false)
}

// Denormalize is the inverse of Normalize: model space back to pixel space
// [0,1] (values outside that range stay outside).
func (o Options) Denormalize(x []float32, c, h, w int) ([]float32, error) {
	return o.affine(x, c, h, w, true)
}

func (o Options) affine(in []float32, c, h, w int, inverse bool) ([]float32, error) {
	if c != o.Channels {
		return nil, fmt.Errorf("preprocess: %d channels given, options are for %d", c, o.Channels)
	}
	if h < 1 || w < 1 || h > MaxSide || w > MaxSide {
		return nil, fmt.Errorf("preprocess: image size %dx%d outside 1..%d", h, w, MaxSide)
	}
	plane := h * w
	if len(in)%(c*plane) != 0 {
		return nil, fmt.Errorf("preprocess: %d values is not a whole number of %dx%dx%d images", len(in), c, h, w)
	}
	out := make([]float32, len(in))
	for start := 0; start < len(in); start += plane {
		ch := (start / plane) % c
		// x = v·a + b with a = 255·Scale/Std, b = −Mean/Std.
		a := 255 * float64(o.Scale) / float64(o.Std[ch])
		b := -float64(o.Mean[ch]) / float64(o.Std[ch])
		src, dst := in[start:start+plane], out[start:start+plane]
		if inverse {
			for i, v := range src {
				dst[i] = float32((float64(v) - b) / a)
			}
		} else {
			for i, v := range src {
				dst[i] = float32(float64(v)*a + b)
			}
		}
	}
	return out, nil
}

// preset is a named normalisation with optional default size and channels,
// used only where the model's input shape leaves them open.
type preset struct {
	opt         Options // Size and Channels unset
	size        [2]int
	channels    int
	description string
}

var (
	imagenetMean = [3]float32{0.485, 0.456, 0.406}
	imagenetStd  = [3]float32{0.229, 0.224, 0.225}
	ones         = [3]float32{1, 1, 1}
)

func same(v float32) [3]float32 { return [3]float32{v, v, v} }

var presets = map[string]preset{
	"imagenet": {
		opt:         Options{Resize: ShorterCrop, CropFraction: 0.875, Scale: 1.0 / 255, Mean: imagenetMean, Std: imagenetStd},
		size:        [2]int{224, 224},
		channels:    3,
		description: "torchvision ImageNet: shorter side to size/0.875 (256 for 224), centre crop, (p/255 − mean)/std",
	},
	"unit": {
		opt:         Options{Resize: Stretch, Scale: 1.0 / 255, Std: ones},
		description: "p/255 in [0,1], stretch",
	},
	"raw": {
		opt:         Options{Resize: Stretch, Scale: 1, Std: ones},
		description: "p in [0,255], stretch",
	},
	"tf": {
		opt:         Options{Resize: Stretch, Scale: 1, Mean: same(128), Std: same(128)},
		size:        [2]int{224, 224},
		channels:    3,
		description: "(p − 128)/128 in [−1,1), stretch (TF-slim, e.g. MobileNetV2 quant)",
	},
	"mnist": {
		opt:         Options{Resize: Stretch, Scale: 1.0 / 255, Mean: same(0.1307), Std: same(0.3081)},
		size:        [2]int{28, 28},
		channels:    1,
		description: "(p/255 − 0.1307)/0.3081, grey 28x28, stretch",
	},
	"fashion-mnist": {
		opt:         Options{Resize: Stretch, Scale: 1.0 / 255, Mean: same(0.2860), Std: same(0.3530)},
		size:        [2]int{28, 28},
		channels:    1,
		description: "(p/255 − 0.2860)/0.3530, grey 28x28, stretch",
	},
	"cifar-raw": {
		opt:         Options{Resize: Stretch, Scale: 1, Std: ones},
		size:        [2]int{32, 32},
		channels:    3,
		description: "p in [0,255], RGB 32x32, stretch (MLPerf Tiny ResNet-8)",
	},
}

// PresetNames lists the preset names in sorted order.
func PresetNames() []string {
	names := make([]string, 0, len(presets))
	for n := range presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// PresetDescription returns a one-line description of a preset, or an
// error naming the known presets.
func PresetDescription(name string) (string, error) {
	p, err := lookupPreset(name)
	if err != nil {
		return "", err
	}
	return p.description, nil
}

func lookupPreset(name string) (preset, error) {
	p, ok := presets[name]
	if !ok {
		return preset{}, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	return p, nil
}
