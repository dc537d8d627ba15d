package kernels

import (
	"fmt"
	"math"
)

// Act is an element-wise activation. The names match ir.Activation's
// spellings (see ParseAct); this package does not import the compiler so
// that it stays a leaf.
type Act uint8

const (
	Linear    Act = iota // y = x
	ReLU                 // y = max(0, x)
	Tanh                 // y = tanh(x)
	Sigmoid              // y = 1/(1+exp(-x))
	ELU                  // y = x if x > 0 else alpha·(exp(x)-1)
	LeakyReLU            // y = x if x > 0 else alpha·x
	Softplus             // y = log(1+exp(x))
)

var actNames = [...]string{"linear", "relu", "tanh", "sigmoid", "elu", "leaky_relu", "softplus"}

func (a Act) String() string {
	if int(a) < len(actNames) {
		return actNames[a]
	}
	return fmt.Sprintf("Act(%d)", uint8(a))
}

// ParseAct returns the activation spelled name, as in a vaec spec.
func ParseAct(name string) (Act, error) {
	for i, s := range actNames {
		if s == name {
			return Act(i), nil
		}
	}
	return 0, fmt.Errorf("kernels: unknown activation %q", name)
}

// AddBiasAct sets c[i,j] = act(c[i,j] + bias[j]) in place for the m×n
// row-major matrix c (leading dimension n). bias may be nil (no bias).
// alpha is the slope of LeakyReLU and the scale of ELU; other activations
// ignore it.
//
// The transcendental activations use float32 approximations accurate to a
// few ulps (tested against float64 math); with AVX-512 every activation
// costs about a nanosecond per element or less, without it Softplus goes
// through float64 math and is the slowest. AddBiasAct panics if c is
// shorter than m·n, bias is non-nil with length other than n, or act is
// unknown.
func AddBiasAct(c []float32, m, n int, bias []float32, act Act, alpha float32) {
	if m < 0 || n < 0 || len(c) < m*n {
		panic(fmt.Sprintf("kernels: AddBiasAct: c has %d elements, want >= %d×%d", len(c), m, n))
	}
	if bias != nil && len(bias) != n {
		panic(fmt.Sprintf("kernels: AddBiasAct: bias has %d elements, want %d", len(bias), n))
	}
	if int(act) >= len(actNames) {
		panic(fmt.Sprintf("kernels: AddBiasAct: unknown activation %v", act))
	}
	for i := 0; i < m; i++ {
		row := c[i*n : i*n+n]
		if biasActRow(row, bias, act, alpha) {
			continue
		}
		if bias != nil {
			addTo(row, bias)
		}
		applyAct(row, act, alpha)
	}
}

// addTo sets x[j] += y[j]; len(y) >= len(x).
func addTo(x, y []float32) {
	y = y[:len(x)]
	for j := range x {
		x[j] += y[j]
	}
}

// applyAct applies act to x in place.
func applyAct(x []float32, act Act, alpha float32) {
	switch act {
	case Linear:
	case ReLU:
		for j, v := range x {
			if !(v > 0) && v == v { // keep NaN, as max(0, NaN) is NaN in torch
				x[j] = 0
			}
		}
	case LeakyReLU:
		for j, v := range x {
			if v < 0 {
				x[j] = alpha * v
			}
		}
	case ELU:
		for j, v := range x {
			if v < 0 {
				x[j] = alpha * expm1f(v)
			}
		}
	case Sigmoid:
		for j, v := range x {
			x[j] = sigmoidf(v)
		}
	case Tanh:
		for j, v := range x {
			x[j] = tanhf(v)
		}
	case Softplus:
		for j, v := range x {
			x[j] = softplusf(v)
		}
	}
}

