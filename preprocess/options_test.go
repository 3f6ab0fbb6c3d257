package preprocess

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func readGolden(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func presetOptions(t *testing.T, name string, chw [3]int) Options {
	t.Helper()
	o, _, err := Resolve(chw, &Spec{Preset: name})
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestNormalizeHandWorked: x = (p·scale − mean)/std for p = 0, 51, 255.
func TestNormalizeHandWorked(t *testing.T) {
	for _, c := range []struct {
		preset string
		ch     int
		want   [][3]float64 // per channel, p = 0, 51, 255
	}{
		// imagenet R: −0.485/0.229 = −2.117904, (0.2 − 0.485)/0.229 = −1.244541, 0.515/0.229 = 2.248908
		{"imagenet", 3, [][3]float64{
			{-2.117904, -1.244541, 2.248908},
			{-2.035714, -1.142857, 2.428571},
			{-1.804444, -0.915556, 2.640000},
		}},
		{"tf", 3, [][3]float64{{-1, -0.6015625, 0.9921875}, {-1, -0.6015625, 0.9921875}, {-1, -0.6015625, 0.9921875}}},
		{"unit", 1, [][3]float64{{0, 0.2, 1}}},
		{"raw", 1, [][3]float64{{0, 51, 255}}},
		// mnist: −0.1307/0.3081 = −0.424213, (0.2−0.1307)/0.3081 = 0.224927, 0.8693/0.3081 = 2.821487
		{"mnist", 1, [][3]float64{{-0.424213, 0.224927, 2.821487}}},
		// fashion-mnist: −0.286/0.353 = −0.810198, −0.243626, 2.022663
		{"fashion-mnist", 1, [][3]float64{{-0.810198, -0.243626, 2.022663}}},
	} {
		o := presetOptions(t, c.preset, [3]int{c.ch, 2, 2})
		pixels := make([]float32, 0, c.ch*3)
		for ch := 0; ch < c.ch; ch++ {
			pixels = append(pixels, 0, 51.0/255, 1)
		}
		// Treat each channel's three values as a 1×3 image.
		x, err := o.Normalize(pixels, c.ch, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		for ch := 0; ch < c.ch; ch++ {
			for k := 0; k < 3; k++ {
				if got, want := float64(x[ch*3+k]), c.want[ch][k]; math.Abs(got-want) > 2e-6*(1+math.Abs(want)) {
					t.Errorf("%s channel %d value %d: %g, want %g", c.preset, ch, k, got, want)
				}
			}
		}
		back, err := o.Denormalize(x, c.ch, 1, 3)
		if err != nil {
			t.Fatal(err)
		}
		for i := range back {
			if math.Abs(float64(back[i]-pixels[i])) > 1e-6 {
				t.Errorf("%s: Denormalize(Normalize(%g)) = %g", c.preset, pixels[i], back[i])
			}
		}
	}
}

func TestNormalizeBatchAndErrors(t *testing.T) {
	o := presetOptions(t, "tf", [3]int{3, 1, 1})
	// Two 3×1×1 images back to back: channel of element i is i mod 3.
	x, err := o.Normalize([]float32{1, 0.5, 0, 1, 0.5, 0}, 3, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0.9921875, -0.00390625, -1, 0.9921875, -0.00390625, -1}
	for i := range want {
		if x[i] != want[i] {
			t.Errorf("[%d] = %g, want %g", i, x[i], want[i])
		}
	}
	if _, err := o.Normalize(make([]float32, 5), 3, 1, 1); err == nil {
		t.Error("5 values accepted as 3x1x1 images")
	}
	if _, err := o.Normalize(make([]float32, 1), 1, 1, 1); err == nil {
		t.Error("1 channel accepted for 3-channel options")
	}
}

func TestValidate(t *testing.T) {
	good := Options{Size: [2]int{2, 2}, Scale: 1, Std: ones, Channels: 3}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	nan := float32(math.NaN())
	for name, mod := range map[string]func(*Options){
		"size":     func(o *Options) { o.Size = [2]int{0, 2} },
		"huge":     func(o *Options) { o.Size = [2]int{MaxSide + 1, 2} },
		"channels": func(o *Options) { o.Channels = 2 },
		"std zero": func(o *Options) { o.Std[1] = 0 },
		"std nan":  func(o *Options) { o.Std[2] = nan },
		"mean nan": func(o *Options) { o.Mean[0] = nan },
		"scale":    func(o *Options) { o.Scale = 0 },
		"crop":     func(o *Options) { o.Resize, o.CropFraction = ShorterCrop, 1.5 },
		"mode":     func(o *Options) { o.Resize = 7 },
	} {
		o := good
		mod(&o)
		if err := o.Validate(); err == nil {
			t.Errorf("%s: no error", name)
		}
		if _, err := FromImage(nil, o); err == nil {
			t.Errorf("%s: FromImage accepted invalid options", name)
		}
	}
}

func TestResolve(t *testing.T) {
	f := func(v float32) *float32 { return &v }
	// Flags override the sidecar field by field; the sidecar's preset fills the rest.
	flags := &Spec{Mean: []float32{0.5}, Origin: "flags"}
	sidecar := &Spec{Preset: "imagenet", Origin: "sidecar"}
	meta := &Spec{Preset: "tf", Scale: f(3), Origin: "metadata"}
	o, warn, err := Resolve([3]int{3, 224, 224}, flags, nil, sidecar, meta)
	if err != nil || len(warn) != 0 {
		t.Fatal(err, warn)
	}
	want := Options{Size: [2]int{224, 224}, Resize: ShorterCrop, CropFraction: 0.875, Mean: same(0.5), Std: imagenetStd, Scale: 1.0 / 255, Channels: 3}
	if o != want {
		t.Errorf("got %+v\nwant %+v", o, want)
	}
	// Nothing given: unit, with a warning.
	o, warn, err = Resolve([3]int{1, 28, 28})
	if err != nil || len(warn) != 1 || o.Scale != 1.0/255 || o.Mean != [3]float32{} || o.Std != ones || o.Channels != 1 {
		t.Errorf("default: %+v %v %v", o, warn, err)
	}
	// Dynamic model shape: explicit size, else the preset's.
	if o, _, err = Resolve([3]int{-1, -1, -1}, &Spec{Preset: "mnist"}); err != nil || o.Size != [2]int{28, 28} || o.Channels != 1 {
		t.Errorf("preset defaults: %+v %v", o, err)
	}
	if o, _, err = Resolve([3]int{3, 0, 0}, &Spec{Size: []int{96}}, &Spec{Preset: "imagenet"}); err != nil || o.Size != [2]int{96, 96} {
		t.Errorf("explicit size: %+v %v", o, err)
	}
	for name, c := range map[string]struct {
		chw   [3]int
		spec  *Spec
		error string
	}{
		"size conflict":    {[3]int{3, 224, 224}, &Spec{Size: []int{256, 256}, Origin: "flags"}, "flags: input height 256, but the model's input height is fixed at 224"},
		"channel conflict": {[3]int{1, 28, 28}, &Spec{Channels: 3, Origin: "sidecar x"}, "sidecar x: 3 channels, but the model's input has 1"},
		"4 channels":       {[3]int{4, 28, 28}, &Spec{}, "only 1 (grey) and 3 (RGB)"},
		"no size":          {[3]int{3, -1, -1}, &Spec{Preset: "unit"}, "input height is dynamic"},
		"bad preset":       {[3]int{3, 2, 2}, &Spec{Preset: "imagenette"}, `unknown preset "imagenette"`},
		"bad mean":         {[3]int{3, 2, 2}, &Spec{Mean: []float32{1, 2}}, "mean has 2 values"},
		"zero std":         {[3]int{3, 2, 2}, &Spec{Std: []float32{0}}, "std[0] = 0"},
		"bad resize":       {[3]int{3, 2, 2}, &Spec{Resize: "crop"}, `unknown resize mode "crop"`},
	} {
		_, _, err := Resolve(c.chw, c.spec)
		if err == nil || !strings.Contains(err.Error(), c.error) {
			t.Errorf("%s: got %v, want %q", name, err, c.error)
		}
	}
}

func TestSidecarAndMetadata(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "net.onnx")
	if s, err := LoadSidecar(model); s != nil || err != nil {
		t.Fatalf("no sidecar: %v %v", s, err)
	}
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("preprocess.json", `{"preset": "mnist"}`)
	s, err := LoadSidecar(model)
	if err != nil || s.Preset != "mnist" || !strings.Contains(s.Origin, "preprocess.json") {
		t.Fatalf("folder sidecar: %+v %v", s, err)
	}
	// The model's own file wins over the folder's.
	write("net.preprocess.json", `{"preset": "imagenet", "crop_fraction": 0.9, "size": [299, 299]}`)
	s, err = LoadSidecar(model)
	if err != nil || s.Preset != "imagenet" || *s.CropFraction != 0.9 {
		t.Fatalf("model sidecar: %+v %v", s, err)
	}
	write("net.preprocess.json", `{"preset": "imagenet", "mena": [0.5]}`)
	if _, err := LoadSidecar(model); err == nil || !strings.Contains(err.Error(), "net.preprocess.json") || !strings.Contains(err.Error(), "mena") {
		t.Errorf("typo in sidecar: %v", err)
	}
	write("net.preprocess.json", `{"preset": "imagenet"} {}`)
	if _, err := LoadSidecar(model); err == nil {
		t.Error("trailing data accepted")
	}

	s, err = FromMetadata(map[string]string{"other": "x"})
	if s != nil || err != nil {
		t.Errorf("no key: %v %v", s, err)
	}
	s, err = FromMetadata(map[string]string{MetadataKey: `{"scale": 1, "mean": [127.5], "std": [127.5]}`})
	if err != nil {
		t.Fatal(err)
	}
	o, warn, err := Resolve([3]int{3, 8, 8}, s)
	if err != nil || len(warn) != 0 || o.Scale != 1 || o.Mean != same(127.5) || o.Resize != Stretch {
		t.Errorf("metadata: %+v %v %v", o, warn, err)
	}
	if _, err := FromMetadata(map[string]string{MetadataKey: `{"size": [1, 2, 3]}`}); err == nil || !strings.Contains(err.Error(), MetadataKey) {
		t.Errorf("bad metadata: %v", err)
	}
}

func TestPresets(t *testing.T) {
	names := PresetNames()
	want := []string{"cifar-raw", "fashion-mnist", "imagenet", "mnist", "raw", "tf", "unit"}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("presets %v", names)
	}
	for _, n := range names {
		if d, err := PresetDescription(n); err != nil || d == "" {
			t.Errorf("%s: %q %v", n, d, err)
		}
	}
}
