package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// inspectCommand is a placeholder until its issue lands.
func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:  "inspect",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("inspect: not implemented yet")
		},
	}
}
