package importer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/importer/onnxpb"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// model builds a ModelProto with one float input "x" of shape [N,3,4,4],
// the given nodes and initializers, and output "y".
func model(nodes []*onnxpb.NodeProto, inits ...*onnxpb.TensorProto) *onnxpb.ModelProto {
	dim := func(v int64) *onnxpb.TensorShapeProto_Dimension {
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	batch := &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "N"}}
	f := int32(1)
	return &onnxpb.ModelProto{
		IrVersion:   proto.Int64(8),
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(13)}},
		Graph: &onnxpb.GraphProto{
			Name:        proto.String("g"),
			Node:        nodes,
			Initializer: inits,
			Input: []*onnxpb.ValueInfoProto{{Name: proto.String("x"), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
				ElemType: &f, Shape: &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{batch, dim(3), dim(4), dim(4)}}}}}}},
			Output: []*onnxpb.ValueInfoProto{{Name: proto.String("y")}},
		},
	}
}

func node(op, name string, in []string, out ...string) *onnxpb.NodeProto {
	return &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(name), Input: in, Output: out}
}

func floatTensor(name string, dims []int64, raw []byte) *onnxpb.TensorProto {
	return &onnxpb.TensorProto{Name: proto.String(name), Dims: dims, DataType: proto.Int32(1), RawData: raw}
}

func marshal(t *testing.T, m *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// expectError decodes data and requires an error containing every want.
func expectError(t *testing.T, data []byte, dir string, want ...string) {
	t.Helper()
	_, err := importer.Decode(data, dir, nil)
	if err == nil {
		t.Fatalf("expected an error mentioning %q, got none", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

func TestBadInput(t *testing.T) {
	relu := model([]*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, "y")})
	good := marshal(t, relu)
	if _, err := importer.Decode(good, "", nil); err != nil {
		t.Fatalf("valid model rejected: %v", err)
	}

	t.Run("truncated", func(t *testing.T) {
		for _, n := range []int{1, len(good) / 2, len(good) - 1} {
			if _, err := importer.Decode(good[:n], "", nil); err == nil {
				t.Errorf("truncated to %d bytes: no error", n)
			}
		}
	})
	t.Run("garbage", func(t *testing.T) {
		expectError(t, []byte("this is not a protobuf \xff\xff\xff"), "", "not a valid ONNX model")
	})
	t.Run("huge tensor", func(t *testing.T) {
		m := model([]*onnxpb.NodeProto{node("Add", "a", []string{"x", "w"}, "y")},
			floatTensor("w", []int64{1000000, 1000000}, []byte{0, 0, 0, 0}))
		expectError(t, marshal(t, m), "", `initializer "w"`, "elements")
	})
	t.Run("overflowing dims", func(t *testing.T) {
		m := model([]*onnxpb.NodeProto{node("Add", "a", []string{"x", "w"}, "y")},
			floatTensor("w", []int64{1 << 40, 1 << 40, 1 << 40}, nil))
		expectError(t, marshal(t, m), "", `initializer "w"`)
	})
	t.Run("short raw data", func(t *testing.T) {
		m := model([]*onnxpb.NodeProto{node("Add", "a", []string{"x", "w"}, "y")},
			floatTensor("w", []int64{3, 1, 1}, []byte{0, 0, 0, 0}))
		expectError(t, marshal(t, m), "", `initializer "w"`, "needs 12 bytes")
	})
	t.Run("nan weights", func(t *testing.T) {
		m := model([]*onnxpb.NodeProto{node("Add", "a", []string{"x", "w"}, "y")},
			floatTensor("w", []int64{1}, []byte{0, 0, 0xc0, 0x7f}))
		expectError(t, marshal(t, m), "", "NaN")
	})
	t.Run("unsupported operators", func(t *testing.T) {
		m := model([]*onnxpb.NodeProto{
			node("Relu", "r", []string{"x"}, "a"),
			node("LSTM", "lstm1", []string{"a"}, "b"),
			node("NonMaxSuppression", "nms", []string{"b"}, "c"),
			node("LSTM", "lstm2", []string{"c"}, "y"),
		})
		expectError(t, marshal(t, m), "", "LSTM (lstm1, lstm2)", "NonMaxSuppression (nms)")
	})
	t.Run("bad attribute", func(t *testing.T) {
		n := node("LeakyRelu", "lr", []string{"x"}, "y")
		n.Attribute = []*onnxpb.AttributeProto{{Name: proto.String("bogus"), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(1)}}
		expectError(t, marshal(t, model([]*onnxpb.NodeProto{n})), "", `node "lr"`, "bogus")
	})
	t.Run("opset", func(t *testing.T) {
		m := model([]*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, "y")})
		m.OpsetImport[0].Version = proto.Int64(5)
		expectError(t, marshal(t, m), "", "opset 5")
	})
	t.Run("ir version", func(t *testing.T) {
		for _, v := range []int64{2, 11} {
			m := model([]*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, "y")})
			m.IrVersion = proto.Int64(v)
			expectError(t, marshal(t, m), "", "IR version")
		}
		for _, v := range []int64{3, 10} {
			m := model([]*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, "y")})
			m.IrVersion = proto.Int64(v)
			if _, err := importer.Decode(marshal(t, m), "", nil); err != nil {
				t.Errorf("IR version %d rejected: %v", v, err)
			}
		}
	})
	t.Run("other domain", func(t *testing.T) {
		n := node("FusedConv", "fc", []string{"x"}, "y")
		n.Domain = proto.String("com.microsoft")
		expectError(t, marshal(t, model([]*onnxpb.NodeProto{n})), "", "com.microsoft.FusedConv (fc)")
	})
	t.Run("dangling input", func(t *testing.T) {
		expectError(t, marshal(t, model([]*onnxpb.NodeProto{node("Relu", "r", []string{"nothing"}, "y")})), "", `"nothing"`)
	})
}

