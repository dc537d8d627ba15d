package main

import (
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/vaec/vaec/graph"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(append([]float64(nil), c.in...)); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestIntList(t *testing.T) {
	got, err := intList("1, 2,256")
	if err != nil || len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 256 {
		t.Errorf(`intList("1, 2,256") = %v, %v`, got, err)
	}
	for _, bad := range []string{"", "0", "1,x", "-2"} {
		if _, err := intList(bad); err == nil {
			t.Errorf("intList(%q): no error", bad)
		}
	}
}

// TestVaecFigures checks that samples/s is total examples over total
// training time (a harmonic mean of the epochs' rates), not the mean rate.
func TestVaecFigures(t *testing.T) {
	elbo := -120.0
	res := &graph.Result{History: []graph.EpochMetrics{
		{SamplesPerSec: 1000},
		{SamplesPerSec: 3000, ValELBO: &elbo},
	}}
	// 900 examples: 0.9 s + 0.3 s for 1,800 examples = 1,500 samples/s.
	got := vaecFigures(res, 900)
	if got.samplesPerSec != 1500 || got.valELBO != elbo {
		t.Errorf("vaecFigures = %+v, want 1500 samples/s and ELBO %v", got, elbo)
	}
}

// TestScalingChild runs both measurements of the scaling benchmark's child
// and checks that each prints one positive figure and nothing else, as
// the parent parses it; and that a bad mode is an error.
func TestScalingChild(t *testing.T) {
	modes := [][]string{
		{"-mode", "arith", "-cpu", "0"},
		{"-mode", "train", "-epochs", "1"},
	}
	if runtime.NumCPU() >= 2 && runtime.GOMAXPROCS(0) >= 2 {
		modes = append(modes, []string{"-mode", "pingpong"})
	}
	for _, args := range modes {
		var out strings.Builder
		if err := scalingChildMain(args, &out); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
		if err != nil || !(v > 0) || math.IsInf(v, 0) {
			t.Errorf("%v printed %q, want one positive figure", args, out.String())
		}
	}
	if err := scalingChildMain([]string{"-mode", "nap"}, io.Discard); err == nil {
		t.Error("-mode nap: no error")
	}
}
