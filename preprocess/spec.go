package preprocess

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Spec is a partial preprocessing description, as written in a sidecar file,
// in model metadata or on the command line. Unset fields (zero values, nil
// pointers, empty slices) leave the decision to a lower-priority source.
//
// JSON schema (all keys optional; unknown keys are an error):
//
//	{
//	  "preset":        "imagenet",          // one of PresetNames()
//	  "size":          [224, 224],          // [H, W], or [S] for S×S
//	  "resize":        "shorter-crop",      // or "stretch"
//	  "crop_fraction": 0.875,               // shorter-crop only
//	  "scale":         0.00392156862745098, // multiplies p in [0,255]
//	  "mean":          [0.485, 0.456, 0.406], // 1 value (all channels) or 3
//	  "std":           [0.229, 0.224, 0.225], // 1 value (all channels) or 3
//	  "channels":      3                    // 1 or 3
//	}
//
// A preset supplies resize, crop_fraction, scale, mean and std; explicit
// keys in the same Spec override it.
type Spec struct {
	Preset       string    `json:"preset,omitempty"`
	Size         []int     `json:"size,omitempty"`
	Resize       string    `json:"resize,omitempty"`
	CropFraction *float32  `json:"crop_fraction,omitempty"`
	Scale        *float32  `json:"scale,omitempty"`
	Mean         []float32 `json:"mean,omitempty"`
	Std          []float32 `json:"std,omitempty"`
	Channels     int       `json:"channels,omitempty"`

	// Origin names where the Spec came from ("sidecar /m/model.preprocess.json",
	// "--mean flag"); it prefixes error and warning messages.
	Origin string `json:"-"`
}

// MetadataKey is the ONNX metadata_props key whose value is a Spec in JSON.
const MetadataKey = "paneonnx.preprocess"

// maxSpecBytes bounds a sidecar file or metadata value.
const maxSpecBytes = 1 << 20

