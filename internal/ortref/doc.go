//go:build ort

// Package ortref runs ONNX models through ONNX Runtime so that tests and
// benchmarks can compare paneonnx's own pure-Go engine against an independent,
// widely used implementation.
//
// The product itself never depends on ONNX Runtime: it builds with
// CGO_ENABLED=0. This package needs cgo and a libonnxruntime.so, so every file
// in it carries the build tag "ort" and is invisible to ordinary builds and
// tests.
//
// The shared library comes from the npm package onnxruntime-node, which ships
// a prebuilt CPU build of ONNX Runtime. Install it into the git-ignored folder
// .cache/ort and run the reference tests and benchmarks with:
//
//	scripts/install-ort.sh
//	CGO_ENABLED=1 go test -tags ort ./internal/ortref/
//	CGO_ENABLED=1 go test -tags ort -run '^$' -bench ORT ./internal/ortref/
//
// Init looks for the library at $PANEONNX_ORT_LIB, then under .cache/ort below
// the repository root (the first parent folder that holds go.mod). Tests skip
// with a message when the library or the shared model folder is absent; the
// shared folder is $PANEONNX_SHARED when set, else ../shared beside the
// repository root.
//
// BenchmarkORT times the forward pass (batch 1, two intra-op threads) of the
// shared MobileNetV2 and ResNet-8 models, of testmodels/cache/resnet18 when it
// has been generated, and of any extra .onnx files listed in
// $PANEONNX_ORT_BENCH_MODELS; it reports ms/op (mean) and median-ms.
//
// Session wraps one single-input, single-output model with a fixed input
// shape. ReadTensorProto reads the float32 TensorProto files (.pb) of the
// standard ONNX test-data layout (test_data_set_N/input_0.pb, output_0.pb).
package ortref
