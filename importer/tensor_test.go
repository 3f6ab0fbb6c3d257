package importer

import (
	"encoding/binary"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/paneonnx/paneonnx/importer/onnxpb"
)

// TestDecodeTensorTypes decodes the values 1.5, −2 and 3 (or their integer
// counterparts) stored in every numeric type, from raw_data and from the
// typed fields, against values worked out by hand from the IEEE and
// two's-complement encodings.
func TestDecodeTensorTypes(t *testing.T) {
	le := binary.LittleEndian
	f16 := []uint16{0x3e00, 0xc000, 0x4200}  // 1.5, −2, 3 in binary16
	bf16 := []uint16{0x3fc0, 0xc000, 0x4040} // the top halves of the float32s
	raw := func(size int, put func(b []byte, i int)) []byte {
		b := make([]byte, 3*size)
		for i := range 3 {
			put(b[i*size:], i)
		}
		return b
	}
	floats := []float64{1.5, -2, 3}
	ints := []float64{1, -2, 3}
	cases := []struct {
		name  string
		dt    int32
		raw   []byte
		typed func(*onnxpb.TensorProto)
		want  []float64
	}{
		{"float", dtFloat, raw(4, func(b []byte, i int) { le.PutUint32(b, math.Float32bits(float32(floats[i]))) }),
			func(tp *onnxpb.TensorProto) { tp.FloatData = []float32{1.5, -2, 3} }, floats},
		{"double", dtDouble, raw(8, func(b []byte, i int) { le.PutUint64(b, math.Float64bits(floats[i])) }),
			func(tp *onnxpb.TensorProto) { tp.DoubleData = floats }, floats},
		{"float16", dtFloat16, raw(2, func(b []byte, i int) { le.PutUint16(b, f16[i]) }),
			func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{0x3e00, 0xc000, 0x4200} }, floats},
		{"bfloat16", dtBfloat16, raw(2, func(b []byte, i int) { le.PutUint16(b, bf16[i]) }),
			func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{0x3fc0, 0xc000, 0x4040} }, floats},
		{"int8", dtInt8, []byte{1, 0xfe, 3}, func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{1, -2, 3} }, ints},
		{"int16", dtInt16, raw(2, func(b []byte, i int) { le.PutUint16(b, uint16(int16(ints[i]))) }),
			func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{1, -2, 3} }, ints},
		{"int32", dtInt32, raw(4, func(b []byte, i int) { le.PutUint32(b, uint32(int32(ints[i]))) }),
			func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{1, -2, 3} }, ints},
		{"int64", dtInt64, raw(8, func(b []byte, i int) { le.PutUint64(b, uint64(int64(ints[i]))) }),
			func(tp *onnxpb.TensorProto) { tp.Int64Data = []int64{1, -2, 3} }, ints},
		{"uint8", dtUint8, []byte{1, 2, 3}, func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{1, 2, 3} }, []float64{1, 2, 3}},
		{"uint16", dtUint16, []byte{1, 0, 2, 0, 3, 0}, func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{1, 2, 3} }, []float64{1, 2, 3}},
		{"uint32", dtUint32, []byte{1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0}, func(tp *onnxpb.TensorProto) { tp.Uint64Data = []uint64{1, 2, 3} }, []float64{1, 2, 3}},
		{"uint64", dtUint64, raw(8, func(b []byte, i int) { le.PutUint64(b, uint64(i+1)) }),
			func(tp *onnxpb.TensorProto) { tp.Uint64Data = []uint64{1, 2, 3} }, []float64{1, 2, 3}},
		{"bool", dtBool, []byte{1, 0, 1}, func(tp *onnxpb.TensorProto) { tp.Int32Data = []int32{1, 0, 1} }, []float64{1, 0, 1}},
	}
	for _, c := range cases {
		for _, form := range []string{"raw", "typed"} {
			tp := &onnxpb.TensorProto{Dims: []int64{3}, DataType: proto.Int32(c.dt)}
			if form == "raw" {
				tp.RawData = c.raw
			} else {
				c.typed(tp)
			}
			got, err := decodeTensor(tp, "")
			if err != nil {
				t.Errorf("%s %s: %v", c.name, form, err)
				continue
			}
			for i, w := range c.want {
				if got.V[i] != w {
					t.Errorf("%s %s: value %d is %g, want %g", c.name, form, i, got.V[i], w)
				}
			}
			if got.Int != (c.dt != dtFloat && c.dt != dtDouble && c.dt != dtFloat16 && c.dt != dtBfloat16) {
				t.Errorf("%s: Int flag %v", c.name, got.Int)
			}
		}
	}
	if _, err := decodeTensor(&onnxpb.TensorProto{Dims: []int64{1}, DataType: proto.Int32(8)}, ""); err == nil {
		t.Error("a STRING tensor was accepted")
	}
}

// TestHalfToFloatSpecials covers the binary16 special values.
func TestHalfToFloatSpecials(t *testing.T) {
	for bits, want := range map[uint16]float32{
		0x0000: 0, 0x8000: float32(math.Copysign(0, -1)), 0x0001: 1.0 / (1 << 24), 0x3c00: 1, 0x7bff: 65504,
		0x7c00: float32(math.Inf(1)), 0xfc00: float32(math.Inf(-1)),
	} {
		if got := halfToFloat(bits); got != want || math.Signbit(float64(got)) != math.Signbit(float64(want)) {
			t.Errorf("halfToFloat(%#04x) = %g, want %g", bits, got, want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat(NaN) = %g", got)
	}
}
