// Package preprocess turns image files into model input tensors (float32,
// C×H×W) and keeps the matching pixel-space image for display and for
// perturbation metrics.
//
// # Decoding
//
// PNG, JPEG (including Adobe CMYK and YCCK), GIF (first frame), BMP, TIFF and
// WebP, with 8 or 16 bits per sample, grey, grey+alpha, RGB, RGBA and
// paletted. The header is read first (image.DecodeConfig) and images over
// MaxPixels pixels or files over MaxFileBytes bytes are refused before any
// pixel is decoded. Errors name the file and the reason; a decoder panic on
// a malformed file becomes an error.
//
// Alpha is composited over white (what a viewer shows on a white page;
// PIL's convert("RGB"), which torchvision pipelines use, drops alpha
// instead, keeping the colour of transparent pixels). Grey images feed a
// grey model directly; RGB images feed a grey model through ITU-R BT.601
// luma (PIL's convert("L") for 8-bit data); grey images feed an RGB model by
// replication.
//
// Go's JPEG decoder upsamples chroma by replication where libjpeg (PIL)
// interpolates, so decoded JPEG pixels can differ from PIL's by a level or
// two at colour edges; lossless formats decode identically.
//
// # Resizing
//
// Resampling reproduces Pillow's resize(BILINEAR), the filter torchvision's
// Resize applies to PIL images: a triangle filter with half-pixel centres,
// widened by the reduction factor when downsampling (antialiased) and plain
// bilinear interpolation with clamped edges when upsampling. For 8-bit
// sources it follows Pillow's fixed-point 8-bit path, so the resized bytes
// equal Pillow's (the tests check this against the test inputs of the
// models in ../shared/models and against goldens made by
// testdata/make_golden.py); 16-bit sources are resampled in floating point.
// ShorterCrop follows torchvision's Resize(int) + CenterCrop, including its
// rounding of sizes and offsets and its zero padding when the crop is larger
// than the resized image.
//
// # Normalisation
//
// x_c = (p·Scale − Mean_c)/Std_c for p in [0,255]. Image.Pixels holds p/255;
// Options.Normalize and Options.Denormalize map between the two spaces.
// Presets (PresetNames): imagenet, unit, raw, tf, mnist, fashion-mnist,
// cifar-raw.
//
// # Where options come from
//
// Resolve merges Specs in priority order: command-line flags, then the
// sidecar file next to the model (LoadSidecar: model.preprocess.json or
// preprocess.json), then the model's metadata_props (FromMetadata, key
// MetadataKey holding the same JSON), then the model's input shape. Without
// any of the first three it falls back to "unit" and returns a warning.
//
// # Data sets
//
// ReadIDX reads MNIST-style IDX files (gzip or plain) with bounded memory:
// a header claiming more than MaxIDXElements elements, or more data than the
// file holds, is an error.
//
// # Dependencies
//
// golang.org/x/image provides the BMP, TIFF and WebP decoders, which the
// standard library lacks; model zoos and data sets ship images in all three.
package preprocess
