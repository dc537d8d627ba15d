package evaluate

import (
	"math"
	"testing"
)

func TestThreshold(t *testing.T) {
	scores := make([]float64, 100)
	for i := range scores {
		scores[i] = float64(99 - i) // 0..99, unsorted
	}
	tests := []struct {
		fpr  float64
		want float64
	}{
		{0.01, 98}, // one score (99) above
		{0.05, 94}, // five above
		{0.001, 99},
		{0.25, 74},
	}
	for _, tt := range tests {
		got, err := Threshold(scores, tt.fpr)
		if err != nil || got != tt.want {
			t.Errorf("Threshold(0..99, %v) = %v, %v; want %v", tt.fpr, got, err, tt.want)
		}
		above := 0
		for _, s := range scores {
			if s > got {
				above++
			}
		}
		if float64(above) > tt.fpr*100 {
			t.Errorf("fpr %v: %d of 100 above the threshold", tt.fpr, above)
		}
	}
	for _, bad := range []struct {
		s   []float64
		fpr float64
	}{{scores, 0}, {scores, 0.5}, {nil, 0.1}, {[]float64{1, math.NaN()}, 0.1}} {
		if _, err := Threshold(bad.s, bad.fpr); err == nil {
			t.Errorf("Threshold(%v, %v) gave no error", bad.s, bad.fpr)
		}
	}
}
