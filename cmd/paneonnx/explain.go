package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/iom"
	"github.com/paneonnx/paneonnx/render"
	"github.com/paneonnx/paneonnx/saliency"
	"github.com/paneonnx/paneonnx/testmodels"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:  "explain",
		Usage: "write saliency maps that explain a model's predictions",
		Description: "Without arguments, explains the embedded default model (a small MNIST CNN) on its embedded digit.\n" +
			"Methods: " + strings.Join(saliency.Names(), ", ") + ", or all.",
		ArgsUsage: "[MODEL IMAGE...]",
		Flags: append(preprocessFlags(),
			&cli.IntFlag{Name: "class", Value: -1, Usage: "explain this class index (default: the top class)"},
			&cli.IntFlag{Name: "top", Value: 1, Usage: "explain the K most probable classes"},
			&cli.StringFlag{Name: "method", Value: "iom", Usage: "comma-separated methods, or all"},
			&cli.StringFlag{Name: "at-layer", Usage: "read the maps at this tensor instead of the input"},
			&cli.StringFlag{Name: "seed-layer", Usage: "explain a neuron or channel of this tensor instead of a class"},
			&cli.IntFlag{Name: "seed-channel", Value: -1, Usage: "with --seed-layer: the channel to explain"},
			&cli.IntFlag{Name: "seed-index", Value: -1, Usage: "with --seed-layer: the element (flat index within one image) to explain"},
			&cli.IntFlag{Name: "smooth", Value: 3, Usage: "box filter size k of IOM (1 disables)"},
			&cli.StringFlag{Name: "target-layer", Usage: "CAM target layer (default: the last spatial feature map; \"penultimate-conv\" for the paper's choice)"},
			&cli.StringFlag{Name: "out", Value: "out", Usage: "output folder"},
			&cli.StringFlag{Name: "input-pb", Usage: "read the input tensor from an ONNX TensorProto file instead of images"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		),
		Action: runExplain,
	}
}

// summary is summary.json.
type summary struct {
	Model     string             `json:"model"`
	Logits    string             `json:"logits_tensor"`
	Methods   []string           `json:"methods"`
	Protocol  protocol           `json:"protocol"`
	Protocols map[string]any     `json:"method_protocols"`
	Images    []imageSummary     `json:"images"`
	TimingsMS map[string]float64 `json:"timings_ms"`
}

type protocol struct {
	Seed       string `json:"seed"`
	ReadAt     string `json:"read_at"`
	Smooth     int    `json:"smooth_k"`
	BNFolded   int    `json:"batchnorm_folded"`
	SignAtZero string `json:"sign_at_zero"`
}

type imageSummary struct {
	Input   string         `json:"input"`
	Top     []classScore   `json:"top"`
	Targets []targetResult `json:"targets"`
}

type targetResult struct {
	Target       string            `json:"target"`
	Class        int               `json:"class,omitempty"`
	Value        float64           `json:"value"`
	Completeness completenessJSON  `json:"completeness"`
	Files        map[string]string `json:"files"`
}

type completenessJSON struct {
	Reconstructed float64 `json:"reconstructed"`
	Residual      float64 `json:"residual"`
	EPos          float64 `json:"e_pos"`
	ENeg          float64 `json:"e_neg"`
	SplitResidual float64 `json:"split_residual"`
}

func runExplain(_ context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() == 0 && cmd.String("input-pb") == "" {
		return explainDefault(cmd)
	}
	m, err := loadModel(cmd)
	if err != nil {
		return err
	}
	return explain(cmd, m, cmd.Args().Slice()[1:])
}

// explainDefault explains the embedded model on the embedded digit.
func explainDefault(cmd *cli.Command) error {
	dir, err := os.MkdirTemp("", "paneonnx-default")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	sub, err := fs.Sub(testmodels.Default, "default")
	if err != nil {
		return err
	}
	if err := os.CopyFS(dir, sub); err != nil {
		return err
	}
	m, err := importer.Load(filepath.Join(dir, "model.onnx"), nil)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "paneonnx: no model given; explaining the embedded MNIST model on an embedded digit")
	return explain(cmd, m, []string{filepath.Join(dir, "digit.png")})
}

