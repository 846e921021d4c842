package billing

import (
	"math"
	"time"
)

// Erlang C (M/M/n): calls arrive at random (Poisson), handling times are
// exponential, callers wait as long as it takes. No library: the model is
// four lines, and the Go packages that offer it are unmaintained toys; the
// derivation is the textbook one — Erlang B by its stable recursion
// B(0) = 1, B(k) = A·B(k−1) / (k + A·B(k−1)), then
// C = n·B / (n − A·(1 − B)), which never computes A^n or n! and so holds
// for hundreds of agents. The probabilities are floats (they are no
// money); staffing rounds agents up to whole people.

// ErlangC is the probability that a call has to wait, with traffic a
// (Erlangs: arrival rate × handling time) and n agents; 1 when n ≤ a (the
// queue grows without end).
func ErlangC(a float64, n int) float64 {
	if a <= 0 {
		return 0
	}
	if float64(n) <= a {
		return 1
	}
	b := 1.0
	for k := 1; k <= n; k++ {
		b = a * b / (float64(k) + a*b)
	}
	return float64(n) * b / (float64(n) - a*(1-b))
}

// ServiceLevel is the share of calls answered within t with n agents,
// traffic a and handling time aht: 1 − C·e^(−(n−a)·t/aht).
func ServiceLevel(a float64, n int, aht, t time.Duration) float64 {
	if a <= 0 {
		return 1
	}
	if float64(n) <= a {
		return 0
	}
	return 1 - ErlangC(a, n)*math.Exp(-(float64(n)-a)*t.Seconds()/aht.Seconds())
}

// ASA is the average speed of answer (mean wait of all calls).
func ASA(a float64, n int, aht time.Duration) time.Duration {
	if a <= 0 {
		return 0
	}
	if float64(n) <= a {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(ErlangC(a, n) * float64(aht) / (float64(n) - a))
}

// AgentsFor is the fewest agents that answer target (0.75) of the calls
// within t (30 s) at traffic a and handling time aht; 0 without traffic.
func AgentsFor(a float64, aht, t time.Duration, target float64) int {
	if a <= 0 {
		return 0
	}
	n := int(math.Floor(a)) + 1
	for ServiceLevel(a, n, aht, t) < target {
		n++
	}
	return n
}
