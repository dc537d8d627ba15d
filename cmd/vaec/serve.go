package main

import (
	"fmt"
	"github.com/vaec/vaec/internal/capped"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/serve"
)

// serveCommand serves exported models over the Open Inference Protocol.
// The work is in package serve; this only reads flags and prints.
func serveCommand() *cli.Command {
	return &cli.Command{
		Name:      "serve",
		Usage:     "serve the exported models over HTTP (Open Inference Protocol: KServe v2, Triton REST)",
		ArgsUsage: " ",
		Description: "Serves encoder.onnx, decoder.onnx and score.onnx (those present) of the build\n" +
			"directory, or the files given, as models encoder, decoder and score, in vaec's\n" +
			"runtime: POST /v2/models/NAME/infer with JSON tensors (or Triton's binary tensor\n" +
			"data), metadata and health under /v2, Prometheus metrics at /metrics. Concurrent\n" +
			"requests are batched into one model call (--max-batch rows, waiting up to\n" +
			"--max-delay). SIGINT or SIGTERM stops accepting connections, finishes the requests\n" +
			"in flight and exits 0.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: defaultDir, Usage: "directory holding the exported ONNX files"},
			&cli.StringFlag{Name: "encoder", Usage: "encoder ONNX file (instead of --dir)"},
			&cli.StringFlag{Name: "decoder", Usage: "decoder ONNX file (instead of --dir)"},
			&cli.StringFlag{Name: "score", Usage: "score ONNX file (instead of --dir)"},
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:8000", Usage: "address to listen on"},
			&cli.IntFlag{Name: "max-batch", Value: serve.DefaultMaxBatch, Usage: "most rows in one model call, and in one request"},
			&cli.DurationFlag{Name: "max-delay", Usage: "how long a model call waits for more requests to batch (0: batch only what is queued)"},
			&cli.IntFlag{Name: "queue", Value: serve.DefaultQueueSize, Usage: "most requests waiting per model; more get 503"},
			&cli.DurationFlag{Name: "timeout", Value: serve.DefaultTimeout, Usage: "per-request timeout (504 past it)"},
			&cli.Int64Flag{Name: "max-body", Value: serve.DefaultMaxBodyBytes, Usage: "largest request body in bytes (413 past it)"},
			&cli.StringFlag{Name: "log-level", Value: "info", Usage: "debug (one line per request), info, warn or error"},
			&cli.BoolFlag{Name: "log-json", Usage: "write logs as JSON lines instead of text"},
		},
		Action: serveAction,
	}
}

func serveAction(c *cli.Context) error {
	if c.Args().Present() {
		return usagef("serve takes no arguments, got %q (use --dir or --encoder/--decoder/--score)", c.Args().Slice())
	}
	files := map[string]string{}
	for _, name := range serve.ModelNames {
		if p := c.String(name); p != "" {
			files[name] = p
		}
	}
	if len(files) > 0 && c.IsSet("dir") {
		return usagef("give --dir or model files (--encoder, --decoder, --score), not both")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.String("log-level"))); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", c.String("log-level"))
	}
	if c.Int("max-batch") <= 0 || c.Int("queue") <= 0 || c.Duration("timeout") <= 0 || c.Int64("max-body") <= 0 || c.Duration("max-delay") < 0 {
		return usagef("--max-batch, --queue, --timeout and --max-body must be positive, --max-delay not negative")
	}
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(c.App.ErrWriter, opts)
	if c.Bool("log-json") {
		h = slog.NewJSONHandler(c.App.ErrWriter, opts)
	}
	logger := slog.New(h)

	var models []serve.Model
	var err error
	if len(files) > 0 {
		models, err = serve.LoadFiles(files)
	} else {
		models, err = serve.LoadDir(c.String("dir"))
	}
	if err != nil {
		return err
	}
	s, err := serve.New(models, serve.Config{
		MaxBatch: c.Int("max-batch"), MaxDelay: c.Duration("max-delay"), QueueSize: c.Int("queue"),
		Timeout: c.Duration("timeout"), MaxBodyBytes: c.Int64("max-body"), Logger: logger, Version: version,
	})
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		s.Close()
		return err
	}
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.Name
	}
	fmt.Fprintf(c.App.Writer, "serving %s on http://%s/v2 (metrics at /metrics); Ctrl-C stops\n", strings.Join(names, ", "), l.Addr())
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx, l); err != nil {
		return err
	}
	fmt.Fprintln(c.App.Writer, "stopped: requests in flight answered")
	return nil
}

// tritonFlag is export's --triton.
func tritonFlag() cli.Flag {
	return &cli.StringFlag{Name: "triton", Usage: "also write a Triton Inference Server model repository to this directory (DIR/NAME/1/model.onnx, DIR/NAME/config.pbtxt)"}
}

// withTriton runs export's action, then writes the Triton model repository
// from the files it exported when --triton is set.
func withTriton(action cli.ActionFunc) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := action(c); err != nil || c.String("triton") == "" {
			return err
		}
		dir := c.String("out")
		if dir == "" {
			dir = c.String("dir")
		}
		return writeTriton(dir, c.String("triton"), c)
	}
}

// writeTriton copies the exported models of dir into a Triton repository.
func writeTriton(dir, repo string, c *cli.Context) error {
	models := map[string][]byte{}
	for _, name := range serve.ModelNames {
		b, err := capped.ReadFile(filepath.Join(dir, name+".onnx"), capped.FileLimit)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return err
		}
		models[name] = b
	}
	written, err := serve.WriteTritonRepository(repo, models, serve.TritonOptions{})
	if err != nil {
		return err
	}
	if !c.Bool("quiet") {
		for _, p := range written {
			fmt.Fprintf(c.App.Writer, "wrote %s\n", p)
		}
	}
	return nil
}