// ActGrad computes the activation's backward pass from its output:
// dx[i] = dy[i]·act'(x[i]), where y = act(x) is what AddBiasAct produced.
// Every supported activation's derivative is a function of y alone, so the
// pre-activation need not be kept. That needs alpha > 0 for ELU and
// LeakyReLU (so that y > 0 exactly when x > 0); LeakyReLU with alpha == 0 is
// ReLU. At x == 0 the derivative taken is the left one (0 for ReLU, alpha
// for LeakyReLU), as PyTorch does.
//
// dx may be the same slice as dy. ActGrad panics if dx or y is shorter than
// dy, or act is unknown.
func ActGrad(dx, dy, y []float32, act Act, alpha float32) {
	n := len(dy)
	if len(dx) < n || len(y) < n {
		panic(fmt.Sprintf("kernels: ActGrad: dx has %d, y has %d elements, want >= %d (len(dy))", len(dx), len(y), n))
	}
	if int(act) >= len(actNames) {
		panic(fmt.Sprintf("kernels: ActGrad: unknown activation %v", act))
	}
	dx, y = dx[:n], y[:n]
	if actGradVec(dx, dy, y, act, alpha) {
		return
	}
	switch act {
	case Linear:
		copy(dx, dy)
	case ReLU:
		for i, g := range dy {
			if !(y[i] > 0) {
				g = 0
			}
			dx[i] = g
		}
	case LeakyReLU:
		for i, g := range dy {
			if !(y[i] > 0) {
				g *= alpha
			}
			dx[i] = g
		}
	case ELU:
		for i, g := range dy {
			if !(y[i] > 0) {
				g *= y[i] + alpha // d/dx alpha·(e^x-1) = alpha·e^x = y + alpha
			}
			dx[i] = g
		}
	case Sigmoid:
		for i, g := range dy {
			dx[i] = g * y[i] * (1 - y[i])
		}
	case Tanh:
		for i, g := range dy {
			// The conversion forbids fusing into an FMA, keeping this
			// bit-identical with the vector path.
			dx[i] = g * (1 - float32(y[i]*y[i]))
		}
	case Softplus:
		for i, g := range dy {
			dx[i] = g * -expm1f(-y[i]) // sigmoid(x) = 1 - e^(-softplus(x))
		}
	}
}

// ColSum sets dst[j] = Σ_i src[i·n+j] for the m×n row-major src: the bias
// gradient of a dense layer. Rows are added in order, so the result is
// deterministic. ColSum panics if dst is shorter than n or src than m·n.
func ColSum(dst, src []float32, m, n int) {
	if m < 0 || n < 0 || len(dst) < n || len(src) < m*n {
		panic(fmt.Sprintf("kernels: ColSum: dst has %d, src %d elements, want >= %d and >= %d×%d", len(dst), len(src), n, m, n))
	}
	dst = dst[:n]
	if colSumVec(dst, src, m, n) {
		return
	}
	clear(dst)
	for i := 0; i < m; i++ {
		addTo(dst, src[i*n:i*n+n])
	}
}

// Float32 elementary functions. Each reduces its argument and evaluates a
// short polynomial in float32; out-of-range arguments go to float64 math.

const (
	ln2Hi = 0.693359375 // ln 2 split so that n·ln2Hi is exact for |n| < 2^11
	ln2Lo = -2.12194440e-4
	log2e = 1.44269504088896341
)

// expf returns e^x with a relative error of about 2 ulp.
func expf(x float32) float32 {
	if !(x > -87 && x < 88) { // also NaN
		return float32(math.Exp(float64(x)))
	}
	// x = k·ln2 + r, |r| <= ln2/2; e^x = 2^k · e^r.
	kf := float32(math.Floor(float64(x*log2e + 0.5)))
	r := x - kf*ln2Hi - kf*ln2Lo
	// Taylor series of e^r to degree 7, Horner form; truncation < 2^-27.
	p := 1 + r*(1+r*(1.0/2+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720+r*(1.0/5040)))))))
	return p * math.Float32frombits(uint32(int32(kf)+127)<<23)
}

// expm1f returns e^x - 1, accurate also for small |x| where e^x - 1 would
// cancel.
func expm1f(x float32) float32 {
	if x > -0.35 && x < 0.35 {
		// r + r²/2! + ... + r⁸/8!; truncation < 2^-28 relative.
		return x * (1 + x*(1.0/2+x*(1.0/6+x*(1.0/24+x*(1.0/120+x*(1.0/720+x*(1.0/5040+x*(1.0/40320))))))))
	}
	return expf(x) - 1
}

func sigmoidf(x float32) float32 {
	if x >= 0 {
		return 1 / (1 + expf(-x))
	}
	e := expf(x) // x < 0: e in (0, 1), no overflow
	return e / (1 + e)
}

func tanhf(x float32) float32 {
	a := x
	if a < 0 {
		a = -a
	}
	if !(a < 9) { // tanh(9) rounds to 1 in float32; also NaN
		if a != a {
			return x
		}
		return float32(math.Copysign(1, float64(x)))
	}
	e := expm1f(2 * a)
	t := e / (e + 2)
	if x < 0 {
		t = -t
	}
	return t
}

func softplusf(x float32) float32 {
	switch {
	case x > 20:
		return x // log(1+e^x) = x + log(1+e^-x), and e^-x < ulp(x)/2
	case x < -20:
		return expf(x)
	}
	return float32(math.Log1p(math.Exp(float64(x))))
}
