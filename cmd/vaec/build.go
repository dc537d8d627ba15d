package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// buildCommand is a placeholder until its issue lands.
func buildCommand() *cli.Command {
	return &cli.Command{
		Name:  "build",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("build: not implemented yet")
		},
	}
}
