// Package render turns saliency maps into pictures and arrays: PNG overlays
// on the photo the model saw, labelled grids of several of them, and .npy
// files of the raw maps.
//
// Maps and photos are Map values (planar C×H×W float32). A per-colour-channel
// IOM map (C = 3, values in [−1,1]) is shown three ways:
//   - AbsRGB, the paper's view: |map| with channel c driving colour c;
//   - Signed: the channel sum in a blue–white–red diverging colormap;
//   - Jet: the CAM-style overlay of pytorch-grad-cam, which CAM maps (C = 1,
//     values in [0,1]) also use, so that every method can be compared in the
//     same colours.
//
// Every view normalises by the map's own maximum and leaves an all-zero map
// as the plain (dimmed) photo. Inputs whose dimensions disagree or whose
// values are NaN or infinite are errors, never panics.
//
// SaveNPY writes NumPy's .npy format (version 1.0, '<f4', C order), and
// SavePNG writes PNG; both write through a temporary file and rename it, so
// an interrupted run leaves no partial file.
//
// # Dependencies
//
// golang.org/x/image/font/basicfont (with font and math/fixed) draws Grid
// titles: a fixed 7×13 bitmap font compiled into the binary, so text needs
// no font files on the machine.
//
// github.com/sbinet/npyio is not used: its v0.6.0 writer takes the array's
// shape from the Go type, so a flat []float32 can only be written as a 1-D
// array, and nested slices fail. The .npy header is a short Python
// dictionary literal, written here and checked against numpy.save output in
// the tests.
package render
