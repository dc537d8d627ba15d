package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// verifyCommand is a placeholder until its issue lands.
func verifyCommand() *cli.Command {
	return &cli.Command{
		Name:  "verify",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("verify: not implemented yet")
		},
	}
}
