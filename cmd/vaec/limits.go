package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/internal/capped"
	"github.com/vaec/vaec/internal/termtext"
)

// addMaxFileSize gives a command the --max-file-size flag, which raises
// the cap on files read whole (checkpoints, ONNX files; internal/capped).
func addMaxFileSize(cmd *cli.Command) {
	cmd.Flags = append(cmd.Flags, &cli.StringFlag{
		Name:  "max-file-size",
		Usage: "largest checkpoint or ONNX file to read, e.g. 8GiB (default " + sizeText(capped.FileLimit) + ")",
	})
	before := cmd.Before
	cmd.Before = func(c *cli.Context) error {
		if c.IsSet("max-file-size") {
			n, err := parseSize(c.String("max-file-size"))
			if err != nil {
				return usagef("%s: --max-file-size: %v", cmd.Name, err)
			}
			capped.FileLimit = n
		}
		if before != nil {
			return before(c)
		}
		return nil
	}
}

// parseSize reads a byte count with an optional unit: 1000, 64MiB, 8G.
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is not a size in [1, 1PiB] (write 8GiB, 500M or a byte count)", s)
	}
	return n * mult, nil
}

func sizeText(n int64) string {
	if n%(1<<30) == 0 {
		return fmt.Sprintf("%dGiB", n>>30)
	}
	return strconv.FormatInt(n, 10)
}

// escapeLines escapes control characters line by line, keeping the line
// breaks of multi-line messages: user text (a file name, a key) reaches the
// terminal only as inert text.
func escapeLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = termtext.Escape(l)
	}
	return strings.Join(lines, "\n")
}
