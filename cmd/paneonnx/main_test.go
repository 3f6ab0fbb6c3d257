package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
)

// runCLI runs the command line in-process.
func runCLI(t *testing.T, args ...string) error {
	t.Helper()
	return newApp().Run(context.Background(), append([]string{"paneonnx"}, args...))
}

// TestRunInputPB runs `paneonnx run MODEL --input-pb --save-output` on every
// test set of every test model (and the shared models when present) and
// compares the written TensorProto with the expected output.
func TestRunInputPB(t *testing.T) {
	var dirs []string
	root := testutil.RepoRoot(t)
	sets, _ := filepath.Glob(filepath.Join(root, "testmodels", "*", "test_data_set_*"))
	if shared := os.Getenv("PANEONNX_SHARED"); shared != "" || dirExists(filepath.Join(root, "..", "shared", "models")) {
		more, _ := filepath.Glob(filepath.Join(testutil.SharedDir(t), "models", "*", "test_data_set_*"))
		sets = append(sets, more...)
	}
	dirs = append(dirs, sets...)
	if len(dirs) == 0 {
		t.Fatal("no test sets found")
	}
	for _, set := range dirs {
		out := filepath.Join(t.TempDir(), "out.pb")
		model := filepath.Join(filepath.Dir(set), "model.onnx")
		if err := runCLI(t, "run", model, "--input-pb", filepath.Join(set, "input_0.pb"), "--save-output", out, "--json"); err != nil {
			t.Fatalf("%s: %v", set, err)
		}
		_, got, err := importer.ReadTensorFile(out)
		if err != nil {
			t.Fatal(err)
		}
		_, want, err := importer.ReadTensorFile(filepath.Join(set, "output_0.pb"))
		if err != nil {
			t.Fatal(err)
		}
		if e := testutil.RelErr(got.Float32(), want.Float32()); e > 1e-4 {
			t.Errorf("%s: relative error %.3g", set, e)
		}
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// TestBadInputExitCodes runs the built binary on bad input: each must fail
// with exit code 1 and a message naming the problem, never a panic.
func TestBadInputExitCodes(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "paneonnx")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	root := testutil.RepoRoot(t)
	model := filepath.Join(root, "testmodels", "default", "model.onnx")
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	corruptImage := write("corrupt.png", []byte("\x89PNG\r\n\x1a\nthis is not a png"))
	truncated := write("truncated.onnx", good[:len(good)/3])
	garbage := write("garbage.onnx", []byte("definitely not onnx"))
	rgb := filepath.Join(root, "..", "shared", "images", "coral_cat.png")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"image does not decode", []string{"run", model, corruptImage}, "corrupt.png"},
		{"missing image", []string{"run", model, filepath.Join(dir, "nope.png")}, "nope.png"},
		{"truncated model", []string{"run", truncated, corruptImage}, "truncated.onnx"},
		{"garbage model", []string{"layers", garbage}, "not a valid ONNX model"},
		{"missing model", []string{"explain", filepath.Join(dir, "nope.onnx"), corruptImage}, "nope.onnx"},
		{"unknown method", []string{"explain", model, corruptImage, "--method", "bogus"}, "unknown method"},
		{"bad class", []string{"explain", "--class", "99", model, filepath.Join(root, "testmodels", "default", "digit.png")}, "--class 99"},
		{"rgb image for a grey model with wrong channels", []string{"run", model, rgb, "--channels", "3"}, "channels"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.name == "rgb image for a grey model with wrong channels" && !dirExists(filepath.Dir(rgb)) {
				t.Skip("shared images absent")
			}
			cmd := exec.Command(bin, c.args...)
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() != exitError {
				t.Fatalf("want exit code %d, got %v\n%s", exitError, err, out)
			}
			if strings.Contains(string(out), "goroutine") || strings.Contains(string(out), "panic") {
				t.Fatalf("panicked:\n%s", out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Errorf("message does not mention %q:\n%s", c.want, out)
			}
		})
	}
}

// TestCheckExitCodes runs `paneonnx check`: 0 on a good model, 2 when a
// check fails (a forward tolerance of 0 cannot be met by float32 rounding
// against PyTorch's outputs).
func TestCheckExitCodes(t *testing.T) {
	model := filepath.Join(testutil.RepoRoot(t), "testmodels", "resnet_basic_op13", "model.onnx")
	if err := runCLI(t, "check", model); err != nil {
		t.Fatalf("check of a good model failed: %v", err)
	}
	err := runCLI(t, "check", model, "--tolerance", "0", "--json")
	var ec interface{ ExitCode() int }
	if !errors.As(err, &ec) || ec.ExitCode() != exitCheck {
		t.Fatalf("want exit code %d for a failed check, got %v", exitCheck, err)
	}
}
