package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/iom"
	"github.com/paneonnx/paneonnx/metrics"
	"github.com/paneonnx/paneonnx/preprocess"
	"github.com/paneonnx/paneonnx/render"
	"github.com/paneonnx/paneonnx/saliency"
)

// Target rules.
const (
	TargetPredicted = "predicted" // the class with the largest logit
	TargetLabel     = "label"     // the data set's label
)

// File names in the output folder.
const (
	ResultsFile = "results.jsonl"
	TableMD     = "table.md"
	TableCSV    = "table.csv"
	ReportFile  = "report.html"
	AuditFile   = "audit.json"
	mapsDir     = "maps"
)

// ErrInterrupted is returned (wrapped) when the context is cancelled before
// every pair was computed; everything computed so far is in results.jsonl.
var ErrInterrupted = errors.New("audit interrupted")

// Config describes one audit.
type Config struct {
	Model *importer.Model
	// Pre is the preprocessing of the model's input.
	Pre preprocess.Options
	// TensorSpace makes the perturbations on the model input rather than on
	// the pixels.
	TensorSpace bool
	// Dataset is the data set's path (see OpenDataset).
	Dataset string
	// Methods are registered saliency method names, in table order.
	Methods []string
	// Labels are the model's class names (may be nil).
	Labels []string
	// Target is TargetPredicted (default when empty) or TargetLabel.
	Target string
	// Smooth is IOM's box filter size k; TargetLayer the CAM layer ("" for
	// the default rule).
	Smooth      int
	TargetLayer string
	// Limit audits only the first Limit images (0: all).
	Limit int
	// Workers is the number of images processed in parallel (0: 1).
	Workers int
	// Batch is the forward batch of the perturbed images (0: automatic).
	Batch int
	// Out is the output folder.
	Out string
	// Resume continues the audit in Out; without it an existing
	// results.jsonl is an error.
	Resume bool
	// ReportImages is the number of images shown in report.html (0: 50,
	// negative: none).
	ReportImages int
	// Version is the program version recorded in audit.json.
	Version string
	// Progress receives a progress bar; nil: none.
	Progress io.Writer
	// Log receives one line per skipped image; nil: discarded.
	Log io.Writer
	// OnRecord, when set, is called after each record is written, with the
	// number written so far in this run.
	OnRecord func(written int)
}

// Summary is what Run returns.
type Summary struct {
	Pairs, Resumed, Computed, Skipped int
	Table                             *Table
	Elapsed                           time.Duration
}

// DefaultReportImages is the number of images report.html shows by default.
const DefaultReportImages = 50

// Run runs the audit. It returns an error wrapping ErrInterrupted when ctx
// is cancelled first.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	start := time.Now()
	a, err := newAuditor(cfg)
	if err != nil {
		return nil, err
	}
	defer a.w.close()
	if err := a.writeInfo("running", time.Since(start)); err != nil {
		return nil, err
	}
	sum := &Summary{Pairs: a.pairs, Resumed: a.resumed}
	err = a.run(ctx)
	sum.Computed, sum.Skipped = a.computed, len(a.skipped)
	if err != nil {
		status := "failed"
		if errors.Is(err, ErrInterrupted) {
			status = "interrupted"
		}
		if werr := a.writeInfo(status, time.Since(start)); werr != nil {
			err = errors.Join(err, werr)
		}
		return sum, err
	}
	t0 := time.Now()
	sum.Table, err = a.finish()
	if err != nil {
		return sum, err
	}
	a.timings.add("tables_and_report", time.Since(t0))
	sum.Elapsed = time.Since(start)
	return sum, a.writeInfo("complete", sum.Elapsed)
}

// auditor is the state of one Run.
type auditor struct {
	cfg         Config
	ds          *Dataset
	g           *graph.Graph
	chw         []int
	ev          *metrics.Evaluator
	methods     []saliency.Method
	opts        saliency.Options
	fingerprint string // settings fingerprint
	protocol    map[string]any
	n           int // images audited (after Limit)
	w           *resultsWriter
	done        map[int]map[string]bool
	skipped     []Record
	pairs       int // image × method pairs in this audit
	resumed     int // pairs found in results.jsonl
	computed    int
	written     int
	mu          sync.Mutex
	timings     timings
	// pairTimes summarises Record.Seconds of results.jsonl by method (set
	// when the table is made, so it covers resumed runs too).
	pairTimes map[string]pairTime
	model     map[string]any
}

