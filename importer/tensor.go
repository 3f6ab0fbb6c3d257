package importer

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer/onnxpb"
)

// ONNX TensorProto data types (onnx.proto TensorProto.DataType).
const (
	dtFloat    = 1
	dtUint8    = 2
	dtInt8     = 3
	dtUint16   = 4
	dtInt16    = 5
	dtInt32    = 6
	dtInt64    = 7
	dtBool     = 9
	dtFloat16  = 10
	dtDouble   = 11
	dtUint32   = 12
	dtUint64   = 13
	dtBfloat16 = 16
)

var dtypeSize = map[int32]int{
	dtFloat: 4, dtUint8: 1, dtInt8: 1, dtUint16: 2, dtInt16: 2, dtInt32: 4, dtInt64: 8,
	dtBool: 1, dtFloat16: 2, dtDouble: 8, dtUint32: 4, dtUint64: 8, dtBfloat16: 2,
}

func dtypeName(dt int32) string {
	if name, ok := onnxpb.TensorProto_DataType_name[dt]; ok {
		return name
	}
	return "type " + strconv.Itoa(int(dt))
}

func isIntType(dt int32) bool {
	switch dt {
	case dtFloat, dtDouble, dtFloat16, dtBfloat16:
		return false
	}
	return true
}

// tensorShape converts ONNX dims to ints, rejecting negative dims and sizes
// beyond graph.MaxElements before anything is allocated.
func tensorShape(dims []int64) ([]int, int, error) {
	shape := make([]int, len(dims))
	for i, d := range dims {
		if d < 0 || d > graph.MaxElements {
			return nil, 0, fmt.Errorf("dimension %d is %d", i, d)
		}
		shape[i] = int(d)
	}
	n, err := graph.CheckedElements(shape)
	return shape, n, err
}

// decodeTensor converts a TensorProto to a Const. dir is the folder external
// data is read from; an empty dir forbids external data.
func decodeTensor(t *onnxpb.TensorProto, dir string) (*graph.Const, error) {
	shape, n, err := tensorShape(t.GetDims())
	if err != nil {
		return nil, err
	}
	dt := t.GetDataType()
	size, ok := dtypeSize[dt]
	if !ok {
		return nil, fmt.Errorf("data type %s is not supported", dtypeName(dt))
	}
	c := &graph.Const{Shape: shape, Int: isIntType(dt)}
	raw := t.GetRawData()
	if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if raw, err = readExternal(t, dir, n*size); err != nil {
			return nil, err
		}
	}
	if raw != nil || t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		if len(raw) != n*size {
			return nil, fmt.Errorf("shape %v of %s needs %d bytes, the tensor holds %d", shape, dtypeName(dt), n*size, len(raw))
		}
		c.V = decodeRaw(raw, dt, n)
		return c, nil
	}
	c.V, err = decodeTyped(t, dt, n)
	return c, err
}

func decodeRaw(raw []byte, dt int32, n int) []float64 {
	v := make([]float64, n)
	le := binary.LittleEndian
	for i := range v {
		switch dt {
		case dtFloat:
			v[i] = float64(math.Float32frombits(le.Uint32(raw[4*i:])))
		case dtDouble:
			v[i] = math.Float64frombits(le.Uint64(raw[8*i:]))
		case dtFloat16:
			v[i] = float64(halfToFloat(le.Uint16(raw[2*i:])))
		case dtBfloat16:
			v[i] = float64(math.Float32frombits(uint32(le.Uint16(raw[2*i:])) << 16))
		case dtInt8:
			v[i] = float64(int8(raw[i]))
		case dtUint8, dtBool:
			v[i] = float64(raw[i])
		case dtInt16:
			v[i] = float64(int16(le.Uint16(raw[2*i:])))
		case dtUint16:
			v[i] = float64(le.Uint16(raw[2*i:]))
		case dtInt32:
			v[i] = float64(int32(le.Uint32(raw[4*i:])))
		case dtUint32:
			v[i] = float64(le.Uint32(raw[4*i:]))
		case dtInt64:
			v[i] = float64(int64(le.Uint64(raw[8*i:])))
		case dtUint64:
			v[i] = float64(le.Uint64(raw[8*i:]))
		}
	}
	return v
}

