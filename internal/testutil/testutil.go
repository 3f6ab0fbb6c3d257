// Package testutil holds helpers shared by the tests: locating the
// repository and the shared test material, loading a test model, and
// comparing tensors.
package testutil

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
)

// RepoRoot returns the repository root (the folder holding go.mod).
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's folder")
		}
		dir = parent
	}
}

// SharedDir returns the shared test material folder ($PANEONNX_SHARED, else
// ../shared beside the repository), skipping the test when it is absent.
func SharedDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("PANEONNX_SHARED")
	if dir == "" {
		dir = filepath.Join(RepoRoot(t), "..", "shared")
	}
	if _, err := os.Stat(filepath.Join(dir, "models")); err != nil {
		t.Skipf("shared test material not found at %s (set PANEONNX_SHARED): %v", dir, err)
	}
	return dir
}

// RelErr is graph.RelativeError, the comparison every forward test uses.
func RelErr(got, want []float32) float64 { return graph.RelativeError(got, want) }

// LoadModel imports dir/model.onnx and reads the input of its
// test_data_set_0 (input_0.pb), failing the test on any error.
func LoadModel(t testing.TB, dir string) (*importer.Model, *graph.Tensor) {
	t.Helper()
	m, err := importer.Load(filepath.Join(dir, "model.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, in, err := importer.ReadTensorFile(filepath.Join(dir, "test_data_set_0", "input_0.pb"))
	if err != nil {
		t.Fatal(err)
	}
	return m, in.Tensor()
}

// ReadPNG decodes the PNG file at path, failing the test on any error.
func ReadPNG(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
