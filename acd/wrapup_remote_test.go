package acd

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/queue"
)

// sharedEngine is an engine on a redis-server shared with other engines
// (instances of one service center).
func sharedEngine(t *testing.T, url, instance string, edit func(*Config)) (*Engine, *fakeDialer, *sink) {
	t.Helper()
	st, err := queue.Open(context.Background(), queue.Config{Redis: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cfg := testConfigACD()
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8)}
	s := &sink{got: make(chan cdr.Record, 8)}
	e := NewEngine(cfg, Deps{Instance: instance, Store: st, Dialer: d, CDRs: s, Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.Nop()})
	ctx, cancel := context.WithCancel(context.Background())
	e.Prepare(ctx)
	go e.Run(ctx)
	t.Cleanup(cancel)
	return e, d, s
}

// TestWrapupEndedAndExtendedFromAnotherInstance: the README's two-instance
// setup — the agent's phone registered at A, the call came in at B, so B
// runs the wrap-up. The agent's *45 at A extends it and *44 at A ends it
// (the store passes both to B); the CDR at B carries the wrap-up as it
// really was, and the agent is available again. Before, A refused both.
func TestWrapupEndedAndExtendedFromAnotherInstance(t *testing.T) {
	url := interop.RedisServer(t)
	edit := func(c *Config) { c.Queue.Wrapup = time.Second; c.WrapupExtension = 2 * time.Second }
	a, _, _ := sharedEngine(t, url, "inst-a", edit)
	b, db, sb := sharedEngine(t, url, "inst-b", edit)

	a.AgentRegistered("a1") // the phone is registered at A

	// First call: *45 at A gives the wrap-up (1 s) two more seconds.
	leg := newFakeLeg("b-call-1", "+495136115")
	go b.HandleCall(leg)
	connect(t, db).Hangup()
	waitAgentState(t, a, "a1", AgentWrapUp)
	if prompt, err := a.Feature("a1", "*45"); err != nil || prompt != PromptWrapup {
		t.Fatalf("*45 at A: %q %v, want the wrap-up confirmation", prompt, err)
	}
	r := waitRec(t, sb)
	if r.WrapupMS < 3000 {
		t.Errorf("wrap-up %d ms, want at least 1 s + the 2 s extension", r.WrapupMS)
	}
	waitAgentState(t, a, "a1", AgentAvailable)

	// Second call: B's wrap-up would take 1 s; *44 at A ends it at once
	// (the wrap-up is made 10 minutes long so that only *44 can end it).
	b.cfg.Queue.Wrapup = 10 * time.Minute
	a.cfg.Queue.Wrapup = 10 * time.Minute
	leg2 := newFakeLeg("b-call-2", "+495136115")
	go b.HandleCall(leg2)
	connect(t, db).Hangup()
	waitAgentState(t, a, "a1", AgentWrapUp)
	if prompt, err := a.Feature("a1", "*44"); err != nil || prompt != PromptReady {
		t.Fatalf("*44 at A: %q %v, want the ready confirmation", prompt, err)
	}
	r = waitRec(t, sb)
	if r.CallID != "b-call-2" || r.WrapupMS >= (10*time.Minute).Milliseconds() {
		t.Errorf("cdr %+v, want b-call-2 with its wrap-up ended by *44", r)
	}
	waitAgentState(t, a, "a1", AgentAvailable)

	// Out of wrap-up, both are refused with the reason.
	if _, err := a.Feature("a1", "*45"); err == nil {
		t.Error("*45 while available accepted")
	}
}