// decodeTyped reads the typed repeated fields (float_data, int32_data, ...),
// where ONNX stores the small types widened to int32.
func decodeTyped(t *onnxpb.TensorProto, dt int32, n int) ([]float64, error) {
	var v []float64
	var have int
	switch dt {
	case dtFloat:
		have = len(t.FloatData)
		v = make([]float64, 0, min(have, n))
		for _, x := range t.FloatData {
			v = append(v, float64(x))
		}
	case dtDouble:
		have = len(t.DoubleData)
		v = append([]float64(nil), t.DoubleData...)
	case dtInt64:
		have = len(t.Int64Data)
		v = make([]float64, 0, min(have, n))
		for _, x := range t.Int64Data {
			v = append(v, float64(x))
		}
	case dtUint32, dtUint64:
		have = len(t.Uint64Data)
		v = make([]float64, 0, min(have, n))
		for _, x := range t.Uint64Data {
			v = append(v, float64(x))
		}
	case dtFloat16, dtBfloat16:
		have = len(t.Int32Data)
		v = make([]float64, 0, min(have, n))
		for _, x := range t.Int32Data {
			if dt == dtFloat16 {
				v = append(v, float64(halfToFloat(uint16(x))))
			} else {
				v = append(v, float64(math.Float32frombits(uint32(uint16(x))<<16)))
			}
		}
	default: // int8/16/32, uint8/16, bool are widened to int32_data
		have = len(t.Int32Data)
		v = make([]float64, 0, min(have, n))
		for _, x := range t.Int32Data {
			v = append(v, float64(x))
		}
	}
	if have != n {
		return nil, fmt.Errorf("shape %v needs %d values, the tensor holds %d", t.GetDims(), n, have)
	}
	return v, nil
}

// halfToFloat converts IEEE 754 binary16 bits to float32.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = frac · 2^-24
		f := float32(frac) * float32(1.0/(1<<24))
		if sign != 0 {
			return -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// readExternal reads an external-data tensor's bytes. The location must be a
// local path inside dir (no absolute paths, no "..", no symlink leading out),
// and offset/length must lie inside the file.
func readExternal(t *onnxpb.TensorProto, dir string, want int) ([]byte, error) {
	if dir == "" {
		return nil, fmt.Errorf("external data is not allowed for tensors read from memory")
	}
	var location string
	offset, length := int64(0), int64(-1)
	for _, kv := range t.GetExternalData() {
		var err error
		switch kv.GetKey() {
		case "location":
			location = kv.GetValue()
		case "offset":
			offset, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		case "length":
			length, err = strconv.ParseInt(kv.GetValue(), 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("external data %s %q is not a number", kv.GetKey(), kv.GetValue())
		}
	}
	if location == "" {
		return nil, fmt.Errorf("external data has no location")
	}
	if !filepath.IsLocal(location) || strings.Contains(location, `\`) {
		return nil, fmt.Errorf("external data location %q is outside the model's folder", location)
	}
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, err
	}
	path, err := filepath.EvalSymlinks(filepath.Join(dir, location))
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	if rel, err := filepath.Rel(root, path); err != nil || !filepath.IsLocal(rel) {
		return nil, fmt.Errorf("external data location %q resolves outside the model's folder", location)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("external data: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if length < 0 {
		length = int64(want)
	}
	if offset < 0 || length != int64(want) || offset > st.Size() || length > st.Size()-offset {
		return nil, fmt.Errorf("external data %q: offset %d and length %d do not fit the file (%d bytes) or the tensor (%d bytes)", location, offset, length, st.Size(), want)
	}
	buf := make([]byte, length)
	if _, err := f.ReadAt(buf, offset); err != nil && err != io.EOF {
		return nil, fmt.Errorf("external data %q: %w", location, err)
	}
	return buf, nil
}
