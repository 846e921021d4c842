package billing

import (
	"math"
	"time"
)

// Erlang A (M/M/n+M, Palm's model): Erlang C with callers who hang up
// after an exponential patience (mean 1/θ). No maintained Go library has
// it either; this is the direct computation, no closed formula with
// special functions:
//
//   - The number in the system is a birth–death chain: arrivals λ, and
//     in state k departures μ·min(k, n) + θ·max(0, k − n). Its stationary
//     distribution π is the product of the rate ratios, summed until the
//     terms vanish (the chain is stable for every n when θ > 0).
//   - A caller arriving in state n + j (PASTA: with probability π) has j
//     callers ahead. It moves up a place, or into service from the head,
//     at rate a_i = n·μ + i·θ (a service ends, or one ahead gives up) and
//     gives up itself at rate θ. It is answered within t with probability
//     Π a_i/(a_i + θ) — no abandonment on the way — times P(a sum of
//     exponentials of rates a_i + θ ≤ t), which is computed by
//     uniformisation (stable for hundreds of places).
//
// With θ → 0 it is Erlang C (tested).

// ErlangA holds the model's results for one staffing.
type ErlangA struct {
	Wait       float64 // P(a caller waits)
	Abandon    float64 // P(a caller hangs up before an agent answers)
	WithinT    float64 // P(answered within t), of all callers
	Occupancy  float64
	MeanQueued float64 // mean callers waiting
}

// ErlangAModel computes Erlang A for arrival rate λ (calls/s), handling
// time aht, mean patience, n agents, threshold t.
func ErlangAModel(lambda float64, aht, patience time.Duration, n int, t time.Duration) ErlangA {
	mu, theta := 1/aht.Seconds(), 1/patience.Seconds()
	if lambda <= 0 || n <= 0 {
		return ErlangA{WithinT: 1}
	}
	// Stationary distribution, unnormalised, in logs to stay finite.
	var logp []float64
	lp := 0.0
	logp = append(logp, 0)
	for k := 1; ; k++ {
		death := mu * float64(min(k, n))
		if k > n {
			death += theta * float64(k-n)
		}
		lp += math.Log(lambda / death)
		logp = append(logp, lp)
		if k > n && lp < logp[n]-40 { // e^-40: nothing beyond counts
			break
		}
		if k > n+100000 {
			break
		}
	}
	top := math.Inf(-1)
	for _, v := range logp {
		top = math.Max(top, v)
	}
	p := make([]float64, len(logp))
	sum := 0.0
	for k, v := range logp {
		p[k] = math.Exp(v - top)
		sum += p[k]
	}
	var r ErlangA
	var busy float64
	for k := range p {
		p[k] /= sum
		busy += p[k] * float64(min(k, n))
		if k >= n {
			r.Wait += p[k]
			r.MeanQueued += p[k] * float64(k-n)
		}
	}
	r.Occupancy = busy / float64(n)
	r.Abandon = theta * r.MeanQueued / lambda
	within := servedWithin(len(p)-n, float64(n)*mu, theta, t.Seconds())
	r.WithinT = 1 - r.Wait
	for j := 0; n+j < len(p); j++ {
		r.WithinT += p[n+j] * within[j]
	}
	return r
}

// servedWithin[j] is P(answered within t | j callers ahead), j < J: from
// place i the caller moves up at a_i = nμ + iθ (into service from place
// 0) and gives up at θ. By uniformisation at rate L over all places at
// once: u_k(i) = P(answered within k jumps from place i), with Poisson
// weights of the jumps in time t taken in logs (no underflow for large
// L·t).
func servedWithin(J int, nmu, theta, t float64) []float64 {
	out := make([]float64, J)
	if t <= 0 || J == 0 {
		return out
	}
	L := nmu + float64(J)*theta
	lt := L * t
	u := make([]float64, J) // u_0 = 0: not answered without a jump
	next := make([]float64, J)
	logw := -lt // log Poisson(0; Lt)
	kmax := int(lt + 12*math.Sqrt(lt) + 30)
	for k := 1; k <= kmax; k++ {
		for i := 0; i < J; i++ {
			a := nmu + float64(i)*theta
			up := 1.0 // from place 0 into service: answered
			if i > 0 {
				up = u[i-1]
			}
			next[i] = (1-(a+theta)/L)*u[i] + a/L*up
		}
		u, next = next, u
		logw += math.Log(lt) - math.Log(float64(k))
		w := math.Exp(logw)
		for i := range out {
			out[i] += w * u[i]
		}
	}
	return out
}

// AgentsForA is the fewest agents for which Erlang A answers target of
// all callers within t; Erlang C's number is the most it can be (callers
// who hang up take no agent's time), so the search goes down from there.
func AgentsForA(lambda float64, aht, patience, t time.Duration, target float64) int {
	a := lambda * aht.Seconds()
	n := AgentsFor(a, aht, t, target)
	for n > 1 && ErlangAModel(lambda, aht, patience, n-1, t).WithinT >= target {
		n--
	}
	return n
}
