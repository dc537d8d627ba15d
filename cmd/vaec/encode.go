package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// encodeCommand is a placeholder until its issue lands.
func encodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "encode",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("encode: not implemented yet")
		},
	}
}
