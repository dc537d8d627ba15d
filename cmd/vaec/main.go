// Command vaec compiles a VAE spec, trains it, and exports it to ONNX.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/urfave/cli/v2"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // spec errors, data errors, training failures, failed verification
	exitUsage = 2 // bad flags or arguments
)

// version is set at link time (-ldflags "-X main.version=...").
var version = "0.1.0-dev"

// defaultDir is the build directory that build writes and the other verbs
// read when given no paths.
const defaultDir = "vaec-build"

// Files in the build directory.
const (
	modelFile      = "model.json"             // the IR (compiler.Model as JSON)
	specCopy       = "spec.yaml"              // the spec as compiled
	lastCheckpoint = "checkpoint.safetensors" // written after every epoch
	bestCheckpoint = "best.safetensors"       // best validation ELBO so far
	metricsFile    = "metrics.jsonl"          // one JSON object per epoch
	encoderFile    = "encoder.onnx"
	decoderFile    = "decoder.onnx"
)

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func newApp() *cli.App {
	return &cli.App{
		Name:    "vaec",
		Usage:   "compile a VAE spec, train it, and ship it as ONNX",
		Version: version,
		Commands: []*cli.Command{
			buildCommand(),
			trainCommand(),
			exportCommand(),
			verifyCommand(),
			runCommand(),
			evalCommand(),
			sampleCommand(),
			reconstructCommand(),
			encodeCommand(),
			inspectCommand(),
			schemaCommand(),
			versionCommand(),
		},
		// Usage errors from the flag parser get exit code 2.
		OnUsageError: func(c *cli.Context, err error, isSub bool) error { return usageError{err.Error()} },
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
}

func main() {
	os.Exit(run(os.Args))
}

// run executes the app and maps its error to an exit code.
func run(args []string) int {
	err := newApp().Run(args)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(os.Stderr, "vaec:", err)
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		return ec.ExitCode()
	}
	return exitError
}
