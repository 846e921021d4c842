package billing

import (
	"container/heap"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestErlangAIsErlangCWithoutAbandons: with a patience far beyond every
// wait, Erlang A gives Erlang C's published values (48 Erlangs, 55 agents,
// 15 s: P(wait) 0.2387, 84.6 %) and nobody hangs up.
func TestErlangAIsErlangCWithoutAbandons(t *testing.T) {
	r := ErlangAModel(360.0/1800, 4*time.Minute, 1e8*time.Second, 55, 15*time.Second)
	if math.Abs(r.Wait-0.2387) > 0.0001 || math.Abs(r.WithinT-0.8459) > 0.0001 || r.Abandon > 1e-5 {
		t.Errorf("Erlang A without abandons: %+v", r)
	}
}

// TestErlangAAgainstSimulation: with patience, Erlang A agrees with a
// discrete-event simulation of the same M/M/n+M queue (first come, first
// served; 400,000 callers) on the probability of waiting, of hanging up,
// and of an answer within the threshold.
func TestErlangAAgainstSimulation(t *testing.T) {
	for _, c := range []struct {
		lambda           float64
		aht, patience, t time.Duration
		n                int
	}{
		{1, 10 * time.Second, 30 * time.Second, 20 * time.Second, 10},
		{1.2, 10 * time.Second, 60 * time.Second, 20 * time.Second, 11},
		{0.5, 240 * time.Second, 90 * time.Second, 30 * time.Second, 110},
	} {
		m := ErlangAModel(c.lambda, c.aht, c.patience, c.n, c.t)
		s := simulateMMnM(c.lambda, c.aht.Seconds(), c.patience.Seconds(), c.n, c.t.Seconds(), 400000, 7)
		for _, x := range [][3]float64{{m.Wait, s[0], 0}, {m.Abandon, s[1], 1}, {m.WithinT, s[2], 2}} {
			if math.Abs(x[0]-x[1]) > 0.01 {
				t.Errorf("λ %v aht %v patience %v n %d: model %.4f, simulation %.4f (measure %v: wait, abandon, within t)",
					c.lambda, c.aht, c.patience, c.n, x[0], x[1], x[2])
			}
		}
	}
}

// simulateMMnM returns P(wait), P(abandon), P(answered within t) of a
// simulated FCFS M/M/n+M queue: each caller takes the earliest free agent
// if that agent frees up before the caller's patience runs out (the
// callers ahead are assigned already: FCFS), else hangs up without taking
// anyone's time.
func simulateMMnM(lambda, aht, patience float64, n int, t float64, calls int, seed uint64) [3]float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	free := make(freeHeap, n)
	now := 0.0
	var waited, abandoned, within int
	for i := 0; i < calls; i++ {
		now += rng.ExpFloat64() / lambda
		f := free[0]
		if f <= now {
			within++
			free[0] = now + rng.ExpFloat64()*aht
			heap.Fix(&free, 0)
			continue
		}
		waited++
		if f-now > rng.ExpFloat64()*patience {
			abandoned++
			continue
		}
		if f-now <= t {
			within++
		}
		free[0] = f + rng.ExpFloat64()*aht
		heap.Fix(&free, 0)
	}
	c := float64(calls)
	return [3]float64{float64(waited) / c, float64(abandoned) / c, float64(within) / c}
}

type freeHeap []float64

func (h freeHeap) Len() int           { return len(h) }
func (h freeHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h freeHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *freeHeap) Push(x any)        { *h = append(*h, x.(float64)) }
func (h *freeHeap) Pop() any          { o := *h; x := o[len(o)-1]; *h = o[:len(o)-1]; return x }
