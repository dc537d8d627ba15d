package graph

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/vaec/vaec/checkpoint"
)

// fileStore is the Store behind TrainOptions' file names: plain files
// written one after another, for library use and tests. A build directory
// uses package builddir, which commits the three together.
type fileStore struct {
	checkpoint, best, metrics string
	fresh                     bool // the first commit starts metrics afresh
}

func (s *fileStore) Last() (*checkpoint.Checkpoint, error) {
	if s.checkpoint == "" {
		return nil, errors.New("no checkpoint path given")
	}
	c, err := checkpoint.Load(s.checkpoint)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return c, err
}

func (s *fileStore) CommitEpoch(c *checkpoint.Checkpoint, improved bool, line []byte) error {
	if s.checkpoint != "" {
		if err := checkpoint.Save(s.checkpoint, c); err != nil {
			return fmt.Errorf("saving checkpoint: %v", err)
		}
	}
	if improved && s.best != "" {
		if err := checkpoint.Save(s.best, c); err != nil {
			return fmt.Errorf("saving best checkpoint: %v", err)
		}
	}
	if s.metrics == "" {
		return nil
	}
	var keep []byte
	if !s.fresh {
		var err error
		if keep, err = linesBefore(s.metrics, c.State.Epoch); err != nil {
			return err
		}
	}
	s.fresh = false
	return checkpoint.WriteFileAtomic(s.metrics, append(append(keep, line...), '\n'))
}

// linesBefore returns the lines of epochs before epoch, so that a resumed
// run does not repeat lines of epochs it trains again.
func linesBefore(path string, epoch int) ([]byte, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("metrics: %v", err)
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		var e struct {
			Epoch int `json:"epoch"`
		}
		if json.Unmarshal(sc.Bytes(), &e) == nil && e.Epoch < epoch {
			keep.Write(sc.Bytes())
			keep.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("metrics: %s: %v", path, err)
	}
	return keep.Bytes(), nil
}
