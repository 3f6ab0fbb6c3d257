package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/paneonnx/paneonnx/internal/testutil"
)

// TestLayersMarksCAMTargets runs `paneonnx layers --json` on the small
// ResNet and checks the CAM marks: the last block's ReLU output is the
// default, the first conv of that block the penultimate convolution, and
// neither the input nor the 2-D head tensors are candidates.
func TestLayersMarksCAMTargets(t *testing.T) {
	infos := layersJSON(t, filepath.Join(testutil.RepoRoot(t), "testmodels", "resnet_basic_op13", "model.onnx"))
	var def, penult []string
	candidates := 0
	for _, li := range infos {
		if li.CAMDefault {
			def = append(def, li.Name)
		}
		if li.CAMPenultimateConv {
			penult = append(penult, li.Name)
		}
		if li.CAMCandidate {
			candidates++
			if li.Op == "input" || len(li.Shape) != 4 {
				t.Errorf("%s (%s, %v) marked as a CAM candidate", li.Name, li.Op, li.Shape)
			}
		}
		if li.CAMDefault && !li.CAMCandidate {
			t.Errorf("default %s is not marked as a candidate", li.Name)
		}
	}
	if len(def) != 1 || def[0] != "/layer4/layer4.0/relu_1/Relu_output_0" {
		t.Errorf("default CAM layers %v", def)
	}
	if len(penult) != 1 || penult[0] != "/layer4/layer4.0/conv1/Conv_output_0" {
		t.Errorf("penultimate-conv layers %v", penult)
	}
	if candidates < 10 {
		t.Errorf("only %d candidates", candidates)
	}
}

// TestLayersMarksFolded checks that the explicit paddings of the shared
// ResNet-8 (exported from TensorFlow) are marked folded and are not CAM
// candidates, and that every other tensor is computed.
func TestLayersMarksFolded(t *testing.T) {
	infos := layersJSON(t, filepath.Join(testutil.SharedDir(t), "models", "cifar10_resnet8_mlperf_tiny", "model.onnx"))
	folded := 0
	for _, li := range infos {
		if li.Folded != (li.Op == "Pad") {
			t.Errorf("%s (%s): folded %v", li.Name, li.Op, li.Folded)
		}
		if li.Folded {
			folded++
			if li.CAMCandidate {
				t.Errorf("folded %s is a CAM candidate", li.Name)
			}
		}
	}
	if folded != 2 {
		t.Errorf("%d folded tensors, want the 2 paddings", folded)
	}
}

// layersJSON runs `paneonnx layers --json` on model.
func layersJSON(t *testing.T, model string) []layerInfo {
	t.Helper()
	out := filepath.Join(t.TempDir(), "layers.json")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = f
	err = runCLI(t, "layers", "--json", model)
	os.Stdout = stdout
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var infos []layerInfo
	if err := json.Unmarshal(data, &infos); err != nil {
		t.Fatalf("%v in %s", err, data)
	}
	return infos
}