func newAuditor(cfg Config) (*auditor, error) {
	if cfg.Model == nil {
		return nil, errors.New("audit: no model")
	}
	if cfg.Target == "" {
		cfg.Target = TargetPredicted
	}
	if cfg.Target != TargetPredicted && cfg.Target != TargetLabel {
		return nil, fmt.Errorf("audit: target rule %q (want %s or %s)", cfg.Target, TargetPredicted, TargetLabel)
	}
	if len(cfg.Methods) == 0 {
		return nil, errors.New("audit: no methods")
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
	if cfg.ReportImages == 0 {
		cfg.ReportImages = DefaultReportImages
	}
	if err := cfg.Pre.Validate(); err != nil {
		return nil, err
	}
	a := &auditor{cfg: cfg, opts: saliency.Options{Smooth: cfg.Smooth, TargetLayer: cfg.TargetLayer}}
	seen := map[string]bool{}
	for _, name := range cfg.Methods {
		m, err := saliency.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("audit: %w", err)
		}
		if seen[m.Name()] {
			return nil, fmt.Errorf("audit: method %q given twice", name)
		}
		seen[m.Name()] = true
		a.methods = append(a.methods, m)
	}
	a.g = excitation.Canonical(cfg.Model.Graph)
	a.chw = []int{cfg.Pre.Channels, cfg.Pre.Size[0], cfg.Pre.Size[1]}
	if decl := cfg.Model.Graph.InputShapes[0]; len(decl) != 4 {
		return nil, fmt.Errorf("audit: the model's input %v is not an N×C×H×W image batch", decl)
	} else {
		for i := 1; i < 4; i++ {
			if decl[i] >= 0 && decl[i] != a.chw[i-1] {
				return nil, fmt.Errorf("audit: the model expects input %v (N first), preprocessing gives %v; adjust --channels or --size", decl, a.chw)
			}
		}
	}
	a.ev = &metrics.Evaluator{Model: metrics.NewGraphModel(a.g, a.chw), Batch: cfg.Batch}
	if !cfg.TensorSpace {
		a.ev.Pre = &cfg.Pre
	}
	ds, err := OpenDataset(cfg.Dataset, cfg.Labels)
	if err != nil {
		return nil, err
	}
	a.ds = ds
	a.n = len(ds.Items)
	if cfg.Limit > 0 {
		a.n = min(a.n, cfg.Limit)
	}
	if err := a.describe(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(cfg.Out, mapsDir), 0o755); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	resPath := filepath.Join(cfg.Out, ResultsFile)
	if _, err := os.Stat(resPath); err == nil && !cfg.Resume {
		return nil, fmt.Errorf("audit: %s exists; pass --resume to continue that audit, or choose another --out", resPath)
	}
	recs, good, err := readResults(resPath)
	if err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	a.done = map[int]map[string]bool{}
	for _, r := range recs {
		if err := a.checkRecord(&r); err != nil {
			return nil, err
		}
		if r.Index >= a.n {
			continue
		}
		if r.Skipped != "" {
			a.skipped = append(a.skipped, r)
			a.done[r.Index] = nil
			continue
		}
		if a.done[r.Index] == nil {
			if _, skip := a.done[r.Index]; skip {
				continue
			}
			a.done[r.Index] = map[string]bool{}
		}
		if seen[r.Method] && !a.done[r.Index][r.Method] {
			a.done[r.Index][r.Method] = true
			a.resumed++
		}
	}
	a.pairs = a.n * len(a.methods)
	if a.w, err = openResults(resPath, good); err != nil {
		return nil, fmt.Errorf("audit: %w", err)
	}
	return a, nil
}

// checkRecord verifies that a record of results.jsonl belongs to this audit.
func (a *auditor) checkRecord(r *Record) error {
	if r.Run != a.fingerprint {
		return fmt.Errorf("audit: %s was written with other settings (fingerprint %s, now %s: model, data set, preprocessing, space, target rule, k or layer changed); use another --out",
			filepath.Join(a.cfg.Out, ResultsFile), r.Run, a.fingerprint)
	}
	if r.Index < 0 || r.Index >= len(a.ds.Items) || a.ds.Items[r.Index].Name != r.Image {
		return fmt.Errorf("audit: %s names image %d %q, which the data set does not have at that position; use another --out",
			filepath.Join(a.cfg.Out, ResultsFile), r.Index, r.Image)
	}
	return nil
}

