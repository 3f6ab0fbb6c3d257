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
	"strings"
	"time"

	"github.com/urfave/cli/v3"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/iom"
	"github.com/paneonnx/paneonnx/render"
	"github.com/paneonnx/paneonnx/testmodels"
)

func explainCommand() *cli.Command {
	return &cli.Command{
		Name:  "explain",
		Usage: "write saliency maps that explain a model's predictions",
		Description: "Without arguments, explains the embedded default model (a small MNIST CNN) on its embedded digit.\n" +
			"Methods: " + strings.Join(methodNames(), ", ") + ".",
		ArgsUsage: "[MODEL IMAGE...]",
		Flags: append(preprocessFlags(),
			&cli.IntFlag{Name: "class", Value: -1, Usage: "explain this class index (default: the top class)"},
			&cli.IntFlag{Name: "top", Value: 1, Usage: "explain the K most probable classes"},
			&cli.StringFlag{Name: "method", Value: "iom", Usage: "comma-separated methods"},
			&cli.StringFlag{Name: "at-layer", Usage: "read the maps at this tensor instead of the input"},
			&cli.StringFlag{Name: "seed-layer", Usage: "explain a neuron or channel of this tensor instead of a class"},
			&cli.IntFlag{Name: "seed-channel", Value: -1, Usage: "with --seed-layer: the channel to explain"},
			&cli.IntFlag{Name: "seed-index", Value: -1, Usage: "with --seed-layer: the element (flat index within one image) to explain"},
			&cli.IntFlag{Name: "smooth", Value: 3, Usage: "box filter size k of IOM (1 disables)"},
			&cli.StringFlag{Name: "out", Value: "out", Usage: "output folder"},
			&cli.StringFlag{Name: "input-pb", Usage: "read the input tensor from an ONNX TensorProto file instead of images"},
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
		),
		Action: runExplain,
	}
}

func methodNames() []string {
	var names []string
	for _, m := range iom.Methods {
		names = append(names, string(m))
	}
	return names
}

