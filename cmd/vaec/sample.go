package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// sampleCommand is a placeholder until its issue lands.
func sampleCommand() *cli.Command {
	return &cli.Command{
		Name:  "sample",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("sample: not implemented yet")
		},
	}
}
