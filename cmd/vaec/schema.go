package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// schemaCommand is a placeholder until its issue lands.
func schemaCommand() *cli.Command {
	return &cli.Command{
		Name:  "schema",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("schema: not implemented yet")
		},
	}
}
