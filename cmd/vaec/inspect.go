package main

import (
	"encoding/json"
	"fmt"
	"github.com/vaec/vaec/internal/capped"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/export"
	"github.com/vaec/vaec/runtime"
)

// inspectCommand prints what an ONNX file holds; it reads any ONNX file,
// not only vaec's.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "print the inputs, outputs, operators, opset, metadata and parameter count of an ONNX file",
		ArgsUsage: "FILE.onnx",
		Description: "Reads any ONNX file, not only vaec's. It also says whether vaec's runtime (verify,\n" +
			"sample, reconstruct, encode, eval, serve) can run the file and, when it cannot,\n" +
			"what it lacks: every operator it does not implement, else the first attribute,\n" +
			"data type or shape it refuses. The exit code is 0 either way; --json has the\n" +
			"answer in \"runtime\".",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the summary as JSON"},
			&cli.BoolFlag{Name: "dump", Usage: "print every initializer and node as text"},
		},
		Action: inspectAction,
	}
}

func inspectAction(c *cli.Context) error {
	if c.NArg() != 1 {
		return usagef("inspect takes one ONNX file, got %d arguments", c.NArg())
	}
	if c.Bool("json") && c.Bool("dump") {
		return usagef("--json and --dump cannot be combined")
	}
	path := c.Args().First()
	data, err := capped.ReadFile(path, capped.FileLimit)
	if err != nil {
		return err
	}
	out := c.App.Writer
	if c.Bool("dump") {
		text, err := export.Dump(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		_, err = io.WriteString(out, text)
		return err
	}
	info, err := export.Inspect(data)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	rt := runtimeSupport(data)
	if c.Bool("json") {
		return printInspectJSON(out, path, len(data), info, rt)
	}
	if err := printInspect(out, path, len(data), info); err != nil {
		return err
	}
	if rt.Runs {
		fmt.Fprintln(out, "vaec runtime: runs this file")
		return nil
	}
	fmt.Fprintln(out, "vaec runtime: cannot run this file; it lacks:")
	for _, u := range rt.Unsupported {
		fmt.Fprintf(out, "  %s\n", u)
	}
	return nil
}

// runtimeJSON says whether vaec's runtime runs a file; Unsupported lists
// what it lacks (never null, so scripts can take its length).
type runtimeJSON struct {
	Runs        bool     `json:"runs"`
	Unsupported []string `json:"unsupported"`
}

// runtimeSupport asks the runtime about data. export.Inspect has read the
// file already, so a file Check cannot read is reported as unsupported
// rather than failing the command: inspect describes, it does not judge.
func runtimeSupport(data []byte) runtimeJSON {
	r, err := runtime.Check(data)
	if err != nil {
		return runtimeJSON{Unsupported: []string{err.Error()}}
	}
	return runtimeJSON{Runs: len(r.Unsupported) == 0, Unsupported: append([]string{}, r.Unsupported...)}
}

// printInspect writes the summary as aligned text.
func printInspect(w io.Writer, path string, size int, in *export.Info) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format, a...) }
	p("file:\t%s (%s bytes)\n", path, thousands(size))
	p("producer:\t%s %s\n", orDash(in.ProducerName), in.ProducerVersion)
	p("ir_version:\t%d\n", in.IRVersion)
	var opsets []string
	for _, o := range in.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		opsets = append(opsets, fmt.Sprintf("%s %d", d, o.Version))
	}
	p("opset:\t%s\n", orDash(strings.Join(opsets, ", ")))
	p("graph:\t%q, model_version %d\n", in.GraphName, in.ModelVersion)
	p("parameters:\t%s in %d initializers (%s bytes)\n", thousands(int(in.Params)), in.Initializers, thousands(int(in.ParamBytes)))
	if in.DocString != "" {
		p("doc:\t%s\n", in.DocString)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	section := func(title string, rows [][2]string) {
		fmt.Fprintf(w, "%s:\n", title)
		if len(rows) == 0 {
			fmt.Fprintln(w, "  (none)")
			return
		}
		for _, r := range rows {
			fmt.Fprintf(tw, "  %s\t%s\n", r[0], r[1])
		}
		tw.Flush()
	}
	values := func(vs []export.Value) [][2]string {
		var rows [][2]string
		for _, v := range vs {
			rows = append(rows, [2]string{v.Name, v.Type})
		}
		return rows
	}
	section("inputs", values(in.Inputs))
	section("outputs", values(in.Outputs))
	var ops [][2]string
	for _, o := range in.Operators {
		name := o.OpType
		if o.Domain != "" {
			name = o.Domain + "." + name
		}
		ops = append(ops, [2]string{name, fmt.Sprint(o.Count)})
	}
	section(fmt.Sprintf("operators (%d nodes)", in.Nodes), ops)
	var meta [][2]string
	for _, m := range in.Metadata {
		meta = append(meta, [2]string{m.Key, m.Value})
	}
	section("metadata", meta)
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// inspectJSON is the --json form of the summary; its field names are a
// stable interface for scripts.
type inspectJSON struct {
	File            string            `json:"file"`
	Bytes           int               `json:"bytes"`
	IRVersion       int64             `json:"ir_version"`
	Opsets          map[string]int64  `json:"opsets"`
	ProducerName    string            `json:"producer_name"`
	ProducerVersion string            `json:"producer_version"`
	ModelVersion    int64             `json:"model_version"`
	Graph           string            `json:"graph"`
	DocString       string            `json:"doc_string,omitempty"`
	Inputs          []export.Value    `json:"inputs"`
	Outputs         []export.Value    `json:"outputs"`
	Operators       map[string]int    `json:"operators"`
	Nodes           int               `json:"nodes"`
	Params          int64             `json:"params"`
	ParamBytes      int64             `json:"param_bytes"`
	Metadata        map[string]string `json:"metadata"`
	Runtime         runtimeJSON       `json:"runtime"`
}

func printInspectJSON(w io.Writer, path string, size int, in *export.Info, rt runtimeJSON) error {
	j := inspectJSON{
		File: path, Bytes: size, IRVersion: in.IRVersion, Opsets: map[string]int64{},
		ProducerName: in.ProducerName, ProducerVersion: in.ProducerVersion, ModelVersion: in.ModelVersion,
		Graph: in.GraphName, DocString: in.DocString, Inputs: in.Inputs, Outputs: in.Outputs,
		Operators: map[string]int{}, Nodes: in.Nodes, Params: in.Params, ParamBytes: in.ParamBytes,
		Metadata: map[string]string{}, Runtime: rt,
	}
	if j.Inputs == nil {
		j.Inputs = []export.Value{}
	}
	if j.Outputs == nil {
		j.Outputs = []export.Value{}
	}
	for _, o := range in.Opsets {
		d := o.Domain
		if d == "" {
			d = "ai.onnx"
		}
		j.Opsets[d] = o.Version
	}
	for _, o := range in.Operators {
		name := o.OpType
		if o.Domain != "" {
			name = o.Domain + "." + name
		}
		j.Operators[name] += o.Count
	}
	for _, m := range in.Metadata {
		j.Metadata[m.Key] = m.Value
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(j)
}