// describe builds the protocol and the settings fingerprint.
func (a *auditor) describe() error {
	data, err := os.ReadFile(a.cfg.Model.Path)
	if err != nil {
		return fmt.Errorf("audit: model: %w", err)
	}
	digest := sha256.Sum256(data)
	abs, err := filepath.Abs(a.cfg.Dataset)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	space := "pixel"
	if a.cfg.TensorSpace {
		space = "tensor"
	}
	// A pass on a blank input gives the methods' protocols (the CAM layer).
	blank := graph.New(append([]int{1}, a.chw...)...)
	pass, err := saliency.NewPass(a.g, blank)
	if err != nil {
		return fmt.Errorf("audit: forward pass: %w", err)
	}
	methods := map[string]any{}
	for _, m := range a.methods {
		methods[m.Name()] = m.Protocol(pass, a.opts)
	}
	settings := map[string]any{
		"model_sha256": hex.EncodeToString(digest[:]),
		"dataset":      abs,
		"preprocess":   a.cfg.Pre,
		"space":        space,
		"target_rule":  a.cfg.Target,
		"smooth_k":     a.cfg.Smooth,
		"target_layer": a.cfg.TargetLayer,
		"metrics":      a.ev.Protocol(a.chw[1], a.chw[2]),
	}
	fp, err := json.Marshal(settings) // map keys are sorted: stable
	if err != nil {
		return err
	}
	sum := sha256.Sum256(fp)
	a.fingerprint = hex.EncodeToString(sum[:8])
	settings["fingerprint"] = a.fingerprint
	settings["methods"] = methods
	settings["preprocess_description"] = describePre(a.cfg.Pre)
	delete(settings, "model_sha256")
	a.protocol = settings
	a.model = map[string]any{"path": a.cfg.Model.Path, "sha256": hex.EncodeToString(digest[:]), "input_chw": a.chw,
		"logits": pass.Logits, "batchnorm_folded": len(a.cfg.Model.Graph.Nodes) - len(a.g.Nodes),
		"classes": len(pass.Acts[pass.Logits].Data), "opset": a.cfg.Model.Opset, "producer": a.cfg.Model.Producer}
	return nil
}

func describePre(o preprocess.Options) string {
	return fmt.Sprintf("%s to %dx%d, %d channel(s), x = (p*%g - mean)/std with mean %v, std %v", o.Resize, o.Size[0], o.Size[1], o.Channels, o.Scale, o.Mean[:o.Channels], o.Std[:o.Channels])
}

