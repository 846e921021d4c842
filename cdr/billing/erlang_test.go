package billing

import (
	"math"
	"testing"
	"time"
)

// TestErlangCAgainstPublishedValues: the worked example of Westbay
// Engineers' "The Erlang-C formula" (360 calls per half hour, 4 minutes
// each — 48 Erlangs —, 55 agents, 15 s target): probability of waiting
// 0.2387, average speed of answer 8.2 s, service level 84.6 %; and a row
// of the usual staffing table for 10 Erlangs, 3 min handling time, 80/20:
// 14 agents (13 give 79.6 %). Cross-checked with the closed formula in
// exact factorials (python3, math.factorial).
func TestErlangCAgainstPublishedValues(t *testing.T) {
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.4f, want %.4f", what, got, want)
		}
	}
	aht := 4 * time.Minute
	near("P(wait) 48 E, 55 agents", ErlangC(48, 55), 0.2387, 0.00005)
	near("service level 15 s", ServiceLevel(48, 55, aht, 15*time.Second), 0.8459, 0.00005)
	near("ASA s", ASA(48, 55, aht).Seconds(), 8.184, 0.001)
	near("10 E, 13 agents, 80/20", ServiceLevel(10, 13, 3*time.Minute, 20*time.Second), 0.7956, 0.00005)
	if n := AgentsFor(10, 3*time.Minute, 20*time.Second, 0.80); n != 14 {
		t.Errorf("agents for 10 E at 80/20: %d, want 14", n)
	}
	if n := AgentsFor(48, aht, 15*time.Second, 0.80); n != 55 {
		t.Errorf("agents for 48 E at 80/15: %d, want 55 (54 give less)", n)
	}
	if ErlangC(5, 5) != 1 || ServiceLevel(5, 4, aht, time.Second) != 0 || AgentsFor(0, aht, time.Second, 0.75) != 0 {
		t.Error("overload and no traffic: want 1, 0, 0 agents")
	}
	// Hundreds of agents: no overflow, still a probability.
	if p := ErlangC(900, 960); !(p > 0 && p < 1) {
		t.Errorf("ErlangC(900, 960) = %v", p)
	}
}
