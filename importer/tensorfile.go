package importer

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/proto"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer/onnxpb"
)

// ReadTensorFile reads a serialized ONNX TensorProto (the .pb files of the
// ONNX test-data layout) and returns its name and values.
func ReadTensorFile(path string) (string, *graph.Const, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", nil, err
	}
	var tp onnxpb.TensorProto
	if err := proto.Unmarshal(data, &tp); err != nil {
		return "", nil, fmt.Errorf("%s: not an ONNX TensorProto: %v", path, err)
	}
	c, err := decodeTensor(&tp, "")
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	return tp.GetName(), c, nil
}

// WriteTensorFile writes t as a float32 ONNX TensorProto with raw data.
func WriteTensorFile(path, name string, t *graph.Tensor) error {
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		dims[i] = int64(d)
	}
	dt := int32(dtFloat)
	data, err := proto.Marshal(&onnxpb.TensorProto{Name: &name, Dims: dims, DataType: &dt, RawData: raw})
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o644)
}
