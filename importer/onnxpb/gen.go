// Package onnxpb holds the Go types of the subset of the ONNX protobuf schema
// that paneonnx decodes (see onnx.proto). The generated code is committed so
// that builds need no protoc; `go generate` regenerates it with protoc and
// protoc-gen-go (google.golang.org/protobuf/cmd/protoc-gen-go).
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative onnx.proto
