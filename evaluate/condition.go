package evaluate

import "fmt"

// ConditionalModel is a Model with a condition input (a conditional VAE):
// y [n, classes] holds each row's condition, one-hot for a label.
type ConditionalModel interface {
	Model
	EncodeY(x, y []float32, n int) (mu, logvar []float32, err error)
	DecodeY(z, y []float32, n int) (Decoded, error)
}

func identityRows(n, start int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = start + i
	}
	return r
}

// oneHot returns the one-hot rows of the labels of examples ex.
func oneHot(opts Options, ex []int) ([]float32, error) {
	c := opts.Classes
	y := make([]float32, len(ex)*c)
	for i, e := range ex {
		l := opts.Labels[e]
		if l < 0 || l >= c {
			return nil, fmt.Errorf("evaluate: label %d of example %d is not a class 0 to %d", l, e, c-1)
		}
		y[i*c+l] = 1
	}
	return y, nil
}

// encodeCond encodes rows whose examples are ex, with their labels when
// opts has them.
func encodeCond(m Model, x []float32, n int, opts Options, ex []int) ([]float32, []float32, error) {
	if opts.Labels == nil {
		return m.Encode(x, n)
	}
	y, err := oneHot(opts, ex)
	if err != nil {
		return nil, nil, err
	}
	return m.(ConditionalModel).EncodeY(x, y, n)
}

// decodeCond decodes rows whose examples are ex, with their labels when
// opts has them.
func decodeCond(m Model, z []float32, n int, opts Options, ex []int) (Decoded, error) {
	if opts.Labels == nil {
		return m.Decode(z, n)
	}
	y, err := oneHot(opts, ex)
	if err != nil {
		return Decoded{}, err
	}
	return m.(ConditionalModel).DecodeY(z, y, n)
}
