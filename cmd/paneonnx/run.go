package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"

	"github.com/urfave/cli/v3"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
)

func runCommand() *cli.Command {
	return &cli.Command{
		Name:      "run",
		Usage:     "classify images and print the top classes with probabilities",
		ArgsUsage: "MODEL IMAGE...",
		Flags: append(preprocessFlags(),
			&cli.IntFlag{Name: "top", Value: 5, Usage: "number of classes to print per image"},
			&cli.StringFlag{Name: "input-pb", Usage: "read the input tensor from an ONNX TensorProto file instead of images"},
			&cli.StringFlag{Name: "save-output", Usage: "write the model's first output as an ONNX TensorProto file"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable output"},
		),
		Action: runRun,
	}
}

// classScore is one class of a prediction.
type classScore struct {
	Index int     `json:"index"`
	Label string  `json:"label"`
	Prob  float64 `json:"probability"`
	Logit float64 `json:"logit"`
}

type prediction struct {
	Input string       `json:"input"`
	Top   []classScore `json:"top"`
}

// inputBatch reads the input from --input-pb or from the image arguments.
func inputBatch(cmd *cli.Command, m *importer.Model) (*graph.Tensor, []string, error) {
	if pb := cmd.String("input-pb"); pb != "" {
		_, c, err := importer.ReadTensorFile(pb)
		if err != nil {
			return nil, nil, err
		}
		x := c.Tensor()
		if err := checkInput(m, x); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", pb, err)
		}
		names := make([]string, x.Batch())
		for i := range names {
			names[i] = fmt.Sprintf("%s[%d]", pb, i)
		}
		return x, names, nil
	}
	paths := cmd.Args().Slice()[1:]
	if len(paths) == 0 {
		return nil, nil, fmt.Errorf("no IMAGE arguments (or --input-pb FILE) given")
	}
	opt, err := preprocessOptions(cmd, m)
	if err != nil {
		return nil, nil, err
	}
	x, _, err := loadImages(paths, opt)
	if err != nil {
		return nil, nil, err
	}
	if err := checkInput(m, x); err != nil {
		return nil, nil, err
	}
	return x, paths, nil
}

func runRun(_ context.Context, cmd *cli.Command) error {
	m, err := loadModel(cmd)
	if err != nil {
		return err
	}
	x, names, err := inputBatch(cmd, m)
	if err != nil {
		return err
	}
	g := m.Graph
	logitsName := excitation.Logits(g)
	acts, err := g.Run(graph.RunOptions{Keep: []string{logitsName}}, x)
	if err != nil {
		return err
	}
	if path := cmd.String("save-output"); path != "" {
		if err := importer.WriteTensorFile(path, g.Outputs[0], acts[g.Outputs[0]]); err != nil {
			return err
		}
	}
	labels, err := loadLabels(cmd.String("labels"), m.Path)
	if err != nil {
		return err
	}
	preds := topK(acts[logitsName], names, labels, cmd.Int("top"))
	if cmd.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(preds)
	}
	for _, p := range preds {
		fmt.Println(p.Input)
		for i, c := range p.Top {
			fmt.Printf("  %d. %-30s %7.3f%%  (class %d, logit %.4g)\n", i+1, c.Label, 100*c.Prob, c.Index, c.Logit)
		}
	}
	return nil
}

// topK returns the k most probable classes per image from logits of shape
// [N, classes] (softmax applied here).
func topK(logits *graph.Tensor, names, labels []string, k int) []prediction {
	n := logits.Batch()
	classes := len(logits.Data) / n
	k = min(max(k, 1), classes)
	preds := make([]prediction, n)
	for i := range n {
		row := logits.Data[i*classes : (i+1)*classes]
		probs := softmax(row)
		idx := make([]int, classes)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
		preds[i].Input = names[i]
		for _, j := range idx[:k] {
			preds[i].Top = append(preds[i].Top, classScore{Index: j, Label: label(labels, j), Prob: probs[j], Logit: float64(row[j])})
		}
	}
	return preds
}

func softmax(row []float32) []float64 {
	m := math.Inf(-1)
	for _, v := range row {
		m = math.Max(m, float64(v))
	}
	out := make([]float64, len(row))
	var sum float64
	for i, v := range row {
		out[i] = math.Exp(float64(v) - m)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}