// summary is summary.json.
type summary struct {
	Model     string             `json:"model"`
	Logits    string             `json:"logits_tensor"`
	Methods   []string           `json:"methods"`
	Protocol  protocol           `json:"protocol"`
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
	methods, err := iom.ParseMethods(cmd.String("method"))
	if err != nil {
		return err
	}
	times := map[string]float64{}
	clock := time.Now()
	lap := func(name string) {
		times[name] += float64(time.Since(clock).Microseconds()) / 1000
		clock = time.Now()
	}

	g := excitation.FoldBatchNorm(m.Graph)
	x, names, photos, err := explainInputs(cmd, m, paths)
	if err != nil {
		return err
	}
	lap("load")
	acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		return err
	}
	lap("forward")
	l, err := excitation.Lower(g, acts)
	if err != nil {
		return err
	}
	lap("lower")
	logits := excitation.Logits(g)
	labels, err := loadLabels(cmd.String("labels"), m.Path)
	if err != nil {
		return err
	}
	preds := topK(acts[logits], names, labels, max(cmd.Int("top"), 5))
	seedTensor, seeds, targets, err := explainSeeds(cmd, l, logits, preds, labels)
	if err != nil {
		return err
	}
	perImage := seeds.Batch() / x.Batch()

	// Completeness (SPEC §5.6) for every seed, reported in the summary.
	full, err := l.Backward(excitation.Request{Mode: excitation.Full, SeedTensor: seedTensor, Seeds: seeds})
	if err != nil {
		return err
	}
	lap("completeness")

	out := cmd.String("out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	k := cmd.Int("smooth")
	sum := summary{Model: m.Path, Logits: logits, TimingsMS: times, Protocol: protocol{
		Seed: seedTensor, ReadAt: cmd.String("at-layer"), Smooth: k,
		BNFolded: len(m.Graph.Nodes) - len(g.Nodes), SignAtZero: "+1",
	}}
	if sum.Protocol.ReadAt == "" {
		sum.Protocol.ReadAt = g.Inputs[0]
	}
	for _, meth := range methods {
		sum.Methods = append(sum.Methods, string(meth))
	}
	rows := make([]targetResult, seeds.Batch())
	for b := range rows {
		c := full.Completeness[b]
		rows[b] = targetResult{Target: targets[b].name, Class: targets[b].class, Value: c.Target, Files: map[string]string{},
			Completeness: completenessJSON{Reconstructed: c.Reconstructed, Residual: c.Residual(), EPos: c.EPos, ENeg: c.ENeg, SplitResidual: c.SplitResidual()}}
	}
	views := make([][]render.Tile, seeds.Batch())
	for _, meth := range methods {
		raw, err := iom.Compute(l, meth, seedTensor, seeds, cmd.String("at-layer"))
		if err != nil {
			return err
		}
		lap(string(meth))
		for b := range raw.Maps {
			img := b / perImage
			stem := names[img]
			if perImage > 1 {
				stem = fmt.Sprintf("%s_%s", stem, targets[b].name)
			}
			base := filepath.Join(out, stem+"_"+string(meth))
			final := raw.Final(b, k)
			files, tile, err := writeMaps(base, raw.Shape, raw.Maps[b], final, photos[img])
			if err != nil {
				return err
			}
			for kind, f := range files {
				rows[b].Files[string(meth)+kind] = f
			}
			if tile != nil {
				views[b] = append(views[b], render.Tile{Title: string(meth), Img: tile})
			}
		}
		lap("write")
	}
	for b := range rows {
		img := b / perImage
		if len(views[b]) == 0 {
			continue
		}
		ph, err := render.Photo(photos[img])
		if err != nil {
			return err
		}
		tiles := append([]render.Tile{{Title: targets[b].name, Img: upscale(ph)}}, views[b]...)
		grid, err := render.Grid(tiles, len(tiles))
		if err != nil {
			return err
		}
		stem := names[img]
		if perImage > 1 {
			stem = fmt.Sprintf("%s_%s", stem, targets[b].name)
		}
		path := filepath.Join(out, stem+"_grid.png")
		if err := render.SavePNG(path, grid); err != nil {
			return err
		}
		rows[b].Files["grid"] = path
	}
	for i := range names {
		is := imageSummary{Input: names[i], Top: preds[i].Top}
		is.Targets = rows[i*perImage : (i+1)*perImage]
		sum.Images = append(sum.Images, is)
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
	fmt.Printf("wrote %s (forward %.1f ms, methods %s)\n", out, times["forward"], methodTimes(times, methods))
	return nil
}

func methodTimes(times map[string]float64, methods []iom.Method) string {
	var parts []string
	for _, m := range methods {
		parts = append(parts, fmt.Sprintf("%s %.1f ms", m, times[string(m)]))
	}
	return strings.Join(parts, ", ")
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
			return "", nil, nil, fmt.Errorf("--seed-layer %q is not a tensor of the model (see `paneonnx layers`)", layer)
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

// writeMaps writes the raw and final maps as .npy and, for maps over the
// image, the three picture views. It returns the files written and the
// main view for the grid (nil for maps read at another tensor).
func writeMaps(base string, shape []int, raw, final []float32, photo render.Map) (map[string]string, image.Image, error) {
	files := map[string]string{"_raw.npy": base + "_raw.npy", ".npy": base + ".npy"}
	if err := render.SaveNPY(base+"_raw.npy", raw, shape); err != nil {
		return nil, nil, err
	}
	if err := render.SaveNPY(base+".npy", final, shape); err != nil {
		return nil, nil, err
	}
	if len(shape) != 3 || shape[1] != photo.H || shape[2] != photo.W || (shape[0] != 1 && shape[0] != 3) {
		return files, nil, nil
	}
	m := render.Map{C: shape[0], H: shape[1], W: shape[2], Data: final}
	var main image.Image
	for _, v := range []struct {
		suffix string
		draw   func(photo, m render.Map) (*image.RGBA, error)
	}{{".png", render.AbsRGB}, {"_signed.png", render.Signed}, {"_jet.png", render.Jet}} {
		img, err := v.draw(photo, m)
		if err != nil {
			return nil, nil, err
		}
		big := upscale(img)
		if err := render.SavePNG(base+v.suffix, big); err != nil {
			return nil, nil, err
		}
		files[v.suffix] = base + v.suffix
		if main == nil {
			main = big
		}
	}
	return files, main, nil
}

// upscale enlarges small pictures (MNIST, CIFAR) by an integer factor with
// nearest-neighbour sampling so that they can be looked at.
func upscale(img *image.RGBA) *image.RGBA {
	b := img.Bounds()
	f := 1
	for min(b.Dx(), b.Dy())*(f+1) <= 224 {
		f++
	}
	if f == 1 {
		return img
	}
	out := image.NewRGBA(image.Rect(0, 0, b.Dx()*f, b.Dy()*f))
	for y := range b.Dy() * f {
		for x := range b.Dx() * f {
			out.SetRGBA(x, y, img.RGBAAt(b.Min.X+x/f, b.Min.Y+y/f))
		}
	}
	return out
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
