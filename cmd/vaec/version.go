package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/urfave/cli/v2"
)

// versionedModules are the dependencies whose versions decide numerics and
// file formats; `vaec version` reports them for bug reports.
var versionedModules = []struct{ label, path string }{
	{"gorgonia", "gorgonia.org/gorgonia"},
	{"tensor", "gorgonia.org/tensor"},
	{"onnx-go", "github.com/owulveryck/onnx-go"},
	{"onnxruntime_go", "github.com/yalue/onnxruntime_go"},
}

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the versions of vaec, Go and the main dependencies",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("version: takes no arguments, got %d", c.NArg())
			}
			w := c.App.Writer
			fmt.Fprintf(w, "vaec %s\n", version)
			fmt.Fprintf(w, "go %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
			deps := map[string]string{}
			if bi, ok := debug.ReadBuildInfo(); ok {
				for _, d := range bi.Deps {
					v := d.Version
					if d.Replace != nil {
						v = d.Replace.Version + " (replaces " + d.Version + ")"
					}
					deps[d.Path] = v
				}
			}
			for _, m := range versionedModules {
				v, ok := deps[m.path]
				if !ok {
					// Only modules linked into this binary are listed.
					v = "unknown"
				}
				fmt.Fprintf(w, "%s %s\n", m.label, v)
			}
			return nil
		},
	}
}
