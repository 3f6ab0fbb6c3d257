package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v3"

	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
	"github.com/paneonnx/paneonnx/preprocess"
)

// preprocessFlags are the image preprocessing flags shared by the commands
// that read images.
func preprocessFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "preset", Usage: "preprocessing preset: " + strings.Join(preprocess.PresetNames(), ", ")},
		&cli.StringFlag{Name: "size", Usage: "model input size, HxW or S (default: the model's)"},
		&cli.StringFlag{Name: "resize", Usage: "stretch | shorter-crop (resize the shorter side, then centre crop)"},
		&cli.StringFlag{Name: "mean", Usage: "per-channel mean subtracted after --scale, e.g. 0.485,0.456,0.406"},
		&cli.StringFlag{Name: "std", Usage: "per-channel divisor, e.g. 0.229,0.224,0.225"},
		&cli.FloatFlag{Name: "scale", Usage: "factor applied to pixel values in [0,255] first"},
		&cli.IntFlag{Name: "channels", Usage: "1 (grey) or 3 (RGB): convert the image to this many channels"},
		&cli.StringFlag{Name: "labels", Usage: "class names, one per line (default: labels.txt beside the model)"},
	}
}

// loadModel imports the model named by the first argument.
func loadModel(cmd *cli.Command) (*importer.Model, error) {
	if cmd.Args().Len() < 1 {
		return nil, fmt.Errorf("missing MODEL argument (an .onnx file)")
	}
	return importer.Load(cmd.Args().First(), nil)
}

// preprocessOptions merges the flags, the model's sidecar file and its
// metadata into preprocessing options for input 0 of m. Warnings go to
// stderr.
func preprocessOptions(cmd *cli.Command, m *importer.Model) (preprocess.Options, error) {
	flags := &preprocess.Spec{Origin: "command line", Preset: cmd.String("preset"), Resize: cmd.String("resize"), Channels: cmd.Int("channels")}
	if s := cmd.String("size"); s != "" {
		size, err := parseSize(s)
		if err != nil {
			return preprocess.Options{}, err
		}
		flags.Size = size
	}
	for _, f := range []struct {
		name string
		dst  *[]float32
	}{{"mean", &flags.Mean}, {"std", &flags.Std}} {
		if s := cmd.String(f.name); s != "" {
			v, err := parseFloats(s)
			if err != nil {
				return preprocess.Options{}, fmt.Errorf("--%s: %w", f.name, err)
			}
			*f.dst = v
		}
	}
	if cmd.IsSet("scale") {
		v := float32(cmd.Float("scale"))
		flags.Scale = &v
	}
	sidecar, err := preprocess.LoadSidecar(m.Path)
	if err != nil {
		return preprocess.Options{}, err
	}
	meta, err := preprocess.FromMetadata(m.Graph.Meta)
	if err != nil {
		return preprocess.Options{}, err
	}
	var chw [3]int
	if decl := m.Graph.InputShapes[0]; len(decl) == 4 {
		chw = [3]int{decl[1], decl[2], decl[3]}
	}
	opt, warnings, err := preprocess.Resolve(chw, flags, sidecar, meta)
	for _, w := range warnings {
		fmt.Fprintln(os.Stderr, "paneonnx: warning:", w)
	}
	return opt, err
}

func parseSize(s string) ([]int, error) {
	parts := strings.Split(strings.ToLower(s), "x")
	var out []int
	for _, p := range parts {
		v, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil || v < 1 {
			return nil, fmt.Errorf("--size %q: want HxW or S with positive integers", s)
		}
		out = append(out, v)
	}
	if len(out) > 2 {
		return nil, fmt.Errorf("--size %q: want HxW or S", s)
	}
	return out, nil
}

func parseFloats(s string) ([]float32, error) {
	var out []float32
	for _, p := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 32)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, float32(v))
	}
	return out, nil
}

// loadImages preprocesses image files into one input batch; the images
// are returned too for display.
func loadImages(paths []string, opt preprocess.Options) (*graph.Tensor, []*preprocess.Image, error) {
	var imgs []*preprocess.Image
	for _, p := range paths {
		img, err := preprocess.Load(p, opt)
		if err != nil {
			return nil, nil, err
		}
		imgs = append(imgs, img)
	}
	c, h, w := opt.Channels, opt.Size[0], opt.Size[1]
	batch := graph.New(len(imgs), c, h, w)
	for i, img := range imgs {
		copy(batch.Data[i*c*h*w:], img.Tensor)
	}
	return batch, imgs, nil
}

// checkInput verifies that a tensor fits input 0 of the model, naming the
// mismatch (e.g. a grey image for an RGB model).
func checkInput(m *importer.Model, x *graph.Tensor) error {
	decl := m.Graph.InputShapes[0]
	if len(decl) != len(x.Shape) {
		return fmt.Errorf("the model expects a rank-%d input %v, got shape %v", len(decl), decl, x.Shape)
	}
	for i := 1; i < len(decl); i++ {
		if decl[i] >= 0 && decl[i] != x.Shape[i] {
			return fmt.Errorf("the model expects input shape %v (N first), got %v; adjust --channels or --size", decl, x.Shape)
		}
	}
	return nil
}

// loadLabels reads class names from path, or from labels.txt beside the
// model when path is empty; a missing default file gives nil.
func loadLabels(path, modelPath string) ([]string, error) {
	if path == "" {
		path = filepath.Join(filepath.Dir(modelPath), "labels.txt")
		if _, err := os.Stat(path); err != nil {
			return nil, nil
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var labels []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		labels = append(labels, strings.TrimSpace(sc.Text()))
	}
	return labels, sc.Err()
}

func label(labels []string, i int) string {
	if i < len(labels) {
		return labels[i]
	}
	return strconv.Itoa(i)
}
