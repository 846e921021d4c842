package acd

import (
	"strings"
	"testing"
	"time"
)

// offersSoFar is what the fake dialer has offered to agents
// ("agent:call", in order).
func offersSoFar(d *fakeDialer) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.offers...)
}

// TestCompleteGreetingKeepsThePlace (issue 16, greeting: complete, the
// default): a call is not offered while its greeting plays, even with an
// agent free; a caller who arrives later and is through its greeting goes
// first meanwhile; but once the first caller's greeting is over it is
// ahead of every later caller again (its place is its arrival).
func TestCompleteGreetingKeepsThePlace(t *testing.T) {
	e, d, _ := testEngine(t)
	if m := e.cfg.Municipalities[0]; m.GreetingMode != GreetingComplete {
		t.Fatalf("default greeting mode %q, want complete", m.GreetingMode)
	}
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)

	first := newFakeLeg("first", "+495136115")
	first.greeting = make(chan struct{}) // still playing
	go e.HandleCall(first)
	waitCallState(t, e, "first", StateRouted)
	// The agent is free, yet nothing rings while the greeting plays. (A
	// bounded look: a slow machine can only make this pass, never fail.)
	time.Sleep(300 * time.Millisecond)
	if o := offersSoFar(d); len(o) != 0 {
		t.Fatalf("offered during the greeting: %v", o)
	}
	if st := callState(e, "first"); st != StateRouted {
		t.Fatalf("during its greeting the call is %q, want %q (not queued yet)", st, StateRouted)
	}

	// A later caller whose greeting is over takes the free agent.
	second := newFakeLeg("second", "+495136115")
	go e.HandleCall(second)
	a1 := connect(t, d)
	waitCallState(t, e, "second", StateConnected)
	// A third one waits behind.
	third := newFakeLeg("third", "+495136115")
	go e.HandleCall(third)
	waitCallState(t, e, "third", StateQueued)

	close(first.greeting) // the first caller has heard it all
	waitCallState(t, e, "first", StateQueued)
	a1.Hangup() // the agent's next call: the first caller, by its arrival
	next := connect(t, d)
	defer next.Hangup()
	waitCallState(t, e, "first", StateConnected)
	if o := offersSoFar(d); len(o) != 2 || !strings.HasSuffix(o[1], ":first") {
		t.Fatalf("offers %v, want the second caller, then the first (ahead of the third)", o)
	}
	first.end()
	third.end()
}

// TestInterruptibleGreetingIsCutOffByAnAgent: with greeting_mode
// interruptible a free agent is offered the call while the greeting
// still plays.
func TestInterruptibleGreetingIsCutOffByAnAgent(t *testing.T) {
	e, d, _ := testEngine(t, func(c *Config) { c.Municipalities[0].GreetingMode = GreetingInterruptible })
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)
	leg := newFakeLeg("c1", "+495136115")
	leg.greeting = make(chan struct{}) // never over: the agent cuts it off
	go e.HandleCall(leg)
	al := connect(t, d)
	waitCallState(t, e, "c1", StateConnected)
	al.Hangup()
	leg.end()
}

// TestGreetingModeIsChecked: a mode that is neither names its field.
func TestGreetingModeIsChecked(t *testing.T) {
	cfg := testConfigACD()
	cfg.Municipalities[1].GreetingMode = "full"
	err := cfg.Validate()
	if err == nil || !strings.Contains(err.Error(), "municipalities[1].greeting_mode") || !strings.Contains(err.Error(), `"full"`) {
		t.Fatalf("got %v, want an error naming municipalities[1].greeting_mode", err)
	}
}
