package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// reconstructCommand is a placeholder until its issue lands.
func reconstructCommand() *cli.Command {
	return &cli.Command{
		Name:  "reconstruct",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("reconstruct: not implemented yet")
		},
	}
}
