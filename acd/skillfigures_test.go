package acd

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// countingStore counts the store reads a waiting call's overflow check
// and wait estimate make.
type countingStore struct {
	Store
	aggregate, position atomic.Int64
}

func (s *countingStore) Staffed(ctx context.Context, k string) (int64, error) {
	s.aggregate.Add(1)
	return s.Store.Staffed(ctx, k)
}
func (s *countingStore) Waiting(ctx context.Context, k string) (int64, error) {
	s.aggregate.Add(1)
	return s.Store.Waiting(ctx, k)
}
func (s *countingStore) LoggedIn(ctx context.Context, k string) (int64, error) {
	s.aggregate.Add(1)
	return s.Store.LoggedIn(ctx, k)
}
func (s *countingStore) Position(ctx context.Context, c string) (int, error) {
	s.position.Add(1)
	return s.Store.Position(ctx, c)
}

// TestWaitingCallsShareTheirSkillsFigures (issue 13, 6): 100 callers wait
// for Burgdorf, whose overflow rules look at staffing, queue length and
// estimated wait every second. The store is asked for the skill's figures
// about once a second for all of them together — not once per call and
// second, which exhausted the Redis pool in a surge — and for each call's
// place only on arrival and every 5 s. The rules still hold: with the one
// agent paused (nobody staffed) the next call overflows.
func TestWaitingCallsShareTheirSkillsFigures(t *testing.T) {
	var cs *countingStore
	e, d, _ := testEngineDeps(t, func(dp *Deps) { cs = &countingStore{Store: dp.Store}; dp.Store = cs })
	withOverflow(e, OverflowRules{NoAgents: true, QueueLength: 1000, MaxEWT: 1000 * time.Hour, OnFailure: "queue"})
	d.forwardOK = true
	e.AgentRegistered("a1")
	if err := e.Pause("a1", "meeting"); err != nil { // logged in, not paused: staffed
		t.Fatal(err)
	}
	_ = e.Ready("a1")
	// a1 takes one call and talks; everybody else waits.
	first := newFakeLeg("talking", "+495136115")
	go e.HandleCall(first)
	connect(t, d)
	const n = 100
	legs := make([]*fakeLeg, n)
	for i := range legs {
		legs[i] = newFakeLeg(fmt.Sprintf("w-%03d", i), "+495136115")
		go e.HandleCall(legs[i])
	}
	for _, l := range legs {
		waitCallState(t, e, l.id, StateQueued)
	}
	agg0, pos0 := cs.aggregate.Load(), cs.position.Load()
	start := time.Now()
	time.Sleep(4 * time.Second)
	secs := time.Since(start).Seconds()
	agg, pos := float64(cs.aggregate.Load()-agg0), float64(cs.position.Load()-pos0)
	t.Logf("%d waiting calls for %.1f s: %.0f skill-figure reads, %.0f position reads", n, secs, agg, pos)
	// Per skill and second at most 3 reads (staffed, waiting, logged in),
	// whatever the number of calls; two periods of slack for a slow machine.
	if agg > 3*(secs+2) {
		t.Errorf("%.0f skill-figure reads in %.1f s for %d waiting calls: want about 3 a second, not per call", agg, secs, n)
	}
	// Each call's place: at most once per 5 s and call (plus one).
	if pos > n*(secs/5+1) {
		t.Errorf("%.0f position reads in %.1f s for %d calls: want at most one per call every 5 s", pos, secs, n)
	}
	for _, l := range legs {
		l.end()
	}
	// The rules still act on the shared figures: nobody staffed → overflow.
	first.end()
	waitAgentState(t, e, "a1", AgentAvailable)
	if err := e.Pause("a1", "break"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(figuresMaxAge + 100*time.Millisecond) // the figures of before the pause are too old now
	ov := newFakeLeg("overflows", "+495136115")
	go e.HandleCall(ov)
	waitCallState(t, e, "overflows", StateConnected)
	if got := d.forwardList(); len(got) == 0 {
		t.Error("with nobody staffed the call did not overflow")
	}
	ov.end()
}
