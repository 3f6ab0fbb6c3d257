package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/paneonnx/paneonnx/cam"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/internal/testutil"
	"github.com/paneonnx/paneonnx/preprocess"
)

// testMethods are the methods the tests audit: cheap, and two of them
// excitation methods (with completeness).
var testMethods = []string{"iom", "iom-neg", "grad", "gradxinput"}

// digitFolder writes n shifted copies of the embedded model's digit as PNG
// files into a new folder, under class sub-folder "7", and returns it.
func digitFolder(t *testing.T, n int) string {
	t.Helper()
	src := testutil.ReadPNG(t, filepath.Join(testutil.RepoRoot(t), "testmodels", "default", "digit.png"))
	dir := filepath.Join(t.TempDir(), "digits")
	if err := os.MkdirAll(filepath.Join(dir, "7"), 0o755); err != nil {
		t.Fatal(err)
	}
	b := src.Bounds()
	for i := range n {
		dx, dy := i%5-2, i/5%5-2
		dst := image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				sx, sy := x-dx, y-dy
				if image.Pt(sx, sy).In(b) {
					dst.Set(x, y, src.At(sx, sy))
				}
			}
		}
		writePNG(t, filepath.Join(dir, "7", fmt.Sprintf("d%02d.png", i)), dst)
	}
	return dir
}

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// testConfig returns a configuration auditing the embedded model.
func testConfig(t *testing.T, dataset, out string) Config {
	t.Helper()
	m, err := importer.Load(filepath.Join(testutil.RepoRoot(t), "testmodels", "default", "model.onnx"), nil)
	if err != nil {
		t.Fatal(err)
	}
	sidecar, err := preprocess.LoadSidecar(m.Path)
	if err != nil {
		t.Fatal(err)
	}
	opt, _, err := preprocess.Resolve([3]int{1, 28, 28}, sidecar)
	if err != nil {
		t.Fatal(err)
	}
	return Config{Model: m, Pre: opt, Dataset: dataset, Methods: testMethods, Smooth: 3, Out: out, ReportImages: 5,
		Labels: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// checkRecords verifies that results.jsonl holds every image × method
// exactly once.
func checkRecords(t *testing.T, out string, images int, methods []string) {
	t.Helper()
	recs, good, err := readResults(filepath.Join(out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(filepath.Join(out, ResultsFile)); st.Size() != good {
		t.Errorf("results.jsonl has %d bytes after its last complete line", st.Size()-good)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[fmt.Sprintf("%d/%s", r.Index, r.Method)]++
	}
	for i := range images {
		for _, m := range methods {
			if n := seen[fmt.Sprintf("%d/%s", i, m)]; n != 1 {
				t.Errorf("image %d, method %s: %d lines", i, m, n)
			}
		}
	}
	if len(recs) != images*len(methods) {
		t.Errorf("%d lines, want %d", len(recs), images*len(methods))
	}
}

// TestResume interrupts an audit after K results (through the context, as
// SIGINT does), damages the end of results.jsonl as a hard stop can,
// resumes with two workers, and compares the table with that of an
// uninterrupted run byte for byte.
func TestResume(t *testing.T) {
	ds := digitFolder(t, 12)
	ref := filepath.Join(t.TempDir(), "ref")
	sum, err := Run(context.Background(), testConfig(t, ds, ref))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Computed != 12*len(testMethods) || sum.Resumed != 0 {
		t.Fatalf("uninterrupted run: %+v", sum)
	}
	checkRecords(t, ref, 12, testMethods)

	out := filepath.Join(t.TempDir(), "cut")
	ctx, cancel := context.WithCancel(context.Background())
	cfg := testConfig(t, ds, out)
	const k = 7
	cfg.OnRecord = func(n int) {
		if n == k {
			cancel()
		}
	}
	_, err = Run(ctx, cfg)
	if !errors.Is(err, ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	recs, _, err := readResults(filepath.Join(out, ResultsFile))
	if err != nil || len(recs) != k {
		t.Fatalf("after the interruption: %d lines (%v), want %d", len(recs), err, k)
	}
	var info map[string]any
	if err := json.Unmarshal(readFile(t, filepath.Join(out, AuditFile)), &info); err != nil || info["status"] != "interrupted" {
		t.Errorf("audit.json status %v (%v)", info["status"], err)
	}
	if _, err := os.Stat(filepath.Join(out, TableCSV)); err == nil {
		t.Error("an interrupted run wrote table.csv")
	}
	// A line cut short by a hard stop.
	f, err := os.OpenFile(filepath.Join(out, ResultsFile), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"run":"`)
	f.Close()

	if _, err := Run(context.Background(), testConfig(t, ds, out)); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Errorf("a second run into the same folder without Resume: %v", err)
	}
	cfg = testConfig(t, ds, out)
	cfg.Resume, cfg.Workers = true, 2
	sum, err = Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Resumed != k || sum.Computed != 12*len(testMethods)-k {
		t.Errorf("resumed run: %+v", sum)
	}
	checkRecords(t, out, 12, testMethods)
	for _, name := range []string{TableCSV, TableMD} {
		if a, b := readFile(t, filepath.Join(ref, name)), readFile(t, filepath.Join(out, name)); !bytes.Equal(a, b) {
			t.Errorf("%s differs after interruption and resumption:\n%s\n---\n%s", name, a, b)
		}
	}
	// Resuming with other settings is refused.
	cfg = testConfig(t, ds, out)
	cfg.Resume, cfg.Smooth = true, 5
	if _, err := Run(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), "other settings") {
		t.Errorf("resuming with another k: %v", err)
	}
}

// TestTable checks the table against the records: the Win column sums to
// 1, completeness only on the excitation rows, and the report embeds the
// maps.
func TestTable(t *testing.T) {
	ds := digitFolder(t, 6)
	out := t.TempDir()
	sum, err := Run(context.Background(), testConfig(t, ds, out))
	if err != nil {
		t.Fatal(err)
	}
	var win float64
	for _, r := range sum.Table.Summary.Rows {
		win += r.Win
	}
	if win < 1-1e-12 || win > 1+1e-12 {
		t.Errorf("Win column sums to %g", win)
	}
	for _, m := range []string{"iom", "iom-neg"} {
		c := sum.Table.Completeness[m]
		if c == nil || c.Images != 6 || c.MaxResidual > 1e-4 {
			t.Errorf("%s: completeness %+v", m, c)
		}
	}
	for _, m := range []string{"grad", "gradxinput"} {
		if sum.Table.Completeness[m] != nil {
			t.Errorf("%s has completeness statistics", m)
		}
	}
	csv := string(readFile(t, filepath.Join(out, TableCSV)))
	if lines := strings.Split(strings.TrimSpace(csv), "\n"); len(lines) != 2+len(testMethods) ||
		!strings.HasPrefix(lines[0], "method,name,images,avg_area,avg_value,avg_drop,win,confidence_drop") {
		t.Errorf("table.csv:\n%s", csv)
	}
	md := string(readFile(t, filepath.Join(out, TableMD)))
	if !strings.Contains(md, "| Methods | Avg. Area% | Avg. Value | Avg. Drop% | % Win | Confi. Drop |") ||
		!strings.Contains(md, "| No heatmap | - | - |") || !strings.Contains(md, "| IOM |") {
		t.Errorf("table.md:\n%s", md)
	}
	page := string(readFile(t, filepath.Join(out, ReportFile)))
	if n := strings.Count(page, "data:image/png;base64,"); n != 5*(1+len(testMethods)) {
		t.Errorf("report.html embeds %d pictures, want %d", n, 5*(1+len(testMethods)))
	}
	if strings.Count(page, "<svg") != 11 {
		t.Errorf("report.html has %d charts, want 11", strings.Count(page, "<svg"))
	}
	if strings.Contains(page, "src=\"http") || strings.Contains(page, "href=\"http") {
		t.Error("report.html links to the network")
	}
}

// TestSkipped: unreadable images are skipped with a reason, listed in
// audit.json, left out of the table and not retried on resume; labels come
// from the class folders; --target label works.
func TestSkipped(t *testing.T) {
	ds := digitFolder(t, 3)
	if err := os.WriteFile(filepath.Join(ds, "7", "broken.png"), []byte("\x89PNG\r\n\x1a\nnot really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ds, "README.md"), []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	cfg := testConfig(t, ds, out)
	cfg.Target = TargetLabel
	var log bytes.Buffer
	cfg.Log = &log
	sum, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Skipped != 1 || sum.Table.Summary.Images != 3 || !strings.Contains(log.String(), "7/broken.png") {
		t.Errorf("skipped %d, images %d, log %q", sum.Skipped, sum.Table.Summary.Images, log.String())
	}
	for _, im := range sum.Table.Images {
		if im.Label != 7 || im.Target != 7 {
			t.Errorf("%s: label %d, target %d; want 7 from the folder", im.Name, im.Label, im.Target)
		}
	}
	var info struct {
		Skipped []struct{ Image, Reason string }
	}
	if err := json.Unmarshal(readFile(t, filepath.Join(out, AuditFile)), &info); err != nil {
		t.Fatal(err)
	}
	if len(info.Skipped) != 1 || info.Skipped[0].Image != "7/broken.png" || info.Skipped[0].Reason == "" {
		t.Errorf("audit.json skipped: %+v", info.Skipped)
	}
	cfg.Resume = true
	log.Reset()
	if sum, err = Run(context.Background(), cfg); err != nil || sum.Computed != 0 || log.Len() != 0 {
		t.Errorf("resume of a finished audit: %+v, %v, log %q", sum, err, log.String())
	}
}

// TestDatasets opens each kind of data set.
func TestDatasets(t *testing.T) {
	dir := t.TempDir()
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	for _, p := range []string{"flat.png", "cat/a.png", "cat/b.jpg.txt", "dog/c.png", ".hidden/x.png", "cat/deep/y.png"} {
		if err := os.MkdirAll(filepath.Join(dir, "f", filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		writePNG(t, filepath.Join(dir, "f", p), img)
	}
	ds, err := OpenDataset(filepath.Join(dir, "f"), []string{"Dog", "Cat"})
	if err != nil {
		t.Fatal(err)
	}
	got := ""
	for _, it := range ds.Items {
		got += fmt.Sprintf("%s=%d ", it.Name, it.Label)
	}
	if want := "cat/a.png=1 dog/c.png=0 flat.png=-1 "; got != want {
		t.Errorf("folder items %q, want %q", got, want)
	}
	// Without matching labels: sorted positions.
	ds, err = OpenDataset(filepath.Join(dir, "f"), nil)
	if err != nil || ds.Items[0].Label != 0 || ds.Items[1].Label != 1 {
		t.Errorf("folder without labels: %+v, %v", ds, err)
	}
	if _, err := OpenDataset(t.TempDir(), nil); err == nil || !strings.Contains(err.Error(), "no image files") {
		t.Errorf("empty folder: %v", err)
	}

	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte("# images\nf/flat.png\nf/cat/a.png\tcat\nf/dog/c.png 3\n\nf/with space.png\n"), 0o644)
	ds, err = OpenDataset(list, []string{"dog", "cat"})
	if err != nil {
		t.Fatal(err)
	}
	got = ""
	for _, it := range ds.Items {
		got += fmt.Sprintf("%s=%d ", it.Name, it.Label)
	}
	if want := "f/flat.png=-1 f/cat/a.png=1 f/dog/c.png=3 f/with space.png=-1 "; got != want {
		t.Errorf("list items %q, want %q", got, want)
	}
	if _, err := ds.Items[0].Load(preprocess.Options{Size: [2]int{4, 4}, Scale: 1, Std: [3]float32{1, 1, 1}, Channels: 1}); err != nil {
		t.Errorf("loading a listed image: %v", err)
	}
	if _, err := ds.Items[3].Load(preprocess.Options{Size: [2]int{4, 4}, Scale: 1, Std: [3]float32{1, 1, 1}, Channels: 1}); err == nil {
		t.Error("a missing listed image loaded")
	}
	os.WriteFile(list, []byte("a.png\tzebra\n"), 0o644)
	if _, err := OpenDataset(list, []string{"dog"}); err == nil || !strings.Contains(err.Error(), "list.txt:1") {
		t.Errorf("unknown label: %v", err)
	}

	// IDX images with labels beside them; then damaged files.
	idx := func(name string, dims []int, data []byte) string {
		head := []byte{0, 0, 8, byte(len(dims))}
		for _, d := range dims {
			head = append(head, byte(d>>24), byte(d>>16), byte(d>>8), byte(d))
		}
		p := filepath.Join(dir, name)
		os.WriteFile(p, append(head, data...), 0o644)
		return p
	}
	images := idx("x-images-idx3-ubyte", []int{3, 2, 2}, make([]byte, 12))
	idx("x-labels-idx1-ubyte", []int{3}, []byte{4, 5, 6})
	ds, err = OpenDataset(images, nil)
	if err != nil || ds.Kind != "idx" || len(ds.Items) != 3 || ds.Items[2].Label != 6 || ds.Items[2].Name != "x-images-idx3-ubyte#2" {
		t.Fatalf("idx: %+v, %v", ds, err)
	}
	if im, err := ds.Items[1].Load(preprocess.Options{Size: [2]int{2, 2}, Scale: 1, Std: [3]float32{1, 1, 1}, Channels: 1}); err != nil || len(im.Pixels) != 4 {
		t.Errorf("idx image: %v", err)
	}
	idx("x-labels-idx1-ubyte", []int{2}, []byte{4, 5})
	if _, err := OpenDataset(images, nil); err == nil || !strings.Contains(err.Error(), "do not match") {
		t.Errorf("labels of another length: %v", err)
	}
	cut := idx("y-images-idx3-ubyte", []int{3, 2, 2}, make([]byte, 7))
	if _, err := OpenDataset(cut, nil); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("truncated idx: %v", err)
	}
	bin := filepath.Join(dir, "junk.bin")
	os.WriteFile(bin, []byte{1, 2, 0, 3}, 0o644)
	if _, err := OpenDataset(bin, nil); err == nil || !strings.Contains(err.Error(), "binary") {
		t.Errorf("binary junk: %v", err)
	}
	if _, err := OpenDataset(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("a missing data set opened")
	}
}

// TestMNIST audits 10 images of the MNIST test set (shared material) with
// every method of the paper and two workers, under the race detector's eye
// on the shared graph when it runs, and checks that one worker gives the
// same table.
func TestMNIST(t *testing.T) {
	shared := testutil.SharedDir(t)
	ds := filepath.Join(shared, "datasets", "mnist_t10k", "t10k-images-idx3-ubyte.gz")
	if _, err := os.Stat(ds); err != nil {
		t.Skipf("MNIST test set not found: %v", err)
	}
	outs := []string{t.TempDir(), t.TempDir()}
	for i, workers := range []int{2, 1} {
		cfg := testConfig(t, ds, outs[i])
		cfg.Limit, cfg.Workers, cfg.Methods = 10, workers, PaperMethods()
		if len(cfg.Methods) != 9 {
			t.Errorf("the paper's methods: %v", cfg.Methods)
		}
		sum, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Table.Summary.Images != 10 {
			t.Fatalf("%d images audited", sum.Table.Summary.Images)
		}
		for _, im := range sum.Table.Images {
			if im.Label < 0 {
				t.Fatalf("%s has no label: the labels file beside the images was not read", im.Name)
			}
		}
	}
	if a, b := readFile(t, filepath.Join(outs[0], TableCSV)), readFile(t, filepath.Join(outs[1], TableCSV)); !bytes.Equal(a, b) {
		t.Errorf("two workers and one give different tables:\n%s\n---\n%s", a, b)
	}
}

// TestReportInChromium renders report.html in headless Chromium, when it
// is installed, and checks that the screenshot shows a page with pictures.
func TestReportInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed (apt-get install chromium)")
	}
	ds := digitFolder(t, 3)
	out := t.TempDir()
	cfg := testConfig(t, ds, out)
	cfg.Methods = []string{"iom", "grad"}
	if _, err := Run(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(t.TempDir(), "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir="+t.TempDir(),
		"--screenshot="+shot, "--window-size=1400,2000", "file://"+filepath.Join(out, ReportFile))
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, msg)
	}
	img := testutil.ReadPNG(t, shot)
	// The page is mostly white; the table, charts and maps must colour a
	// fair share of it.
	b := img.Bounds()
	var inked, total int
	for y := b.Min.Y; y < b.Max.Y; y += 4 {
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if r < 0xe000 || g < 0xe000 || bl < 0xe000 {
				inked++
			}
			total++
		}
	}
	if frac := float64(inked) / float64(total); frac < 0.03 {
		t.Errorf("the screenshot is %.1f%% non-white: the report did not render", 100*frac)
	}
}
