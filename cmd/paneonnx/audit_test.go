package main

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paneonnx/paneonnx/internal/testutil"
)

// auditDataset returns 20 MNIST test images (an idx file from the shared
// material) or, without it, a folder of 20 shifted copies of the embedded
// digit.
func auditDataset(t *testing.T) []string {
	t.Helper()
	root := testutil.RepoRoot(t)
	idx := filepath.Join(root, "..", "shared", "datasets", "mnist_t10k", "t10k-images-idx3-ubyte.gz")
	if s := os.Getenv("PANEONNX_SHARED"); s != "" {
		idx = filepath.Join(s, "datasets", "mnist_t10k", "t10k-images-idx3-ubyte.gz")
	}
	if _, err := os.Stat(idx); err == nil {
		return []string{idx, "--limit", "20"}
	}
	src := testutil.ReadPNG(t, filepath.Join(root, "testmodels", "default", "digit.png"))
	dir := t.TempDir()
	b := src.Bounds()
	for i := range 20 {
		dst := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				if p := image.Pt(x-i%5+2, y-i/5+2); p.In(b) {
					dst.Set(x, y, src.At(p.X, p.Y))
				}
			}
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, dst); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("d%02d.png", i)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return []string{dir}
}

// TestAuditSignals runs the built binary: an audit stopped by SIGINT exits
// with code 130 after flushing, one stopped by SIGKILL loses at most the
// line being written; both, resumed, write exactly the table.csv of an
// uninterrupted audit, and results.jsonl holds every pair once.
func TestAuditSignals(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "paneonnx")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	model := filepath.Join(testutil.RepoRoot(t), "testmodels", "default", "model.onnx")
	data := auditDataset(t)
	const methods = "iom,iom-neg,grad,gradxinput"
	// --batch 1 makes every pair take long enough to be interrupted.
	args := func(out string, extra ...string) []string {
		a := append([]string{"audit", model}, data...)
		return append(append(a, "--methods", methods, "--out", out, "--batch", "1", "--report-images", "3"), extra...)
	}
	ref := filepath.Join(t.TempDir(), "ref")
	if out, err := exec.Command(bin, args(ref)...).CombinedOutput(); err != nil {
		t.Fatalf("uninterrupted audit: %v\n%s", err, out)
	}
	want, err := os.ReadFile(filepath.Join(ref, "table.csv"))
	if err != nil {
		t.Fatal(err)
	}

	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGKILL} {
		t.Run(sig.String(), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "audit")
			cmd := exec.Command(bin, args(out)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			results := filepath.Join(out, "results.jsonl")
			deadline := time.Now().Add(2 * time.Minute)
			for lines(results) < 10 {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("no results after 2 minutes")
				}
				time.Sleep(5 * time.Millisecond)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the stopped audit exited with %v\n%s", err, stderr.String())
			}
			if sig == syscall.SIGINT {
				if exit.ExitCode() != exitInterrupted || !strings.Contains(stderr.String(), "--resume") {
					t.Errorf("after SIGINT: exit code %d, stderr:\n%s", exit.ExitCode(), stderr.String())
				}
				if data, _ := os.ReadFile(results); len(data) > 0 && data[len(data)-1] != '\n' {
					t.Error("after SIGINT results.jsonl ends in a partial line")
				}
			}
			n := lines(results)
			if n >= 80 {
				t.Skipf("the audit finished (%d lines) before the signal took effect", n)
			}
			if out, err := exec.Command(bin, args(out, "--resume")...).CombinedOutput(); err != nil {
				t.Fatalf("resumed audit: %v\n%s", err, out)
			}
			got, err := os.ReadFile(filepath.Join(out, "table.csv"))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("table.csv after %s and --resume differs:\n%s\n---\n%s", sig, got, want)
			}
			seen := map[string]int{}
			data, _ := os.ReadFile(results)
			for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				i := strings.Index(line, `"index":`)
				j := strings.Index(line, `"method":`)
				if i < 0 || j < 0 {
					t.Fatalf("odd line %q", line)
				}
				seen[line[i:strings.IndexByte(line[i:], ',')+i]+line[j:strings.IndexByte(line[j:], ',')+j]]++
			}
			if len(seen) != 80 {
				t.Errorf("%d distinct image × method pairs, want 80", len(seen))
			}
			for k, c := range seen {
				if c != 1 {
					t.Errorf("%s: %d lines", k, c)
				}
			}
		})
	}
}

// lines counts the complete lines of a file (0 when it does not exist).
func lines(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return bytes.Count(data, []byte{'\n'})
}
