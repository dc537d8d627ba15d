package main

import (
	"github.com/urfave/cli/v2"

	"github.com/vaec/vaec/compiler"
)

func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "print a JSON Schema of the spec, for editors",
		Description: "Prints a JSON Schema (draft 2020-12) of the spec format. Save it and point your\n" +
			"editor at it, e.g. with the YAML language server:\n" +
			"  # yaml-language-server: $schema=vaec.schema.json",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usagef("schema: takes no arguments, got %d", c.NArg())
			}
			_, err := c.App.Writer.Write(compiler.Schema())
			return err
		},
	}
}
