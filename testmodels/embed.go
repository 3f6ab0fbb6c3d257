// Package testmodels embeds the default model and image that
// `paneonnx explain` uses when it is given no arguments: a small CNN trained
// on MNIST (train_default.py) and a held-out digit it classifies correctly.
package testmodels

import "embed"

// Default holds default/model.onnx, its preprocessing sidecar
// default/model.preprocess.json, default/labels.txt and default/digit.png.
//
//go:embed default/model.onnx default/model.preprocess.json default/labels.txt default/digit.png
var Default embed.FS
