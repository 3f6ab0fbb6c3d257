package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/urfave/cli/v3"

	"github.com/paneonnx/paneonnx/excitation"
	"github.com/paneonnx/paneonnx/graph"
	"github.com/paneonnx/paneonnx/importer"
)

func checkCommand() *cli.Command {
	return &cli.Command{
		Name:  "check",
		Usage: "CI gate: the model imports, reproduces its reference outputs and decomposes exactly",
		Description: "Checks, in order: every operator is supported; the forward pass reproduces the reference outputs of\n" +
			"every test_data_set_*/ beside the model (ONNX test layout; or --test-data DIR) within --tolerance relative\n" +
			"to each output's max-abs; full PANE completeness (SPEC §5.6) holds for the top classes of each input (or of a\n" +
			"random input when there is no test data). Exit code 0: all checks passed; 2: a check failed; 1: the model or\n" +
			"the test data could not be read.",
		ArgsUsage: "MODEL",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "test-data", Usage: "folder holding test_data_set_*/ (default: the model's folder)"},
			&cli.FloatFlag{Name: "tolerance", Value: 1e-4, Usage: "largest relative error of the forward pass"},
			&cli.FloatFlag{Name: "completeness-tolerance", Value: 1e-4, Usage: "largest completeness residual relative to |logit|"},
			&cli.IntFlag{Name: "classes", Value: 5, Usage: "classes per input whose decomposition is checked (top first)"},
			&cli.StringFlag{Name: "size", Usage: "input size HxW for models whose size is free (random input only)"},
			&cli.BoolFlag{Name: "json", Usage: "machine-readable report"},
		},
		Action: runCheck,
	}
}

type checkResult struct {
	Name   string  `json:"name"`
	Passed bool    `json:"passed"`
	Value  float64 `json:"value,omitempty"`
	Limit  float64 `json:"limit,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

type checkReport struct {
	Model  string        `json:"model"`
	Opset  int           `json:"opset"`
	Nodes  int           `json:"nodes"`
	Passed bool          `json:"passed"`
	Checks []checkResult `json:"checks"`
}

func runCheck(_ context.Context, cmd *cli.Command) error {
	m, err := loadModel(cmd)
	if err != nil {
		var unsupported *importer.UnsupportedError
		if errors.As(err, &unsupported) {
			return reportCheck(cmd, checkReport{Model: cmd.Args().First(), Checks: []checkResult{{Name: "operators supported", Detail: err.Error()}}})
		}
		return err
	}
	rep := checkReport{Model: m.Path, Opset: m.Opset, Nodes: len(m.Graph.Nodes), Checks: []checkResult{{Name: "operators supported", Passed: true}}}
	dir := cmd.String("test-data")
	if dir == "" {
		dir = filepath.Dir(m.Path)
	}
	sets, _ := filepath.Glob(filepath.Join(dir, "test_data_set_*"))
	var inputs []*graph.Tensor
	for _, set := range sets {
		_, in, err := importer.ReadTensorFile(filepath.Join(set, "input_0.pb"))
		if err != nil {
			return err
		}
		_, want, err := importer.ReadTensorFile(filepath.Join(set, "output_0.pb"))
		if err != nil {
			return err
		}
		x := in.Tensor()
		if err := checkInput(m, x); err != nil {
			return fmt.Errorf("%s: %w", set, err)
		}
		acts, err := m.Graph.Run(graph.RunOptions{}, x)
		if err != nil {
			return err
		}
		e := graph.RelativeError(acts[m.Graph.Outputs[0]].Data, want.Float32())
		limit := cmd.Float("tolerance")
		rep.Checks = append(rep.Checks, checkResult{Name: "forward " + filepath.Base(set), Passed: e <= limit, Value: e, Limit: limit})
		inputs = append(inputs, x)
	}
	if len(inputs) == 0 {
		var size []int
		if s := cmd.String("size"); s != "" {
			if size, err = parseSize(s); err != nil {
				return err
			}
		}
		shape, err := m.Graph.InputShape(0, 1, size)
		if err != nil {
			return err
		}
		x := graph.New(shape...)
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range x.Data {
			x.Data[i] = float32(rng.NormFloat64())
		}
		inputs = append(inputs, x)
		rep.Checks = append(rep.Checks, checkResult{Name: "forward", Passed: true, Detail: "no test_data_set_* found: forward not compared, completeness checked on a random input"})
	}
	g := excitation.Canonical(m.Graph)
	for i, x := range inputs {
		c, err := checkCompleteness(g, x, cmd.Int("classes"), cmd.Float("completeness-tolerance"))
		if err != nil {
			return err
		}
		c.Name = fmt.Sprintf("completeness input %d", i)
		rep.Checks = append(rep.Checks, c)
	}
	return reportCheck(cmd, rep)
}

// checkCompleteness runs full PANE for the top classes of every image of x
// and returns the worst residual.
func checkCompleteness(g *graph.Graph, x *graph.Tensor, classes int, limit float64) (checkResult, error) {
	acts, err := g.Run(graph.RunOptions{KeepAll: true}, x)
	if err != nil {
		return checkResult{}, err
	}
	l, err := excitation.Lower(g, acts)
	if err != nil {
		return checkResult{}, err
	}
	logits := excitation.Logits(g)
	preds := topK(acts[logits], make([]string, x.Batch()), nil, classes)
	y := acts[logits]
	per := len(y.Data) / y.Batch()
	k := len(preds[0].Top)
	seeds := graph.New(append([]int{x.Batch() * k}, y.Shape[1:]...)...)
	for n, p := range preds {
		for j, c := range p.Top {
			seeds.Data[(n*k+j)*per+c.Index] = 1
		}
	}
	res, err := l.Backward(excitation.Request{Mode: excitation.Full, SeedTensor: logits, Seeds: seeds})
	if err != nil {
		return checkResult{}, err
	}
	worst, ratio := 0.0, 0.0
	for _, c := range res.Completeness {
		worst = math.Max(worst, c.Residual())
		if math.IsNaN(c.Delta) || math.IsInf(c.Delta, 0) {
			return checkResult{Detail: "E+/E− overflowed"}, nil
		}
		if c.Target != 0 {
			ratio = math.Max(ratio, math.Abs(c.EPos/c.Target))
		}
	}
	return checkResult{Passed: worst <= limit, Value: worst, Limit: limit, Detail: fmt.Sprintf("%d classes per input; max |E+|/|logit| = %.3g", k, ratio)}, nil
}

func reportCheck(cmd *cli.Command, rep checkReport) error {
	rep.Passed = true
	for _, c := range rep.Checks {
		rep.Passed = rep.Passed && c.Passed
	}
	if cmd.Bool("json") {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		for _, c := range rep.Checks {
			status := "ok  "
			if !c.Passed {
				status = "FAIL"
			}
			line := fmt.Sprintf("%s %s", status, c.Name)
			if c.Limit != 0 {
				line += fmt.Sprintf(": %.3g (limit %.3g)", c.Value, c.Limit)
			}
			if c.Detail != "" {
				line += " — " + c.Detail
			}
			fmt.Println(line)
		}
	}
	if !rep.Passed {
		return cli.Exit("check failed", exitCheck)
	}
	return nil
}
