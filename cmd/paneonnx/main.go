// Command paneonnx runs and explains image-classification CNNs stored as
// ONNX files: `paneonnx explain model.onnx img.png` writes saliency maps
// (IOM from positive and negative excitation, and CAM baselines), `run`
// classifies, `layers` lists the tensors one can explain or target.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v3"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes (0 is success).
const (
	exitError = 1 // bad input, unsupported model, I/O error
	exitCheck = 2 // `check` ran and a check failed
)

func main() {
	if err := newApp().Run(context.Background(), os.Args); err != nil {
		fmt.Fprintln(os.Stderr, "paneonnx:", err)
		code := exitError
		var ec cli.ExitCoder
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		os.Exit(code)
	}
}

// newApp builds the command tree.
func newApp() *cli.Command {
	return &cli.Command{
		Name:    "paneonnx",
		Usage:   "explain why an ONNX image classifier predicts what it predicts",
		Version: version,
		// main turns errors into exit codes; the library must not exit.
		ExitErrHandler: func(context.Context, *cli.Command, error) {},
		Commands: []*cli.Command{
			layersCommand(),
			auditCommand(),
			runCommand(),
			explainCommand(),
			checkCommand(),
		},
	}
}