// run computes every missing pair, cfg.Workers images at a time.
func (a *auditor) run(ctx context.Context) error {
	var todo []int
	remaining := 0
	for i := range a.n {
		done, ok := a.done[i]
		if ok && done == nil {
			continue // skipped earlier
		}
		if len(done) < len(a.methods) {
			todo = append(todo, i)
			remaining += len(a.methods) - len(done)
		}
	}
	var bar *progressbar.ProgressBar
	if a.cfg.Progress != nil && remaining > 0 {
		bar = progressbar.NewOptions(remaining, progressbar.OptionSetWriter(a.cfg.Progress),
			progressbar.OptionSetDescription("audit"), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("maps"), progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
		defer bar.Finish()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range a.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := a.image(ctx, i, bar); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, i := range todo {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w after %d new results (%d of %d pairs done): %w", ErrInterrupted, a.written, a.resumed+a.computed, a.pairs, err)
		}
		return err
	}
	return nil
}

// image audits the missing methods of image i.
func (a *auditor) image(ctx context.Context, i int, bar *progressbar.ProgressBar) error {
	if ctx.Err() != nil {
		return nil
	}
	item := a.ds.Items[i]
	base := Record{Run: a.fingerprint, Index: i, Image: item.Name, Label: item.Label}
	skip := func(reason string) error {
		r := base
		r.Skipped = reason
		if a.cfg.Log != nil {
			if bar != nil {
				bar.Clear()
			}
			fmt.Fprintf(a.cfg.Log, "audit: skipping image %d (%s): %s\n", i, item.Name, reason)
		}
		a.mu.Lock()
		a.skipped = append(a.skipped, r)
		a.mu.Unlock()
		if bar != nil {
			bar.Add(len(a.methods) - len(a.done[i]))
		}
		return a.emit(&r)
	}
	t0 := time.Now()
	img, err := item.Load(a.cfg.Pre)
	if err != nil {
		return skip(err.Error())
	}
	x, err := graph.FromData(append([]int{1}, a.chw...), img.Tensor)
	if err != nil {
		return skip(err.Error())
	}
	a.timings.add("load", time.Since(t0))
	t0 = time.Now()
	pass, err := saliency.NewPass(a.g, x)
	if err != nil {
		return fmt.Errorf("image %d (%s): forward pass: %w", i, item.Name, err)
	}
	defer pass.Release()
	logits := pass.Acts[pass.Logits].Data
	pred := 0
	for k, v := range logits {
		if v > logits[pred] {
			pred = k
		}
	}
	target := pred
	if a.cfg.Target == TargetLabel {
		if item.Label < 0 || item.Label >= len(logits) {
			return skip(fmt.Sprintf("label %d is not one of the model's %d classes", item.Label, len(logits)))
		}
		target = item.Label
	}
	base.Predicted, base.Target = pred, target
	mimg := &metrics.Image{X: img.Pixels, C: img.C, H: img.H, W: img.W, Target: target}
	if a.cfg.TensorSpace {
		mimg.X = img.Tensor
	}
	ref, err := a.ev.Reference(ctx, mimg)
	if err != nil {
		return a.fail(ctx, i, item, "reference", err)
	}
	base.Logit, base.Y, base.NoHeatmap = ref.Logit, ref.Y, ref.NoHeatmap
	a.timings.add("forward_and_reference", time.Since(t0))

	var comp *Completeness
	photo := render.Map{C: img.C, H: img.H, W: img.W, Data: img.Pixels}
	show := i < a.cfg.ReportImages
	if show {
		if err := savePhoto(a.mapPath(i, "photo"), photo); err != nil {
			return err
		}
	}
	for _, m := range a.methods {
		if a.done[i][m.Name()] {
			continue
		}
		if ctx.Err() != nil {
			return nil
		}
		if comp == nil && excitationMethod(m, pass, a.opts) {
			t0 = time.Now()
			cs, err := metrics.Completeness(pass, []int{target})
			if err != nil {
				return fmt.Errorf("image %d (%s): %w", i, item.Name, err)
			}
			c := cs[0]
			comp = &Completeness{Residual: c.Residual(), EPos: c.EPos, ENeg: c.ENeg, SplitResidual: c.SplitResidual()}
			a.timings.add("completeness", time.Since(t0))
		}
		t0 = time.Now()
		maps, err := m.Maps(pass, []int{target}, a.opts)
		if err != nil {
			return fmt.Errorf("image %d (%s), method %s: %w", i, item.Name, m.Name(), err)
		}
		a.timings.add("maps/"+m.Name(), time.Since(t0))
		t1 := time.Now()
		res, err := a.ev.Evaluate(ctx, mimg, ref, maps[0])
		if err != nil {
			return a.fail(ctx, i, item, m.Name(), err)
		}
		a.timings.add("metrics/"+m.Name(), time.Since(t1))
		if show {
			if err := saveView(a.mapPath(i, m.Name()), photo, maps[0], isIOM(m.Name())); err != nil {
				return fmt.Errorf("image %d (%s), method %s: %w", i, item.Name, m.Name(), err)
			}
		}
		r := base
		r.Method = m.Name()
		r.O, r.OProduct, r.OMasked, r.MaskedFraction = res.O, res.OProduct, res.OMasked, res.MaskedFraction
		r.Area, r.Value = res.Area, res.Value
		r.DeletionAUC, r.InsertionAUC = res.DeletionAUC, res.InsertionAUC
		r.Elements = len(maps[0].Data)
		r.Deletion, r.Insertion = to32(res.Deletion), to32(res.Insertion)
		if excitationMethod(m, pass, a.opts) {
			r.Completeness = comp
		}
		r.Seconds = time.Since(t0).Seconds()
		if err := a.emit(&r); err != nil {
			return err
		}
		if bar != nil {
			bar.Add(1)
		}
	}
	return nil
}

// fail turns an evaluation error into nil when the context was cancelled
// (the pair is simply not written) and names the image otherwise.
func (a *auditor) fail(ctx context.Context, i int, item Item, what string, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("image %d (%s), %s: %w", i, item.Name, what, err)
}

// emit writes a record and counts it.
func (a *auditor) emit(r *Record) error {
	if err := a.w.write(r); err != nil {
		return err
	}
	a.mu.Lock()
	a.written++
	if r.Skipped == "" {
		a.computed++
	}
	n := a.written
	a.mu.Unlock()
	if a.cfg.OnRecord != nil {
		a.cfg.OnRecord(n)
	}
	return nil
}

func to32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// excitationMethod reports whether a method is built on the excitation
// engine (its protocol names an excitation mode), so that the completeness
// of the decomposition belongs to its rows.
func excitationMethod(m saliency.Method, p *saliency.Pass, opt saliency.Options) bool {
	mode, _ := m.Protocol(p, opt)["mode"].(string)
	switch mode {
	case excitation.ExcPos.String(), excitation.ExcNeg.String(), excitation.RelNeg.String(), excitation.Full.String():
		return true
	}
	return false
}

// isIOM reports whether a method is one of package iom's per-channel maps,
// drawn in the paper's |map| view rather than the CAM jet overlay.
func isIOM(name string) bool {
	for _, m := range iom.Methods {
		if string(m) == name {
			return true
		}
	}
	return false
}

func (a *auditor) mapPath(i int, what string) string {
	return filepath.Join(a.cfg.Out, mapsDir, fmt.Sprintf("%06d_%s.png", i, what))
}

// pairTime is the time one method's pairs took, over every run.
type pairTime struct {
	Pairs        int     `json:"pairs"`
	TotalSeconds float64 `json:"total_seconds"`
	MeanSeconds  float64 `json:"mean_seconds"`
}

// timings sums durations by name; safe for concurrent use.
type timings struct {
	mu sync.Mutex
	d  map[string]time.Duration
}

func (t *timings) add(name string, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.d == nil {
		t.d = map[string]time.Duration{}
	}
	t.d[name] += d
}

func (t *timings) seconds() map[string]float64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := map[string]float64{}
	for k, v := range t.d {
		out[k] = v.Seconds()
	}
	return out
}

