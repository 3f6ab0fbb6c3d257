package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v3"
	"golang.org/x/term"

	"github.com/paneonnx/paneonnx/audit"
	"github.com/paneonnx/paneonnx/saliency"
)

// exitInterrupted is the exit code of an audit stopped by SIGINT or SIGTERM
// (128 + SIGINT, as shells report it).
const exitInterrupted = 130

func auditCommand() *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "score saliency methods over a data set with the paper's metrics (table, report)",
		Description: "DATASET is a folder of images (flat, or one sub-folder per class), an MNIST-style idx image file\n" +
			"(.gz too; the labels file beside it is found by name), a text file listing image paths with optional\n" +
			"labels, or one image. Each image is explained for the predicted class (--target label: the data set's\n" +
			"label). Writes results.jsonl (one line per image and method, written as computed), table.md and\n" +
			"table.csv (the paper's Table 1 and more), report.html and audit.json to --out.\n" +
			"Interrupt with Ctrl-C at any time and rerun with --resume to continue; the table is the same as\n" +
			"that of an uninterrupted run.\n" +
			"--methods: paper (IOM and the registered CAM baselines, the paper's Table 1), all, or a list of: " +
			strings.Join(saliency.Names(), ", ") + ".",
		ArgsUsage: "MODEL DATASET",
		Flags: append(preprocessFlags(),
			&cli.StringFlag{Name: "methods", Value: "paper", Usage: "paper | all | comma-separated method names"},
			&cli.IntFlag{Name: "limit", Usage: "audit only the first N images (0: all)"},
			&cli.IntFlag{Name: "workers", Value: 1, Usage: "images processed in parallel (the kernels already use every core; more helps small models)"},
			&cli.StringFlag{Name: "out", Value: "audit", Usage: "output folder"},
			&cli.BoolFlag{Name: "resume", Usage: "continue the audit in --out, skipping the results already there"},
			&cli.StringFlag{Name: "target", Value: audit.TargetPredicted, Usage: "class explained and scored: predicted | label"},
			&cli.IntFlag{Name: "smooth", Value: 3, Usage: "box filter size k of IOM (1 disables)"},
			&cli.StringFlag{Name: "target-layer", Usage: "CAM target layer: a tensor name, or penultimate-conv (the paper's choice; default: the last spatial feature map before the head)"},
			&cli.BoolFlag{Name: "tensor-space", Usage: "perturb the model input instead of the pixels"},
			&cli.IntFlag{Name: "batch", Usage: "perturbed images per forward pass (0: automatic)"},
			&cli.IntFlag{Name: "report-images", Value: audit.DefaultReportImages, Usage: "images shown in report.html (-1: none)"},
		),
		Action: runAudit,
	}
}

// auditMethods resolves --methods.
func auditMethods(s string) ([]string, error) {
	switch strings.TrimSpace(strings.ToLower(s)) {
	case "paper":
		return audit.PaperMethods(), nil
	case "all":
		return audit.AllMethods(), nil
	}
	var out []string
	for _, name := range strings.Split(s, ",") {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		m, err := saliency.Lookup(name)
		if err != nil {
			return nil, fmt.Errorf("--methods: %w", err)
		}
		out = append(out, m.Name())
	}
	if len(out) == 0 {
		return nil, errors.New("--methods: no method given")
	}
	return out, nil
}

func runAudit(ctx context.Context, cmd *cli.Command) error {
	if cmd.Args().Len() != 2 {
		return fmt.Errorf("audit needs MODEL and DATASET arguments, got %d argument(s)", cmd.Args().Len())
	}
	methods, err := auditMethods(cmd.String("methods"))
	if err != nil {
		return err
	}
	m, err := loadModel(cmd)
	if err != nil {
		return err
	}
	opt, err := preprocessOptions(cmd, m)
	if err != nil {
		return err
	}
	labels, err := loadLabels(cmd.String("labels"), m.Path)
	if err != nil {
		return err
	}
	cfg := audit.Config{
		Model: m, Pre: opt, TensorSpace: cmd.Bool("tensor-space"), Dataset: cmd.Args().Get(1), Methods: methods,
		Labels: labels, Target: cmd.String("target"), Smooth: int(cmd.Int("smooth")), TargetLayer: cmd.String("target-layer"),
		Limit: int(cmd.Int("limit")), Workers: int(cmd.Int("workers")), Batch: int(cmd.Int("batch")), Out: cmd.String("out"),
		Resume: cmd.Bool("resume"), ReportImages: int(cmd.Int("report-images")), Version: version, Log: os.Stderr,
	}
	if term.IsTerminal(int(os.Stderr.Fd())) && term.IsTerminal(int(os.Stdout.Fd())) {
		cfg.Progress = os.Stderr
	}
	// The first SIGINT/SIGTERM stops the audit after the results already
	// written; a second one ends the process at once.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop()
	}()
	fmt.Fprintf(os.Stderr, "paneonnx: auditing %s on %s with %s\n", m.Path, cfg.Dataset, strings.Join(methods, ", "))
	sum, err := audit.Run(ctx, cfg)
	if errors.Is(err, audit.ErrInterrupted) {
		return cli.Exit(fmt.Sprintf("%v; results so far are in %s, rerun with --resume to continue",
			err, filepath.Join(cfg.Out, audit.ResultsFile)), exitInterrupted)
	}
	if err != nil {
		return err
	}
	md, err := os.ReadFile(filepath.Join(cfg.Out, audit.TableMD))
	if err != nil {
		return err
	}
	fmt.Print(string(md))
	fmt.Printf("\n%d pairs (%d resumed, %d computed now), %d images skipped, %.1f s; wrote %s\n",
		sum.Pairs, sum.Resumed, sum.Computed, sum.Skipped, sum.Elapsed.Seconds(), cfg.Out)
	return nil
}
