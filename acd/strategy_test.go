package acd

import (
	"context"
	"testing"
	"time"
)

// TestCrisisSkillWithOtherStrategyDoesNotWinByScale: Burgdorf's queue is
// fewest-calls, Lehrte's least-talk; in crisis mode Lehrte's agents may take
// Burgdorf's calls too. A free Burgdorf agent who has handled calls must
// still get the call: before, the Lehrte agent's 0 ms of talk beat the
// fewest-calls score (calls · 10¹³ + ms) by the scale of the number alone.
func TestCrisisSkillWithOtherStrategyDoesNotWinByScale(t *testing.T) {
	e, d, s := testEngine(t, func(c *Config) {
		c.Queues["burgdorf"] = QueueSettings{Strategy: "fewest-calls"}
		c.Queues["lehrte"] = QueueSettings{Strategy: "least-talk"}
		c.Municipalities[0].Crisis.AddSkills = []string{"lehrte"}
	})
	ctx := context.Background()
	_ = e.Store.RecordHandled(ctx, "a1", "burgdorf", 90*time.Second, 120*time.Second)
	e.AgentRegistered("a1")
	e.AgentRegistered("junior")
	waitAgentState(t, e, "a1", AgentAvailable)
	waitAgentState(t, e, "junior", AgentAvailable)
	if err := e.SetCrisis(ctx, "burgdorf", true, "test"); err != nil {
		t.Fatal(err)
	}
	first := newFakeLeg("crisis-1", "+495136115")
	go e.HandleCall(first)
	connect(t, d)
	second := newFakeLeg("crisis-2", "+495136115")
	go e.HandleCall(second)
	connect(t, d)
	d.mu.Lock()
	offers := append([]string(nil), d.offers...)
	d.mu.Unlock()
	if len(offers) != 2 || offers[0] != "a1:crisis-1" || offers[1] != "junior:crisis-2" {
		t.Errorf("offers %v, want a1 (own queue) first, then junior (crisis skill)", offers)
	}
	first.end()
	second.end()
	waitRec(t, s)
	waitRec(t, s)
}
