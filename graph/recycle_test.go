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
// would leak NaN into the logits. The result must equal a pass that keeps
// every tensor (fresh buffers).
func TestRecycledBuffersFullyWritten(t *testing.T) {
	*graph.PoisonRecycled = true
	defer func() { *graph.PoisonRecycled = false }()
	models, _ := filepath.Glob(filepath.Join(testutil.RepoRoot(t), "testmodels", "*", "model.onnx"))
	for _, path := range models {
		m, err := importer.Load(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, in, err := importer.ReadTensorFile(filepath.Join(filepath.Dir(path), "test_data_set_0", "input_0.pb"))
		if err != nil {
			continue // a model without test data (the embedded default)
		}
		fresh, err := m.Graph.Run(graph.RunOptions{KeepAll: true}, in.Tensor())
		if err != nil {
			t.Fatal(err)
		}
		reused, err := m.Graph.Run(graph.RunOptions{}, in.Tensor())
		if err != nil {
			t.Fatal(err)
		}
		out := m.Graph.Outputs[0]
		if e := graph.RelativeError(reused[out].Data, fresh[out].Data); e != 0 {
			t.Errorf("%s: output with reused buffers differs (relative error %g)", path, e)
		}
	}
}
