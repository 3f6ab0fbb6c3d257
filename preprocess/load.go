package preprocess

import (
	"fmt"
	"image"
	"math"
)

// Image is one preprocessed image.
type Image struct {
	// Tensor is the model input, C×H×W float32 (Normalize applied to Pixels).
	Tensor []float32
	// Pixels is the resized and cropped image in pixel space, C×H×W with
	// values p/255 in [0,1]: what the model sees, for display and for
	// perturbations that are mapped to model space with Options.Normalize.
	Pixels []float32
	// C, H, W are the tensor's dimensions (Options.Channels and Size).
	C, H, W int
	// SourceW and SourceH are the decoded image's dimensions.
	SourceW, SourceH int
}

// Load decodes an image file and preprocesses it with opt. Errors name the
// file. See FromImage for the conversion and the package documentation for
// the formats.
func Load(path string, opt Options) (*Image, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	img, err := readImageFile(path)
	if err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	return fromImage(img, opt), nil
}

// FromImage preprocesses a decoded image: alpha composited over white,
// converted to opt.Channels, resized and cropped as opt.Resize says, and
// normalised.
func FromImage(img image.Image, opt Options) (*Image, error) {
	if err := opt.Validate(); err != nil {
		return nil, err
	}
	b := img.Bounds()
	if err := checkDims("in-memory", b.Dx(), b.Dy(), MaxPixels); err != nil {
		return nil, fmt.Errorf("preprocess: %w", err)
	}
	return fromImage(img, opt), nil
}

func fromImage(img image.Image, opt Options) *Image {
	r := toRaster(img, opt.Channels)
	srcH, srcW := r.h, r.w
	oh, ow := opt.Size[0], opt.Size[1]
	rh, rw, top, left := opt.geometry(r.h, r.w)
	r = r.resample(rh, rw, top, left, oh, ow)

	pixels := make([]float32, r.c*oh*ow)
	if r.u8 != nil {
		for i, v := range r.u8 {
			pixels[i] = float32(v) / 255
		}
	} else {
		for i, v := range r.f32 {
			pixels[i] = v / 255
		}
	}
	// Cannot fail: the channel count and sizes come from validated opt.
	tensor, _ := opt.Normalize(pixels, r.c, oh, ow)
	return &Image{Tensor: tensor, Pixels: pixels, C: r.c, H: oh, W: ow, SourceW: srcW, SourceH: srcH}
}

// geometry returns the size of the resized image and the top-left corner of
// the Size window cut from it (negative: zero padding, as torchvision's
// CenterCrop pads an image smaller than the crop).
func (o Options) geometry(h, w int) (rh, rw, top, left int) {
	oh, ow := o.Size[0], o.Size[1]
	if o.Resize == Stretch {
		return oh, ow, 0, 0
	}
	// torchvision Resize(s): shorter side s, longer int(s·long/short).
	s := int(math.Floor(float64(min(oh, ow))/float64(o.CropFraction) + 1e-4))
	if w <= h {
		rw, rh = s, int(float64(s*h)/float64(w))
	} else {
		rh, rw = s, int(float64(s*w)/float64(h))
	}
	return rh, rw, cropOffset(rh, oh), cropOffset(rw, ow)
}

// cropOffset is torchvision's CenterCrop offset along one axis: round half
// to even of (n−crop)/2, or minus the leading padding when crop > n.
func cropOffset(n, crop int) int {
	if crop > n {
		return -((crop - n) / 2)
	}
	return int(math.RoundToEven(float64(n-crop) / 2))
}
