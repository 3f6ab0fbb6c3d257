package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v3"

	"github.com/paneonnx/paneonnx/cam"
	"github.com/paneonnx/paneonnx/excitation"
)

func layersCommand() *cli.Command {
	return &cli.Command{
		Name:  "layers",
		Usage: "list every tensor of a model with its producing operator and shape, marking the CAM target layers",
		Description: "The CAM column marks the tensors a CAM method can target (--target-layer): 4-D feature maps\n" +
			"with more than one position that the logits depend on, after BatchNormalization folding.\n" +
			"\"default\" is the layer used when --target-layer is not given (the last such map before the\n" +
			"classifier head), \"penultimate-conv\" the output of the penultimate convolution\n" +
			"(--target-layer penultimate-conv, the paper's choice). \"folded\" marks a tensor that explanations\n" +
			"do not compute (a convolution's output before a folded BatchNormalization, or a zero padding\n" +
			"folded into the convolution after it): it cannot be read (--at-layer) or targeted.",
		ArgsUsage: "MODEL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "size", Usage: "input size HxW for models whose size is free"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		},
		Action: runLayers,
	}
}

type layerInfo struct {
	Name  string `json:"name"`
	Op    string `json:"op"`
	Shape []int  `json:"shape"`
	// CAMCandidate marks a possible CAM target layer, CAMDefault the one
	// used by default, CAMPenultimateConv the "penultimate-conv" preset.
	CAMCandidate       bool `json:"cam_candidate"`
	CAMDefault         bool `json:"cam_default"`
	CAMPenultimateConv bool `json:"cam_penultimate_conv"`
	// Folded marks a tensor the canonical graph does not compute.
	Folded bool `json:"folded"`
}

// camColumn is the table's CAM column for li.
func (li layerInfo) camColumn() string {
	var marks []string
	if li.CAMDefault {
		marks = append(marks, "default")
	} else if li.CAMCandidate {
		marks = append(marks, "candidate")
	}
	if li.CAMPenultimateConv {
		marks = append(marks, cam.PenultimateConvName)
	}
	if li.Folded {
		marks = append(marks, "folded")
	}
	return strings.Join(marks, ",")
}

func runLayers(_ context.Context, cmd *cli.Command) error {
	m, err := loadModel(cmd)
	if err != nil {
		return err
	}
	var size []int
	if s := cmd.String("size"); s != "" {
		if size, err = parseSize(s); err != nil {
			return err
		}
	}
	g := m.Graph
	in, err := g.InputShape(0, 1, size)
	if err != nil {
		return err
	}
	shapes, err := g.Shapes(in)
	if err != nil {
		return err
	}
	// The CAM methods run on the canonical graph, where a Conv's own output
	// before a folded BatchNormalization, and a padding folded into a Conv,
	// do not exist.
	folded := excitation.Canonical(g)
	computed := map[string]bool{}
	for _, n := range folded.Nodes {
		for _, o := range n.Outputs {
			computed[o] = true
		}
	}
	candidates, def, defErr := cam.Candidates(folded, shapes)
	if defErr != nil {
		fmt.Fprintf(os.Stderr, "note: no default CAM target layer: %v\n", defErr)
	}
	penult, err := cam.PenultimateConv(folded, shapes)
	if err != nil {
		fmt.Fprintf(os.Stderr, "note: no penultimate-conv CAM target layer: %v\n", err)
	}
	isCandidate := map[string]bool{}
	for _, c := range candidates {
		isCandidate[c] = true
	}
	infos := []layerInfo{{Name: g.Inputs[0], Op: "input", Shape: in}}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			infos = append(infos, layerInfo{Name: o, Op: n.Op.Type(), Shape: shapes[o],
				CAMCandidate: isCandidate[o], CAMDefault: defErr == nil && o == def, CAMPenultimateConv: o == penult, Folded: !computed[o]})
		}
	}
	if cmd.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tOP\tSHAPE\tCAM")
	for _, li := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", li.Name, li.Op, li.Shape, li.camColumn())
	}
	return tw.Flush()
}