// writeInfo writes audit.json.
func (a *auditor) writeInfo(status string, elapsed time.Duration) error {
	versions := map[string]string{"paneonnx": a.cfg.Version, "go": runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			versions[d.Path] = d.Version
		}
	}
	var skipped []map[string]any
	sort.Slice(a.skipped, func(i, j int) bool { return a.skipped[i].Index < a.skipped[j].Index })
	for _, r := range a.skipped {
		skipped = append(skipped, map[string]any{"index": r.Index, "image": r.Image, "reason": r.Skipped})
	}
	var names []string
	for _, m := range a.methods {
		names = append(names, m.Name())
	}
	info := map[string]any{
		"status":   status,
		"versions": versions,
		"model":    a.model,
		"dataset": map[string]any{"path": a.ds.Path, "kind": a.ds.Kind, "images": len(a.ds.Items), "audited": a.n,
			"labels": a.ds.LabelSource},
		"protocol": a.protocol,
		"methods":  names,
		"counts": map[string]any{"pairs": a.pairs, "resumed": a.resumed, "computed_now": a.computed,
			"skipped_images": len(a.skipped)},
		"skipped": skipped,
		"workers": a.cfg.Workers,
		"timings_seconds": map[string]any{"elapsed_this_run": elapsed.Seconds(),
			"summed_over_workers": a.timings.seconds(), "per_method_over_all_runs": a.pairTimes},
		"command": strings.Join(os.Args, " "),
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return fmt.Errorf("audit: %s: %w", AuditFile, err)
	}
	return writeFileAtomic(filepath.Join(a.cfg.Out, AuditFile), append(data, '\n'))
}

// writeFileAtomic writes a file readable by all (0644) through a temporary
// file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("audit: %s: %w", path, err)
	}
	return nil
}
