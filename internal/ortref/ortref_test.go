//go:build ort

package ortref

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
)

// sharedModelsDir returns the shared model folder ($PANEONNX_SHARED/models,
// else ../shared/models beside the repository root) and whether it exists.
func sharedModelsDir() (string, bool) {
	var dir string
	if s := os.Getenv("PANEONNX_SHARED"); s != "" {
		dir = filepath.Join(s, "models")
	} else {
		root, err := RepoRoot()
		if err != nil {
			return "../shared/models", false
		}
		dir = filepath.Join(filepath.Dir(root), "shared", "models")
	}
	fi, err := os.Stat(dir)
	return dir, err == nil && fi.IsDir()
}

// sharedModels returns the shared model folder, skipping when it is absent.
func sharedModels(tb testing.TB) string {
	tb.Helper()
	dir, ok := sharedModelsDir()
	if !ok {
		tb.Skipf("shared model folder %s is absent; skipping ONNX Runtime reference checks", dir)
	}
	return dir
}

// needORT initialises ONNX Runtime or skips when the library is absent.
func needORT(tb testing.TB) {
	tb.Helper()
	if err := Init(); err != nil {
		if errors.Is(err, ErrLibraryNotFound) {
			tb.Skipf("%v", err)
		}
		tb.Fatalf("Init: %v", err)
	}
}

func TestORTMatchesSharedTestData(t *testing.T) {
	dir := sharedModels(t)
	needORT(t)
	t.Logf("ONNX Runtime %s from %s", Version(), LibraryPath())
	models, err := filepath.Glob(filepath.Join(dir, "*", "model.onnx"))
	if err != nil || len(models) == 0 {
		t.Skipf("no */model.onnx under %s", dir)
	}
	for _, model := range models {
		name := filepath.Base(filepath.Dir(model))
		t.Run(name, func(t *testing.T) {
			sets, _ := filepath.Glob(filepath.Join(filepath.Dir(model), "test_data_set_*"))
			if len(sets) == 0 {
				t.Skip("no test_data_set_* folders")
			}
			sessions := map[string]*Session{}
			defer func() {
				for _, s := range sessions {
					s.Close()
				}
			}()
			for _, set := range sets {
				in, err := ReadTensorProto(filepath.Join(set, "input_0.pb"))
				if err != nil {
					t.Fatal(err)
				}
				want, err := ReadTensorProto(filepath.Join(set, "output_0.pb"))
				if err != nil {
					t.Fatal(err)
				}
				key := fmt.Sprint(in.Dims)
				s := sessions[key]
				if s == nil {
					if s, err = Open(model, in.Dims); err != nil {
						t.Fatal(err)
					}
					sessions[key] = s
				}
				got, shape, err := s.Run(in.Data)
				if err != nil {
					t.Fatalf("%s: %v", filepath.Base(set), err)
				}
				if fmt.Sprint(shape) != fmt.Sprint(want.Dims) {
					t.Fatalf("%s: output shape %v, want %v", filepath.Base(set), shape, want.Dims)
				}
				maxAbs, maxDiff := 0.0, 0.0
				for i, w := range want.Data {
					maxAbs = math.Max(maxAbs, math.Abs(float64(w)))
					maxDiff = math.Max(maxDiff, math.Abs(float64(got[i])-float64(w)))
				}
				rel := maxDiff / math.Max(maxAbs, 1e-30)
				if rel > 1e-4 || math.IsNaN(rel) {
					t.Errorf("%s: max |ort-want| = %.3g, %.3g of max |want| = %.3g (limit 1e-4)",
						filepath.Base(set), maxDiff, rel, maxAbs)
				} else {
					t.Logf("%s: input %v output %v, max diff %.3g (rel %.3g)", filepath.Base(set), in.Dims, shape, maxDiff, rel)
				}
			}
		})
	}
}

