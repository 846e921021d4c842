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

// TestCallbackSurvivesRestartAndCrash (issue 16): the callback lives in
// the store, not in a goroutine. Two instances share a redis-server. A
// caller books a callback at A; A restarts (a clean stop, then the same
// instance again): the callback is still there. An agent becomes free and
// one of the instances runs the callback — and dies while the citizen's
// phone rings. The other's reaper puts the callback back at its place
// (not an interrupted CDR), and it is run to its answer by the survivor:
// one CDR, answered, under the original call id.
func TestCallbackSurvivesRestartAndCrash(t *testing.T) {
	url := interop.RedisServer(t)
	cfg := testConfigACD()
	withCallbacks(&cfg)
	cfg.Callback.RingTimeout = time.Minute // the dying instance's try must not end during the test
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	type node struct {
		e      *Engine
		d      *fakeDialer
		sink   *collect
		cancel context.CancelFunc
	}
	start := func(name string) *node {
		st, err := queue.Open(context.Background(), queue.Config{Redis: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		n := &node{d: &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8), outLegs: make(chan *fakeAgentLeg, 8),
			outGate: make(chan struct{})}, sink: &collect{rows: map[string][]cdr.Record{}}}
		n.e = NewEngine(cfg, Deps{Instance: name, Store: st, Dialer: n.d, CDRs: n.sink,
			Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.Nop()})
		var ctx context.Context
		ctx, n.cancel = context.WithCancel(context.Background())
		t.Cleanup(n.cancel)
		n.e.Prepare(ctx)
		go n.e.Run(ctx)
		return n
	}
	a, b := start("A"), start("B")
	caller := newFakeLeg("cb-1", "+495136115")
	caller.keys = make(chan rune, 8)
	bookCallback(t, a.e, caller)

	// A restarts.
	a.cancel()
	a.e.Close()
	a = start("A")
	cbs, err := b.e.Callbacks(context.Background())
	if err != nil || len(cbs) != 1 || cbs[0].CallID != "cb-1" || cbs[0].State != "waiting" {
		t.Fatalf("after A's restart: callbacks %+v, %v", cbs, err)
	}
	if n := a.sink.count() + b.sink.count(); n != 0 {
		t.Fatalf("%d CDRs written for a callback still waiting", n)
	}

	// An agent logs in at B; whoever runs the callback rings the citizen
	// (its gate holds the answer), and dies.
	b.e.AgentRegistered("a1")
	var runner, survivor *node
	waitFor(t, "the citizen dialed", func() bool {
		for _, n := range []*node{a, b} {
			if len(n.d.eventsSoFar()) == 2 {
				runner = n
			}
		}
		return runner != nil
	})
	survivor = a
	if runner == a {
		survivor = b
	}
	runner.cancel() // dead: no lease renewal, no release

	waitFor(t, "the callback back at its place after the reaper", func() bool {
		cbs, _ := survivor.e.Callbacks(context.Background())
		return len(cbs) == 1 && cbs[0].State != "running" // the reaper took it from the dead instance
	})
	survivor.e.AgentRegistered("a1")
	close(survivor.d.outGate) // the citizen answers this time
	var citizen *fakeAgentLeg
	select {
	case citizen = <-survivor.d.outLegs:
	case <-time.After(30 * time.Second):
		t.Fatalf("the survivor never dialed the citizen; it did %q", survivor.d.eventsSoFar())
	}
	citizen.Hangup()
	waitFor(t, "the callback's CDR", func() bool { return survivor.sink.count() == 1 })
	survivor.sink.mu.Lock()
	rows := survivor.sink.rows["cb-1"]
	survivor.sink.mu.Unlock()
	if len(rows) != 1 || rows[0].Disposition != cdr.Answered || rows[0].Agent != "a1" || rows[0].CallbackAnsweredAt.IsZero() {
		t.Fatalf("rows %+v: want one answered callback CDR", rows)
	}
	if n := runner.sink.count(); n != 0 {
		t.Fatalf("the dead instance wrote %d CDRs", n)
	}
}
