//go:build ort

package ortref

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"

	"google.golang.org/protobuf/encoding/protowire"
)

// Tensor is a float32 tensor read from an ONNX TensorProto file.
type Tensor struct {
	Name string
	Dims []int64
	Data []float32
}

// Len returns the number of elements the dims describe.
func (t *Tensor) Len() int {
	n := 1
	for _, d := range t.Dims {
		n *= int(d)
	}
	return n
}

// TensorProto field numbers and the FLOAT data type (onnx.proto).
const (
	tpDims      = 1
	tpDataType  = 2
	tpFloatData = 4
	tpName      = 8
	tpRawData   = 9
	dtFloat     = 1
)

// ReadTensorProto reads a serialised onnx.TensorProto holding float32 data
// (raw_data or float_data), such as test_data_set_0/input_0.pb.
func ReadTensorProto(path string) (*Tensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := ParseTensorProto(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// ParseTensorProto decodes a serialised onnx.TensorProto holding float32 data.
func ParseTensorProto(b []byte) (*Tensor, error) {
	t := &Tensor{}
	dataType := int64(-1)
	var raw []byte
	haveRaw := false
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, fmt.Errorf("tensorproto: bad tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		switch {
		case num == tpDims && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: dims: %w", protowire.ParseError(n))
			}
			t.Dims = append(t.Dims, int64(v))
			b = b[n:]
		case num == tpDims && typ == protowire.BytesType:
			p, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: dims: %w", protowire.ParseError(n))
			}
			for len(p) > 0 {
				v, m := protowire.ConsumeVarint(p)
				if m < 0 {
					return nil, fmt.Errorf("tensorproto: packed dims: %w", protowire.ParseError(m))
				}
				t.Dims = append(t.Dims, int64(v))
				p = p[m:]
			}
			b = b[n:]
		case num == tpDataType && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: data_type: %w", protowire.ParseError(n))
			}
			dataType = int64(v)
			b = b[n:]
		case num == tpFloatData && typ == protowire.Fixed32Type:
			v, n := protowire.ConsumeFixed32(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: float_data: %w", protowire.ParseError(n))
			}
			t.Data = append(t.Data, math.Float32frombits(v))
			b = b[n:]
		case num == tpFloatData && typ == protowire.BytesType:
			p, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: float_data: %w", protowire.ParseError(n))
			}
			if len(p)%4 != 0 {
				return nil, fmt.Errorf("tensorproto: packed float_data of %d bytes", len(p))
			}
			for i := 0; i < len(p); i += 4 {
				t.Data = append(t.Data, math.Float32frombits(binary.LittleEndian.Uint32(p[i:])))
			}
			b = b[n:]
		case num == tpName && typ == protowire.BytesType:
			p, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: name: %w", protowire.ParseError(n))
			}
			t.Name = string(p)
			b = b[n:]
		case num == tpRawData && typ == protowire.BytesType:
			p, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: raw_data: %w", protowire.ParseError(n))
			}
			raw, haveRaw = p, true
			b = b[n:]
		default:
			n := protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, fmt.Errorf("tensorproto: field %d: %w", num, protowire.ParseError(n))
			}
			b = b[n:]
		}
	}
	if dataType != dtFloat {
		return nil, fmt.Errorf("tensorproto: data_type %d is not FLOAT (1)", dataType)
	}
	if haveRaw {
		if len(t.Data) > 0 {
			return nil, fmt.Errorf("tensorproto: both raw_data and float_data are set")
		}
		if len(raw)%4 != 0 {
			return nil, fmt.Errorf("tensorproto: raw_data of %d bytes", len(raw))
		}
		t.Data = make([]float32, len(raw)/4)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	for _, d := range t.Dims {
		if d < 0 {
			return nil, fmt.Errorf("tensorproto: negative dimension in %v", t.Dims)
		}
	}
	if want := t.Len(); want != len(t.Data) {
		return nil, fmt.Errorf("tensorproto: dims %v need %d values, got %d", t.Dims, want, len(t.Data))
	}
	return t, nil
}
