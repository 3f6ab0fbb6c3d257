package main

// The explanation methods the commands look up by name through
// saliency.Lookup register themselves when their packages are imported.
import (
	_ "github.com/paneonnx/paneonnx/cam"
)