func explain(cmd *cli.Command, m *importer.Model, paths []string) error {
	methods, err := parseMethodList(cmd.String("method"))
	if err != nil {
		return err
	}
	layerMode := cmd.String("seed-layer") != "" || cmd.String("at-layer") != ""
	if layerMode {
		for _, name := range methods {
			if _, err := iom.ParseMethods(name); err != nil {
				return fmt.Errorf("--seed-layer and --at-layer work with the excitation methods only: %w", err)
			}
		}
	}
	times := map[string]float64{}
	clock := time.Now()
	lap := func(name string) {
		times[name] += float64(time.Since(clock).Microseconds()) / 1000
		clock = time.Now()
	}

	bn := excitation.FoldBatchNorm(m.Graph)
	g := excitation.FoldPadding(bn)
	x, names, photos, err := explainInputs(cmd, m, paths)
	if err != nil {
		return err
	}
	lap("load")
	pass, err := saliency.NewPass(g, x)
	if err != nil {
		return err
	}
	lap("forward")
	labels, err := loadLabels(cmd.String("labels"), m.Path)
	if err != nil {
		return err
	}
	preds := topK(pass.Acts[pass.Logits], names, labels, max(cmd.Int("top"), 5))
	seedTensor, seeds, targets, err := explainSeeds(cmd, pass.L, pass.Logits, preds, labels)
	if err != nil {
		return err
	}
	perImage := seeds.Batch() / x.Batch()

	// Completeness (SPEC §5.6) for every seed, reported in the summary.
	full, err := pass.L.Backward(excitation.Request{Mode: excitation.Full, SeedTensor: seedTensor, Seeds: seeds})
	if err != nil {
		return err
	}
	lap("completeness")

	out := cmd.String("out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	opts := saliency.Options{Smooth: cmd.Int("smooth"), TargetLayer: cmd.String("target-layer")}
	sum := summary{Model: m.Path, Logits: pass.Logits, TimingsMS: times, Methods: methods, Protocols: map[string]any{},
		Protocol: protocol{Seed: seedTensor, ReadAt: cmd.String("at-layer"), Smooth: opts.Smooth,
			BNFolded: len(m.Graph.Nodes) - len(bn.Nodes), SignAtZero: "+1"}}
	if sum.Protocol.ReadAt == "" {
		sum.Protocol.ReadAt = g.Inputs[0]
	}
	rows := make([]targetResult, seeds.Batch())
	stems := make([]string, len(rows))
	for b := range rows {
		c := full.Completeness[b]
		rows[b] = targetResult{Target: targets[b].name, Class: targets[b].class, Value: c.Target, Files: map[string]string{},
			Completeness: completenessJSON{Reconstructed: c.Reconstructed, Residual: c.Residual(), EPos: c.EPos, ENeg: c.ENeg, SplitResidual: c.SplitResidual()}}
		stems[b] = names[b/perImage]
		if perImage > 1 {
			stems[b] = fmt.Sprintf("%s_%s", stems[b], targets[b].name)
		}
	}
	// Pictures and arrays are written in the background while the next
	// methods compute, one goroutine per map, then merged in method order.
	written := make([][]writtenMap, len(methods))
	writers := newWriters()
	for mi, name := range methods {
		maps, protocol, err := methodMaps(pass, name, layerMode, seedTensor, seeds, targets, perImage, opts, cmd.String("at-layer"))
		if err != nil {
			return err
		}
		sum.Protocols[name] = protocol
		lap(name)
		written[mi] = make([]writtenMap, len(maps))
		for b, mp := range maps {
			w := &written[mi][b]
			writers.Go(func() (err error) {
				w.files, w.tile, err = writeMaps(filepath.Join(out, stems[b]+"_"+name), mp, photos[b/perImage])
				return err
			})
		}
	}
	if err := writers.Wait(); err != nil {
		return err
	}
	views := make([][]render.Tile, seeds.Batch())
	for mi, name := range methods {
		for b, w := range written[mi] {
			for kind, f := range w.files {
				rows[b].Files[name+kind] = f
			}
			if w.tile != nil {
				views[b] = append(views[b], render.Tile{Title: name, Img: w.tile})
			}
		}
	}
	lap("write")
	for b := range rows {
		if len(views[b]) == 0 {
			continue
		}
		ph, err := render.Photo(photos[b/perImage])
		if err != nil {
			return err
		}
		tiles := append([]render.Tile{{Title: targets[b].name, Img: render.Enlarge(ph, displaySide)}}, views[b]...)
		grid, err := render.Grid(tiles, min(len(tiles), 6))
		if err != nil {
			return err
		}
		path := filepath.Join(out, stems[b]+"_grid.png")
		if err := render.SavePNG(path, grid); err != nil {
			return err
		}
		rows[b].Files["grid"] = path
	}
	for i := range names {
		sum.Images = append(sum.Images, imageSummary{Input: names[i], Top: preds[i].Top, Targets: rows[i*perImage : (i+1)*perImage]})
	}
	lap("write")
	data, err := json.MarshalIndent(sum, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(out, "summary.json"), append(data, '\n'), 0o644); err != nil {
		return err
	}
	if cmd.Bool("json") {
		fmt.Println(string(data))
		return nil
	}
	for _, is := range sum.Images {
		fmt.Printf("%s: top class %s (%.1f%%)\n", is.Input, is.Top[0].Label, 100*is.Top[0].Prob)
		for _, t := range is.Targets {
			fmt.Printf("  %s = %.4g = E+ %.4g + E− %.4g (completeness residual %.2g)\n", t.Target, t.Value, t.Completeness.EPos, t.Completeness.ENeg, t.Completeness.Residual)
		}
	}
	var parts []string
	for _, name := range methods {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", name, times[name]))
	}
	fmt.Printf("wrote %s (forward %.1f ms; %s)\n", out, times["forward"], strings.Join(parts, ", "))
	return nil
}

// parseMethodList splits --method; "all" stands for every registered method.
func parseMethodList(s string) ([]string, error) {
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.ToLower(strings.TrimSpace(name))
		switch {
		case name == "":
		case name == "all":
			out = append(out, allMethods()...)
		default:
			if _, err := saliency.Lookup(name); err != nil {
				return nil, err
			}
			out = append(out, name)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no method given (known: %s)", strings.Join(saliency.Names(), ", "))
	}
	return out, nil
}

// displaySide is the shorter side small pictures are enlarged to.
const displaySide = 224

// displayOrder lists the methods in the order "all" shows them: the
// excitation maps, then the paper's baselines in its Table 1 order.
var displayOrder = []string{"iom", "iom-neg", "pane", "pane-neg", "iomxinput", "grad", "gradxinput",
	"gradcam", "gradcam++", "scorecam", "ablationcam", "xgradcam", "eigencam", "layercam", "fullgrad"}

// allMethods returns every registered method in display order.
func allMethods() []string {
	names := saliency.Names()
	rank := func(n string) int {
		if i := slices.Index(displayOrder, n); i >= 0 {
			return i
		}
		return len(displayOrder)
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	return names
}

// methodMaps computes the maps of one method for every seed row: through
// the saliency registry for class targets read at the input, or with the
// excitation engine directly for --seed-layer and --at-layer.
func methodMaps(p *saliency.Pass, name string, layerMode bool, seedTensor string, seeds *graph.Tensor, targets []target, perImage int, opts saliency.Options, at string) ([]saliency.Map, any, error) {
	maps := make([]saliency.Map, seeds.Batch())
	if layerMode {
		ms, err := iom.ParseMethods(name)
		if err != nil {
			return nil, nil, err
		}
		raw, err := iom.Compute(p.L, ms[0], seedTensor, seeds, at)
		if err != nil {
			return nil, nil, err
		}
		for b := range maps {
			maps[b] = saliency.Map{Data: raw.Final(b, opts.Smooth), Raw: raw.Maps[b], RawShape: raw.Shape}
			if len(raw.Shape) == 3 {
				maps[b].C, maps[b].H, maps[b].W = raw.Shape[0], raw.Shape[1], raw.Shape[2]
			}
		}
		return maps, map[string]any{"method": name, "seed": seedTensor, "read_at": at, "smooth_k": opts.Smooth}, nil
	}
	method, err := saliency.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	for j := range perImage {
		ts := make([]int, p.Images())
		for n := range ts {
			ts[n] = targets[n*perImage+j].class
		}
		ms, err := method.Maps(p, ts, opts)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		for n, mp := range ms {
			maps[n*perImage+j] = mp
		}
	}
	return maps, method.Protocol(p, opts), nil
}

// target names one seed row.
type target struct {
	name  string
	class int
}

// explainSeeds builds the seed vectors: one-hot logits for --class or the
// top-K classes, or a channel/element of --seed-layer.
func explainSeeds(cmd *cli.Command, l *excitation.Lowered, logits string, preds []prediction, labels []string) (string, *graph.Tensor, []target, error) {
	n := l.Images
	if layer := cmd.String("seed-layer"); layer != "" {
		y, ok := l.Acts[layer]
		if !ok {
			return "", nil, nil, fmt.Errorf("--seed-layer %q is not a tensor of the model, or one folded away (see `paneonnx layers`)", layer)
		}
		seeds := graph.New(y.Shape...)
		per := len(y.Data) / n
		ch, idx := cmd.Int("seed-channel"), cmd.Int("seed-index")
		var name string
		switch {
		case idx >= 0 && idx < per:
			for i := range n {
				seeds.Data[i*per+idx] = 1
			}
			name = fmt.Sprintf("%s[%d]", layer, idx)
		case ch >= 0 && len(y.Shape) >= 2 && ch < y.Shape[1]:
			plane := per / y.Shape[1]
			for i := range n {
				for j := range plane {
					seeds.Data[i*per+ch*plane+j] = 1
				}
			}
			name = fmt.Sprintf("%s:channel%d", layer, ch)
		default:
			return "", nil, nil, fmt.Errorf("--seed-layer needs --seed-channel (0..%d) or --seed-index (0..%d)", y.Shape[1]-1, per-1)
		}
		targets := make([]target, n)
		for i := range targets {
			targets[i] = target{name: name, class: -1}
		}
		return layer, seeds, targets, nil
	}
	y := l.Acts[logits]
	classes := len(y.Data) / n
	var perImage [][]int
	if c := cmd.Int("class"); c >= 0 {
		if c >= classes {
			return "", nil, nil, fmt.Errorf("--class %d: the model has %d classes", c, classes)
		}
		for range n {
			perImage = append(perImage, []int{c})
		}
	} else {
		k := min(max(cmd.Int("top"), 1), classes)
		for _, p := range preds {
			var cs []int
			for _, s := range p.Top[:min(k, len(p.Top))] {
				cs = append(cs, s.Index)
			}
			for len(cs) < k { // more than the 5 classes topK listed
				cs = append(cs, len(cs))
			}
			perImage = append(perImage, cs)
		}
	}
	k := len(perImage[0])
	seeds := graph.New(append([]int{n * k}, y.Shape[1:]...)...)
	targets := make([]target, n*k)
	for i, cs := range perImage {
		for j, c := range cs {
			seeds.Data[(i*k+j)*classes+c] = 1
			targets[i*k+j] = target{name: fmt.Sprintf("class%d_%s", c, sanitize(label(labels, c))), class: c}
		}
	}
	return logits, seeds, targets, nil
}

// explainInputs reads the input batch and the photos shown under the maps.
func explainInputs(cmd *cli.Command, m *importer.Model, paths []string) (*graph.Tensor, []string, []render.Map, error) {
	if cmd.String("input-pb") != "" {
		x, names, err := inputBatch(cmd, m)
		if err != nil {
			return nil, nil, nil, err
		}
		var photos []render.Map
		per := len(x.Data) / x.Batch()
		for i := range names {
			names[i] = fmt.Sprintf("%s_%d", strings.TrimSuffix(filepath.Base(cmd.String("input-pb")), ".pb"), i)
			photos = append(photos, displayTensor(x.Shape[1:], x.Data[i*per:(i+1)*per]))
		}
		return x, names, photos, nil
	}
	if len(paths) == 0 {
		return nil, nil, nil, fmt.Errorf("no IMAGE arguments (or --input-pb FILE) given")
	}
	opt, err := preprocessOptions(cmd, m)
	if err != nil {
		return nil, nil, nil, err
	}
	x, imgs, err := loadImages(paths, opt)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := checkInput(m, x); err != nil {
		return nil, nil, nil, err
	}
	var names []string
	var photos []render.Map
	seen := map[string]int{}
	for i, p := range paths {
		name := sanitize(strings.TrimSuffix(filepath.Base(p), filepath.Ext(p)))
		if seen[name]++; seen[name] > 1 {
			name = fmt.Sprintf("%s_%d", name, seen[name])
		}
		names = append(names, name)
		photos = append(photos, render.Map{C: imgs[i].C, H: imgs[i].H, W: imgs[i].W, Data: imgs[i].Pixels})
	}
	return x, names, photos, nil
}

// displayTensor min-max scales a C×H×W model input to [0,1] for display.
func displayTensor(shape []int, data []float32) render.Map {
	lo, hi := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, v := range data {
		lo, hi = min(lo, v), max(hi, v)
	}
	out := make([]float32, len(data))
	for i, v := range data {
		if hi > lo {
			out[i] = (v - lo) / (hi - lo)
		}
	}
	m := render.Map{C: 1, H: 1, W: len(data), Data: out}
	if len(shape) == 3 {
		m.C, m.H, m.W = shape[0], shape[1], shape[2]
	}
	return m
}

// writeMaps writes the final map (and the raw one when the method has it)
// as .npy and, for maps over the image, the three picture views. It returns
// the files written and the main view for the grid (nil for maps read at
// another tensor).
// writtenMap is what writeMaps wrote for one map.
type writtenMap struct {
	files map[string]string
	tile  image.Image
}

// writers runs functions on at most GOMAXPROCS goroutines at a time and
// keeps the first error.
type writers struct {
	wg    sync.WaitGroup
	slots chan struct{}
	mu    sync.Mutex
	err   error
}

func newWriters() *writers { return &writers{slots: make(chan struct{}, runtime.GOMAXPROCS(0))} }

// Go runs f on a goroutine once fewer than GOMAXPROCS are running.
func (w *writers) Go(f func() error) {
	w.slots <- struct{}{}
	w.wg.Add(1)
	go func() {
		defer func() { <-w.slots; w.wg.Done() }()
		if err := f(); err != nil {
			w.mu.Lock()
			if w.err == nil {
				w.err = err
			}
			w.mu.Unlock()
		}
	}()
}

// Wait waits for every function and returns the first error.
func (w *writers) Wait() error {
	w.wg.Wait()
	return w.err
}

func writeMaps(base string, mp saliency.Map, photo render.Map) (map[string]string, image.Image, error) {
	files := map[string]string{".npy": base + ".npy"}
	shape := []int{mp.C, mp.H, mp.W}
	if mp.C == 0 {
		shape = mp.RawShape
	}
	if err := render.SaveNPY(base+".npy", mp.Data, shape); err != nil {
		return nil, nil, err
	}
	if mp.Raw != nil {
		files["_raw.npy"] = base + "_raw.npy"
		if err := render.SaveNPY(base+"_raw.npy", mp.Raw, mp.RawShape); err != nil {
			return nil, nil, err
		}
	}
	if mp.H != photo.H || mp.W != photo.W || (mp.C != 1 && mp.C != 3) {
		return files, nil, nil
	}
	m := render.Map{C: mp.C, H: mp.H, W: mp.W, Data: mp.Data}
	views := []struct {
		suffix string
		draw   func(photo, m render.Map) (*image.RGBA, error)
	}{{".png", render.AbsRGB}, {"_signed.png", render.Signed}, {"_jet.png", render.Jet}}
	var main image.Image
	for _, v := range views {
		img, err := v.draw(photo, m)
		if err != nil {
			return nil, nil, err
		}
		big := render.Enlarge(img, displaySide)
		if err := render.SavePNG(base+v.suffix, big); err != nil {
			return nil, nil, err
		}
		files[v.suffix] = base + v.suffix
		// The paper's |map| view for per-channel maps, the jet overlay for CAMs.
		if (mp.C == 3 && v.suffix == ".png") || (mp.C == 1 && v.suffix == "_jet.png") {
			main = big
		}
	}
	return files, main, nil
}

// sanitize makes a string safe as part of a file name.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return strings.Trim(b.String(), "_")
}
