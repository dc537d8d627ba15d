package graph

import "math"

// softplusSigmoid returns softplus(l) = log(1 + e^l) (in float64) and
// sigmoid(l) = 1/(1 + e^−l), both from the one exponential e^−|l|:
//
//	softplus(l) = max(l, 0) + log1p(e^−|l|)
//	sigmoid(l)  = 1/(1 + e^−|l|) for l ≥ 0, e^−|l|/(1 + e^−|l|) otherwise
//
// so neither overflows for any finite l. The Bernoulli likelihood calls it
// once per pixel per step, which is why it does not use math.Exp and
// math.Log1p (together about four times slower): short polynomials accurate
// to about 1e-9 relative, far below float32 rounding. NaN propagates.
func softplusSigmoid(l float32) (float64, float32) {
	x := float64(l)
	a := math.Abs(x)
	var e float64
	switch {
	case a < 100:
		e = expNeg(a)
	case a == a: // beyond 100, e^−|l| < 4e-44: zero for float32 purposes
		e = 0
	default: // NaN
		return x, l
	}
	sp := log1pSmall(e)
	if x > 0 {
		sp += x
	}
	sg := 1 / (1 + e)
	if x < 0 {
		sg = e * sg
	}
	return sp, float32(sg)
}

// expNeg returns e^−a for 0 ≤ a < 709.
func expNeg(a float64) float64 {
	const (
		log2e = 1.4426950408889634
		ln2Hi = 6.93147180369123816490e-01 // ln 2 split so that k·ln2Hi is exact
		ln2Lo = 1.90821492927058770002e-10
	)
	k := math.Floor(a*log2e + 0.5)
	r := (a - k*ln2Hi) - k*ln2Lo // |r| ≤ ln2/2
	// e^−r by its Taylor series to degree 10: truncation < 0.35^11/11! ≈ 2e-13.
	p := 1 - r*(1-r*(1.0/2-r*(1.0/6-r*(1.0/24-r*(1.0/120-r*(1.0/720-r*(1.0/5040-r*(1.0/40320-r*(1.0/362880-r*(1.0/3628800))))))))))
	return p * math.Float64frombits(uint64(1023-int64(k))<<52)
}

// log1pSmall returns log(1 + e) for 0 ≤ e ≤ 1, as 2·atanh(s) with
// s = e/(2 + e) ≤ 1/3: the odd series 2(s + s³/3 + s⁵/5 + …) to s¹⁹ leaves
// an error below (1/9)^10/21 ≈ 1.4e-11 relative.
func log1pSmall(e float64) float64 {
	s := e / (2 + e)
	t := s * s
	p := 1 + t*(1.0/3+t*(1.0/5+t*(1.0/7+t*(1.0/9+t*(1.0/11+t*(1.0/13+t*(1.0/15+t*(1.0/17+t*(1.0/19)))))))))
	return 2 * s * p
}
