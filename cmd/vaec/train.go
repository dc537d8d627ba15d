package main

import (
	"errors"

	"github.com/urfave/cli/v2"
)

// trainCommand is a placeholder until its issue lands.
func trainCommand() *cli.Command {
	return &cli.Command{
		Name:  "train",
		Usage: "(not implemented yet)",
		Action: func(c *cli.Context) error {
			return errors.New("train: not implemented yet")
		},
	}
}
