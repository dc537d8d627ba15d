// Command vaec compiles a VAE spec, trains it, and exports it to ONNX.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/compiler"
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
	modelFile      = "model.json"             // the IR (ir.Model as JSON)
	specCopy       = "spec.yaml"              // the spec as compiled
	lastCheckpoint = "checkpoint.safetensors" // written after every epoch
	bestCheckpoint = "best.safetensors"       // best validation ELBO so far
	metricsFile    = "metrics.jsonl"          // one JSON object per epoch
	curvesFile     = "curves.png"             // training and validation ELBO per epoch
	encoderFile    = "encoder.onnx"
	decoderFile    = "decoder.onnx"
)

// usageError marks errors in how the command was called (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, a ...any) error { return usageError{fmt.Sprintf(format, a...)} }

func newApp() *cli.App {
	app := &cli.App{
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
			scoreCommand(),
			inspectCommand(),
			serveCommand(),
			schemaCommand(),
			versionCommand(),
		},
		// The root action runs only when no command matched.
		Action:  rootAction,
		Suggest: true,
		// Usage errors from the flag parser get exit code 2.
		OnUsageError: func(c *cli.Context, err error, isSub bool) error { return usageError{err.Error()} },
		// run maps errors to exit codes; urfave must not exit by itself.
		ExitErrHandler: func(c *cli.Context, err error) {},
	}
	// urfave applies the app's OnUsageError to the root only; a bad flag of
	// a command would otherwise print its whole help to stdout and exit 1.
	for _, cmd := range app.Commands {
		addMaxFileSize(cmd)
		if cmd.OnUsageError == nil {
			cmd := cmd
			cmd.OnUsageError = func(c *cli.Context, err error, isSub bool) error {
				return usagef("%s: %s (see 'vaec %s --help')", cmd.Name, flagError(cmd, err), cmd.Name)
			}
		}
	}
	return app
}

// flagError rewords the flag package's "flag provided but not defined: -x"
// as vaec spells flags (--x) with the closest flag of the command.
func flagError(cmd *cli.Command, err error) string {
	const undefined = "flag provided but not defined: "
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, undefined)
	if !ok {
		return msg
	}
	name = strings.TrimLeft(name, "-")
	var names []string
	for _, f := range cmd.Flags {
		names = append(names, f.Names()...)
	}
	names = append(names, "help")
	msg = fmt.Sprintf("unknown flag --%s", name)
	if s := compiler.Suggest(name, names); s != "" {
		msg += fmt.Sprintf(" (did you mean --%s?)", s)
	}
	return msg
}

// rootAction handles `vaec` alone and `vaec <unknown>`: both are usage
// errors (exit 2), where urfave would print help and exit 0, or exit 3.
func rootAction(c *cli.Context) error {
	if !c.Args().Present() {
		_ = cli.ShowAppHelp(withWriter(c, c.App.ErrWriter))
		return usagef("no command given")
	}
	name := c.Args().First()
	var names []string
	for _, cmd := range c.App.Commands {
		names = append(names, cmd.Names()...)
	}
	msg := fmt.Sprintf("unknown command %q", name)
	if s := closestCommand(name, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return usagef("%s; run 'vaec --help' for the list of commands", msg)
}

// withWriter returns c with its app's Writer replaced, to send help to stderr.
func withWriter(c *cli.Context, w io.Writer) *cli.Context {
	app := *c.App
	app.Writer = w
	return cli.NewContext(&app, nil, nil)
}

// closestCommand returns the command name that shares the longest prefix
// with name (at least two letters), or "".
func closestCommand(name string, names []string) string {
	best, bestN := "", 1
	for _, n := range names {
		k := 0
		for k < len(n) && k < len(name) && n[k] == name[k] {
			k++
		}
		if k > bestN {
			best, bestN = n, k
		}
	}
	return best
}

func main() {
	os.Exit(run(os.Args))
}

// run executes the app and maps its error to an exit code.
func run(args []string) int { return runWith(args, os.Stdout, os.Stderr) }

// runWith is run with the output streams given, for tests. Commands write
// through c.App.Writer and c.App.ErrWriter so that tests see their output.
func runWith(args []string, stdout, stderr io.Writer) int {
	app := newApp()
	app.Writer, app.ErrWriter = stdout, stderr
	err := app.Run(interspersed(app, args))
	if err == nil {
		return exitOK
	}
	// Spec errors already carry file:line:col; print them as they are,
	// one per line, like a compiler does.
	var el compiler.ErrorList
	if errors.As(err, &el) {
		fmt.Fprintln(stderr, el.Error())
		return exitError
	}
	fmt.Fprintln(stderr, "vaec:", escapeLines(err.Error()))
	var ue usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		// urfave's only own exit code, 3, is for `vaec help <unknown>`.
		if ec.ExitCode() == 3 {
			return exitUsage
		}
		return ec.ExitCode()
	}
	return exitError
}

// interspersed moves a command's flags in front of its positional
// arguments, so that `vaec build spec.yaml --json` works as Go users expect
// (urfave/cli v2 stops reading flags at the first positional argument).
// Everything after "--" stays positional.
func interspersed(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	// Find the command: the first argument that is not a flag.
	ci := -1
	for i := 1; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			ci = i
			break
		}
	}
	if ci < 0 {
		return args
	}
	var cmd *cli.Command
	for _, c := range app.Commands {
		if c.HasName(args[ci]) {
			cmd = c
		}
	}
	if cmd == nil || len(cmd.Subcommands) > 0 {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		tv, ok := f.(cli.DocGenerationFlag)
		for _, n := range f.Names() {
			takesValue[n] = ok && tv.TakesValue()
		}
	}
	out := append([]string(nil), args[:ci+1]...)
	var pos []string
	rest := args[ci+1:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		switch {
		case a == "--":
			pos = append(pos, rest[i:]...)
			i = len(rest)
		case len(a) > 1 && strings.HasPrefix(a, "-"):
			out = append(out, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue[name] && i+1 < len(rest) {
				i++
				out = append(out, rest[i])
			}
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) > 0 && pos[0] != "--" {
		out = append(out, "--")
	}
	return append(out, pos...)
}

// quietFlag is -q of the verbs that print progress or reports: errors
// still reach stderr, and the exit code says how it went.
func quietFlag() cli.Flag {
	return &cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "no progress or report output, only errors"}
}

// outFor is where a verb's progress and reports go: nowhere under -q.
func outFor(c *cli.Context) io.Writer {
	if c.Bool("quiet") {
		return io.Discard
	}
	return c.App.Writer
}
