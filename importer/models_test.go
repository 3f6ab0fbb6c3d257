package importer_test

import (
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// modelDirs returns the folders below root holding a model.onnx and test
// data sets.
func modelDirs(root string) []string {
	var dirs []string
	matches, _ := filepath.Glob(filepath.Join(root, "*", "model.onnx"))
	for _, m := range matches {
		if sets, _ := filepath.Glob(filepath.Join(filepath.Dir(m), "test_data_set_*")); len(sets) > 0 {
			dirs = append(dirs, filepath.Dir(m))
		}
	}
	return dirs
}

// checkModel runs every test data set of the model in dir and compares
// with the expected outputs (computed by PyTorch, ≤ 1e-4 relative).
func checkModel(t *testing.T, dir string) {
	m, err := importer.Load(filepath.Join(dir, "model.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	for _, set := range sets {
		_, in, err := importer.ReadTensorFile(filepath.Join(set, "input_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := importer.ReadTensorFile(filepath.Join(set, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		acts, err := m.Graph.Run(graph.RunOptions{}, in.Tensor())
		if err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		got := acts[m.Graph.Outputs[0]]
		if !graph.SameShape(got.Shape, want.Shape) {
			t.Fatalf("%s: output shape %v, expected %v", set, got.Shape, want.Shape)
		}
		if e := testutil.RelErr(got.Data, want.Float32()); e > 1e-4 {
			t.Errorf("%s: relative error %.3g > 1e-4", set, e)
		}
	}
}

func TestSharedModelsForward(t *testing.T) {
	dirs := modelDirs(filepath.Join(testutil.SharedDir(t), "models"))
	if len(dirs) == 0 {
		t.Fatal("no shared models found")
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { t.Parallel(); checkModel(t, dir) })
	}
}

func TestTestModelsForward(t *testing.T) {
	root := filepath.Join(testutil.RepoRoot(t), "testmodels")
	dirs := modelDirs(root)
	if len(dirs) == 0 {
		t.Fatalf("no models under %s", root)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) { t.Parallel(); checkModel(t, dir) })
	}
}
