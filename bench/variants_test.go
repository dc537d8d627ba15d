package main

import (
	"math"
	"testing"

	"github.com/vaec/vaec/dataset"
)

func TestMeanCI95(t *testing.T) {
	// Mean 2, sample standard deviation √(10/3) over 4 values.
	m, lo, hi := meanCI95([]float64{0, 1, 3, 4})
	se := math.Sqrt(10.0/3) / 2
	if m != 2 || math.Abs(lo-(2-1.96*se)) > 1e-12 || math.Abs(hi-(2+1.96*se)) > 1e-12 {
		t.Errorf("meanCI95 = %v [%v, %v], want 2 ± %v", m, lo, hi, 1.96*se)
	}
}

func TestKNNClass(t *testing.T) {
	// 1-D points: three of class 0 near 0, two of class 1 near 10.
	train := &dataset.Set{X: []float32{0, 0.5, -0.5, 10, 10.5}, N: 5, D: 1, Labels: []int{0, 0, 0, 1, 1}}
	for _, tc := range []struct {
		x    float32
		k    int
		want int
	}{
		{0.1, 1, 0}, {9, 1, 1}, {9, 3, 1}, {9, 5, 0}, {4, 5, 0},
	} {
		if got := knnClass(train, []float32{tc.x}, tc.k); got != tc.want {
			t.Errorf("knnClass(%v, k=%d) = %d, want %d", tc.x, tc.k, got, tc.want)
		}
	}
	// A 2–2 tie among four neighbours goes to the nearer one's label.
	tie := &dataset.Set{X: []float32{1, 2, -1.5, -3}, N: 4, D: 1, Labels: []int{0, 0, 1, 1}}
	if got := knnClass(tie, []float32{-0.2}, 4); got != 0 {
		t.Errorf("tie: %d, want 0 (the nearest, at 1, is class 0)", got)
	}
}
