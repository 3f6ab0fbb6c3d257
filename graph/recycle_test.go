package graph_test

import (
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// TestRecycledBuffersFullyWritten runs every test model with reused buffers
// poisoned with NaN: an operator that leaves part of its output unwritten
// would leak NaN into the logits. Passes that keep every tensor, passes that
// free them as they go, and passes after Release (which hands a whole pass's
// buffers to the next) must all reproduce PyTorch's output.
func TestRecycledBuffersFullyWritten(t *testing.T) {
	*graph.PoisonRecycled = true
	defer func() { *graph.PoisonRecycled = false }()
	models, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testmodels", "*", "model.onnx"))
	for _, path := range models {
		m, err := importer.Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		data := filepath.Join(filepath.Dir(path), "test_data_set_0")
		_, in, err := importer.ReadTensorFile(filepath.Join(data, "input_0.pb"))
		if err != nil {
			continue // a model without test data (the embedded default)
		}
		_, want, err := importer.ReadTensorFile(filepath.Join(data, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		x := in.Tensor()
		input := append([]float32(nil), x.Data...)
		out := m.Graph.Outputs[0]
		for i, opts := range []graph.RunOptions{{KeepAll: true}, {}, {KeepAll: true}, {}} {
			acts, err := m.Graph.Run(opts, x)
			if err != nil {
				t.Fatal(err)
			}
			if e := graph.RelativeError(acts[out].Data, want.Tensor().Data); !(e <= 1e-4) {
				t.Errorf("%s: run %d (KeepAll %v): output differs from PyTorch's (relative error %g)", path, i, opts.KeepAll, e)
			}
			m.Graph.Release(acts)
		}
		if e := graph.RelativeError(x.Data, input); e != 0 {
			t.Errorf("%s: Release reused the caller's input buffer", path)
		}
	}
}