func TestExternalData(t *testing.T) {
	dir := t.TempDir()
	// Three float32 values 1, 2, 3 after an 8-byte offset.
	payload := []byte{9, 9, 9, 9, 9, 9, 9, 9, 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40}
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	ext := func(location, offset, length string) *onnxpb.ModelProto {
		w := &onnxpb.TensorProto{Name: proto.String("w"), Dims: []int64{3, 1, 1}, DataType: proto.Int32(1),
			DataLocation: onnxpb.TensorProto_EXTERNAL.Enum(),
			ExternalData: []*onnxpb.StringStringEntryProto{
				{Key: proto.String("location"), Value: proto.String(location)},
				{Key: proto.String("offset"), Value: proto.String(offset)},
				{Key: proto.String("length"), Value: proto.String(length)}}}
		return model([]*onnxpb.NodeProto{node("Add", "a", []string{"x", "w"}, "y")}, w)
	}
	m, err := importer.Decode(marshal(t, ext("w.bin", "8", "12")), dir, nil)
	if err != nil {
		t.Fatalf("valid external data rejected: %v", err)
	}
	if len(m.Graph.Nodes) != 1 {
		t.Fatalf("expected one node, got %d", len(m.Graph.Nodes))
	}
	for _, c := range []struct{ loc, off, length, want string }{
		{"/etc/passwd", "0", "12", "outside the model's folder"},
		{"../w.bin", "0", "12", "outside the model's folder"},
		{"w.bin", "12", "12", "do not fit"},
		{"w.bin", "-4", "12", "do not fit"},
		{"w.bin", "0", "4", "do not fit"},
		{"missing.bin", "0", "12", "external data"},
	} {
		expectError(t, marshal(t, ext(c.loc, c.off, c.length)), dir, c.want)
	}
	// A symlink inside the folder that leads out of it.
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.bin"), payload, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.bin"), filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	expectError(t, marshal(t, ext("link.bin", "8", "12")), dir, "outside the model's folder")
	// Models read from memory may not use external data at all.
	expectError(t, marshal(t, ext("w.bin", "8", "12")), "", "not allowed")
}

// FuzzDecode feeds arbitrary bytes to the importer: it must return a model
// or an error, never panic or allocate without bound.
func FuzzDecode(f *testing.F) {
	root := testutil.RepoRoot(f)
	seeds, _ := filepath.Glob(filepath.Join(root, "testmodels", "*_op9", "model.onnx"))
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil && len(data) < 1<<20 {
			f.Add(data)
		}
	}
	for _, m := range []*onnxpb.ModelProto{
		model([]*onnxpb.NodeProto{node("Relu", "r", []string{"x"}, "y")}),
		model([]*onnxpb.NodeProto{node("Add", "a", []string{"x", "w"}, "y")}, floatTensor("w", []int64{3, 1, 1}, make([]byte, 12))),
	} {
		if data, err := proto.Marshal(m); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := importer.Decode(data, "", nil)
		if err != nil {
			return
		}
		shape, err := m.Graph.InputShape(0, 1, []int{8, 8})
		if err != nil {
			return
		}
		_, _ = m.Graph.Shapes(shape) // only a panic would fail
	})
}
