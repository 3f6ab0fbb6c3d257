package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/internal/testutil"
)

// TestExplainEveryModel runs `paneonnx explain` with the excitation methods
// on the first test set of every test model and shared model, and checks
// the files and the completeness residual in summary.json.
func TestExplainEveryModel(t *testing.T) {
	root := testutil.RepoRoot(t)
	sets, _ := filepath.Glob(filepath.Join(root, "testmodels", "*", "test_data_set_0"))
	if dirExists(filepath.Join(root, "..", "shared", "models")) || os.Getenv("PANEONNX_SHARED") != "" {
		more, _ := filepath.Glob(filepath.Join(testutil.SharedDir(t), "models", "*", "test_data_set_0"))
		sets = append(sets, more...)
	}
	methods := "iom,iom-neg,pane,pane-neg,iomxinput,grad,gradxinput"
	for _, set := range sets {
		model := filepath.Join(filepath.Dir(set), "model.onnx")
		t.Run(filepath.Base(filepath.Dir(set)), func(t *testing.T) {
			out := t.TempDir()
			if err := runCLI(t, "explain", model, "--input-pb", filepath.Join(set, "input_0.pb"), "--method", methods, "--out", out, "--json"); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(filepath.Join(out, "summary.json"))
			if err != nil {
				t.Fatal(err)
			}
			var sum summary
			if err := json.Unmarshal(data, &sum); err != nil {
				t.Fatal(err)
			}
			if len(sum.Images) == 0 {
				t.Fatal("summary lists no image")
			}
			for _, im := range sum.Images {
				for _, tr := range im.Targets {
					if tr.Completeness.Residual > 1e-3 {
						t.Errorf("%s %s: completeness residual %.3g", im.Input, tr.Target, tr.Completeness.Residual)
					}
					for _, f := range []string{"iom.npy", "iom_raw.npy", "iom.png", "iom_signed.png", "iom_jet.png", "pane.npy", "grid"} {
						path, ok := tr.Files[f]
						if !ok {
							t.Errorf("%s: no %s file in the summary", im.Input, f)
							continue
						}
						if st, err := os.Stat(path); err != nil || st.Size() == 0 {
							t.Errorf("%s: %s missing or empty", im.Input, path)
						}
					}
				}
			}
		})
	}
}