func TestParseTensorProtoForms(t *testing.T) {
	vals := []float32{1.5, -2, 0, 3.25, 7, -0.125}
	raw := make([]byte, 4*len(vals))
	for i, v := range vals {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	// raw_data, unpacked dims.
	var a []byte
	for _, d := range []uint64{2, 3} {
		a = protowire.AppendTag(a, tpDims, protowire.VarintType)
		a = protowire.AppendVarint(a, d)
	}
	a = protowire.AppendTag(a, tpDataType, protowire.VarintType)
	a = protowire.AppendVarint(a, dtFloat)
	a = protowire.AppendTag(a, tpName, protowire.BytesType)
	a = protowire.AppendString(a, "x")
	a = protowire.AppendTag(a, 99, protowire.VarintType) // unknown field
	a = protowire.AppendVarint(a, 5)
	a = protowire.AppendTag(a, tpRawData, protowire.BytesType)
	a = protowire.AppendBytes(a, raw)
	// packed dims and packed float_data.
	var b, dims []byte
	dims = protowire.AppendVarint(protowire.AppendVarint(dims, 3), 2)
	b = protowire.AppendTag(b, tpDims, protowire.BytesType)
	b = protowire.AppendBytes(b, dims)
	b = protowire.AppendTag(b, tpDataType, protowire.VarintType)
	b = protowire.AppendVarint(b, dtFloat)
	b = protowire.AppendTag(b, tpFloatData, protowire.BytesType)
	b = protowire.AppendBytes(b, raw)
	// unpacked float_data.
	var c []byte
	c = protowire.AppendTag(c, tpDims, protowire.VarintType)
	c = protowire.AppendVarint(c, 6)
	c = protowire.AppendTag(c, tpDataType, protowire.VarintType)
	c = protowire.AppendVarint(c, dtFloat)
	for _, v := range vals {
		c = protowire.AppendTag(c, tpFloatData, protowire.Fixed32Type)
		c = protowire.AppendFixed32(c, math.Float32bits(v))
	}
	for i, tc := range []struct {
		buf  []byte
		dims string
		name string
	}{{a, "[2 3]", "x"}, {b, "[3 2]", ""}, {c, "[6]", ""}} {
		got, err := ParseTensorProto(tc.buf)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if fmt.Sprint(got.Dims) != tc.dims || got.Name != tc.name || fmt.Sprint(got.Data) != fmt.Sprint(vals) {
			t.Errorf("case %d: got %q %v %v", i, got.Name, got.Dims, got.Data)
		}
	}
	// Wrong data type and a short payload are errors.
	var d []byte
	d = protowire.AppendTag(d, tpDims, protowire.VarintType)
	d = protowire.AppendVarint(d, 7)
	d = protowire.AppendTag(d, tpDataType, protowire.VarintType)
	d = protowire.AppendVarint(d, dtFloat)
	d = protowire.AppendTag(d, tpRawData, protowire.BytesType)
	d = protowire.AppendBytes(d, raw)
	if _, err := ParseTensorProto(d); err == nil {
		t.Error("dims/data mismatch: no error")
	}
	e := append([]byte(nil), a...)
	e = protowire.AppendTag(e, tpDataType, protowire.VarintType)
	e = protowire.AppendVarint(e, 7) // INT64
	if _, err := ParseTensorProto(e); err == nil {
		t.Error("INT64 data type: no error")
	}
	if _, err := ParseTensorProto(a[:len(a)-3]); err == nil {
		t.Error("truncated message: no error")
	}
}

// EnvBenchModels names an environment variable holding extra models for
// BenchmarkORT, as a list of .onnx paths separated by the OS list separator
// (':' on Linux); each is timed under the name of its parent folder.
const EnvBenchModels = "PANEONNX_ORT_BENCH_MODELS"

// benchModels lists the models BenchmarkORT times, as name and path; the
// input comes from the model's first test set when it has one, otherwise it
// is random with the model's declared shape (dynamic dimensions set to 1).
func benchModels() [][2]string {
	var out [][2]string
	dir, _ := sharedModelsDir() // absent models are skipped one by one
	for _, name := range []string{"mobilenet_v2_1.0_224_quant", "cifar10_resnet8_mlperf_tiny"} {
		out = append(out, [2]string{name, filepath.Join(dir, name, "model.onnx")})
	}
	if root, err := RepoRoot(); err == nil {
		out = append(out, [2]string{"resnet18", filepath.Join(root, "testmodels", "cache", "resnet18_full_op13", "model.onnx")})
	}
	for _, p := range filepath.SplitList(os.Getenv(EnvBenchModels)) {
		if p != "" {
			out = append(out, [2]string{filepath.Base(filepath.Dir(p)), p})
		}
	}
	return out
}

// BenchmarkORT times ONNX Runtime's forward pass (batch 1, DefaultThreads
// intra-op threads) and reports ms/op.
func BenchmarkORT(b *testing.B) {
	models := benchModels()
	needORT(b)
	for _, m := range models {
		name, path := m[0], m[1]
		b.Run(name, func(b *testing.B) {
			if _, err := os.Stat(path); err != nil {
				b.Skipf("%s absent: %v", path, err)
			}
			var input []float32
			var shape []int64
			if in, err := ReadTensorProto(filepath.Join(filepath.Dir(path), "test_data_set_0", "input_0.pb")); err == nil {
				input, shape = in.Data, in.Dims
			}
			s, err := Open(path, shape)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if input == nil {
				r := rand.New(rand.NewSource(1))
				input = make([]float32, s.InputLen())
				for i := range input {
					input[i] = float32(r.NormFloat64())
				}
			}
			for i := 0; i < 3; i++ { // warm-up
				if _, _, err := s.Run(input); err != nil {
					b.Fatal(err)
				}
			}
			times := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, _, err := s.Run(input); err != nil {
					b.Fatal(err)
				}
				times = append(times, time.Since(t0))
			}
			b.StopTimer()
			sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/op")
			b.ReportMetric(float64(times[len(times)/2].Nanoseconds())/1e6, "median-ms")
		})
	}
}
