package main

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/sc115/sc115/simulate"
)

// TestSimulateAgainstErlangC (issue 17): `simulate` drives sc115 over
// real SIP and RTP at a small scale — Burgdorf's three agents (1001, 1003,
// 1006), 1.5 calls a second for 200 calls, 0.7 s mean talk, a wrap-up the
// agents end themselves (*44) after 0.3 s on average, a 0.5 s threshold:
// 1.5 Erlangs, Erlang C predicts 89 % — and
// the measured service level is within 15 points of the prediction for
// the traffic as it came. The tolerance is the run's own randomness: a
// pure M/M/3 simulation of 200 such calls scatters with a standard
// deviation of 5.6 points around Erlang C; this is 2.7 of them. Every
// call is answered, the agents' audio reaches the callers in the law
// they offered with under 5 % loss.
func TestSimulateAgainstErlangC(t *testing.T) {
	cfg := testConfig(t)
	cfg.ACD.Queue.Wrapup = 2 * time.Second // the agents end it themselves, after 0.3 s on average
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var agents []simulate.Agent
	for _, id := range []string{"1001", "1003", "1006"} {
		agents = append(agents, simulate.Agent{User: id, Password: "demo" + id})
	}
	r, err := simulate.Run(ctx, simulate.Config{Target: s.sip.Addr().String(), Dialed: "05136115", Agents: agents,
		Rate: 1.5, Calls: 200, Talk: 700 * time.Millisecond, Wrapup: cfg.ACD.Queue.Wrapup, WrapupMean: 300 * time.Millisecond,
		ReadyCode: cfg.ACD.FeatureCodes.Ready, Threshold: 500 * time.Millisecond, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("offered %d answered %d abandoned %d failed %d; SL %.3f predicted %.3f (%.2f E); wait p50 %v p90 %v; setup p50 %v p99 %v; loss %.4f; %v",
		r.Offered, r.Answered, r.Abandoned, r.Failed, r.ServiceLevel(), r.Predicted, r.Erlangs,
		simulate.Quantile(r.Waits, 0.5), simulate.Quantile(r.Waits, 0.9), simulate.Quantile(r.Setups, 0.5), simulate.Quantile(r.Setups, 0.99), r.MediaLoss(), r.Elapsed)
	if r.Offered != 200 || r.Answered != 200 || r.Failed != 0 {
		t.Errorf("offered %d answered %d failed %d: want every call answered", r.Offered, r.Answered, r.Failed)
	}
	if d := math.Abs(r.ServiceLevel() - r.Predicted); d > 0.15 {
		t.Errorf("measured SL %.3f vs Erlang C %.3f: off by %.3f", r.ServiceLevel(), r.Predicted, d)
	}
	if r.MediaLoss() > 0.05 || r.WrongLaw != 0 || r.FramesSent == 0 {
		t.Errorf("media: sent %d received %d wrong law %d", r.FramesSent, r.FramesReceived, r.WrongLaw)
	}
}
