package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"

	"github.com/urfave/cli/v3"
)

func layersCommand() *cli.Command {
	return &cli.Command{
		Name:      "layers",
		Usage:     "list every tensor of a model with its producing operator and shape",
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
	infos := []layerInfo{{Name: g.Inputs[0], Op: "input", Shape: in}}
	for _, n := range g.Nodes {
		for _, o := range n.Outputs {
			infos = append(infos, layerInfo{Name: o, Op: n.Op.Type(), Shape: shapes[o]})
		}
	}
	if cmd.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(infos)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TENSOR\tOP\tSHAPE")
	for _, li := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%v\n", li.Name, li.Op, li.Shape)
	}
	return tw.Flush()
}