// ParseSpec decodes and checks a JSON Spec.
func ParseSpec(data []byte) (*Spec, error) {
	if len(data) > maxSpecBytes {
		return nil, fmt.Errorf("preprocess spec is %d bytes (limit %d)", len(data), maxSpecBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Spec
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("preprocess spec: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("preprocess spec: trailing data after the JSON object")
	}
	if _, err := s.expand(); err != nil {
		return nil, err
	}
	return &s, nil
}

// LoadSidecar reads the preprocessing file kept next to a model: first
// <stem>.preprocess.json (model.onnx → model.preprocess.json), then
// preprocess.json in the model's folder. It returns nil, nil when neither
// exists, and an error naming the file when one exists but is not valid.
func LoadSidecar(modelPath string) (*Spec, error) {
	stem := strings.TrimSuffix(modelPath, filepath.Ext(modelPath))
	for _, p := range []string{stem + ".preprocess.json", filepath.Join(filepath.Dir(modelPath), "preprocess.json")} {
		data, err := readLimited(p, maxSpecBytes)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		s, err := ParseSpec(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		s.Origin = "sidecar " + p
		return s, nil
	}
	return nil, nil
}

// FromMetadata reads the Spec stored under MetadataKey in a model's
// metadata_props. It returns nil, nil when the key is absent.
func FromMetadata(props map[string]string) (*Spec, error) {
	v, ok := props[MetadataKey]
	if !ok {
		return nil, nil
	}
	s, err := ParseSpec([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("model metadata %q: %w", MetadataKey, err)
	}
	s.Origin = "model metadata " + MetadataKey
	return s, nil
}

func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, limit)
	}
	return data, nil
}

// partial is a Spec with its preset expanded; nil means unset.
type partial struct {
	size                *[2]int
	channels            *int
	resize              *ResizeMode
	cropFraction, scale *float32
	mean, std           *[3]float32
	presetSize          *[2]int // defaults used only where the model leaves them open
	presetChannels      *int
}

func (s *Spec) expand() (partial, error) {
	var p partial
	fail := func(format string, args ...any) (partial, error) {
		return partial{}, fmt.Errorf("%s: %s", origin(s.Origin), fmt.Sprintf(format, args...))
	}
	if s.Preset != "" {
		pr, err := lookupPreset(s.Preset)
		if err != nil {
			return fail("%v", err)
		}
		o := pr.opt
		p.resize, p.scale, p.mean, p.std = &o.Resize, &o.Scale, &o.Mean, &o.Std
		if o.Resize == ShorterCrop {
			p.cropFraction = &o.CropFraction
		}
		if pr.size != [2]int{} {
			p.presetSize = &pr.size
		}
		if pr.channels != 0 {
			p.presetChannels = &pr.channels
		}
	}
	switch len(s.Size) {
	case 0:
	case 1, 2:
		sz := [2]int{s.Size[0], s.Size[len(s.Size)-1]}
		if sz[0] < 1 || sz[1] < 1 || sz[0] > MaxSide || sz[1] > MaxSide {
			return fail("size %v outside 1..%d", s.Size, MaxSide)
		}
		p.size = &sz
	default:
		return fail("size has %d values (want [H, W] or [S])", len(s.Size))
	}
	if s.Resize != "" {
		m, err := ParseResizeMode(s.Resize)
		if err != nil {
			return fail("%v", err)
		}
		p.resize = &m
	}
	if s.CropFraction != nil {
		p.cropFraction = s.CropFraction
	}
	if s.Scale != nil {
		p.scale = s.Scale
	}
	for _, f := range []struct {
		name string
		in   []float32
		out  **[3]float32
	}{{"mean", s.Mean, &p.mean}, {"std", s.Std, &p.std}} {
		switch len(f.in) {
		case 0:
		case 1:
			v := same(f.in[0])
			*f.out = &v
		case 3:
			v := [3]float32{f.in[0], f.in[1], f.in[2]}
			*f.out = &v
		default:
			return fail("%s has %d values (want 1 or 3)", f.name, len(f.in))
		}
	}
	if s.Channels != 0 {
		if s.Channels != 1 && s.Channels != 3 {
			return fail("channels %d (want 1 or 3)", s.Channels)
		}
		p.channels = &s.Channels
	}
	return p, nil
}

// Resolve merges partial specs, highest priority first (typically command
// line flags, then the sidecar, then model metadata; nil entries are
// skipped), with the model's input shape modelCHW (a dimension ≤ 0 is
// dynamic/unknown).
//
//   - Size and channels come from the model where it fixes them; a spec that
//     asks for something else is an error. Where the model leaves them open,
//     the highest explicit spec value is used, then the size or channels of
//     the highest preset that has one, else (channels only) 3.
//   - Every other field comes from the highest spec that sets it (a preset
//     sets resize, crop_fraction, scale, mean and std).
//   - Fields still unset take the "unit" preset's values (scale 1/255, mean
//     0, std 1, stretch; crop fraction 0.875). When no spec sets any of them
//     Resolve says so in a warning, because the model's expected input range
//     is then a guess.
//
// The returned Options have passed Validate.
func Resolve(modelCHW [3]int, specs ...*Spec) (Options, []string, error) {
	var m partial
	var sizeOrigin, channelsOrigin string
	for _, s := range specs {
		if s == nil {
			continue
		}
		p, err := s.expand()
		if err != nil {
			return Options{}, nil, err
		}
		if m.size == nil && p.size != nil {
			m.size, sizeOrigin = p.size, s.Origin
		}
		if m.channels == nil && p.channels != nil {
			m.channels, channelsOrigin = p.channels, s.Origin
		}
		fill(&m.resize, p.resize)
		fill(&m.cropFraction, p.cropFraction)
		fill(&m.scale, p.scale)
		fill(&m.mean, p.mean)
		fill(&m.std, p.std)
		fill(&m.presetSize, p.presetSize)
		fill(&m.presetChannels, p.presetChannels)
	}

	var warnings []string
	if m.resize == nil && m.scale == nil && m.mean == nil && m.std == nil {
		warnings = append(warnings, "no preprocessing given (flag, sidecar or model metadata): using preset \"unit\" (p/255 in [0,1], stretch); predictions may be wrong if the model expects another input range")
	}
	unit := presets["unit"].opt
	o := Options{
		Resize:       deref(m.resize, unit.Resize),
		CropFraction: deref(m.cropFraction, 0.875),
		Scale:        deref(m.scale, unit.Scale),
		Mean:         deref(m.mean, unit.Mean),
		Std:          deref(m.std, unit.Std),
	}

	for d, name := range []string{"height", "width"} {
		model := modelCHW[d+1]
		switch {
		case model > 0:
			if m.size != nil && m.size[d] != model {
				return Options{}, nil, fmt.Errorf("%s: input %s %d, but the model's input %s is fixed at %d", origin(sizeOrigin), name, m.size[d], name, model)
			}
			o.Size[d] = model
		case m.size != nil:
			o.Size[d] = m.size[d]
		case m.presetSize != nil:
			o.Size[d] = m.presetSize[d]
		default:
			return Options{}, nil, fmt.Errorf("preprocess: the model's input %s is dynamic and no size was given (use a size flag or a sidecar \"size\")", name)
		}
	}

	switch c := modelCHW[0]; {
	case c == 1 || c == 3:
		if m.channels != nil && *m.channels != c {
			return Options{}, nil, fmt.Errorf("%s: %d channels, but the model's input has %d", origin(channelsOrigin), *m.channels, c)
		}
		o.Channels = c
	case c > 0:
		return Options{}, nil, fmt.Errorf("preprocess: the model's input has %d channels; only 1 (grey) and 3 (RGB) images are supported", c)
	case m.channels != nil:
		o.Channels = *m.channels
	case m.presetChannels != nil:
		o.Channels = *m.presetChannels
	default:
		o.Channels = 3
	}
	if err := o.Validate(); err != nil {
		return Options{}, nil, err
	}
	return o, warnings, nil
}

func fill[T any](dst **T, src *T) {
	if *dst == nil {
		*dst = src
	}
}

func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func origin(s string) string {
	if s == "" {
		return "preprocess"
	}
	return s
}
