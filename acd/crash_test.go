package acd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/queue"
)

// TestCrashedInstanceIsReaped: engine B stops dead (no drain, no lease
// release, its goroutines just stop talking to Redis). After about 9 s
// engine A reaps it: B's waiting calls and the call it had just answered
// (200 OK sent, no ACK yet: issue 13, 3) get an interrupted CDR each, the
// connected one an answered CDR (hangup_by instance-lost, billed), the
// agent that was talking for B is available again, B's own agents are
// logged out, and nothing of B is left in the store.
func TestCrashedInstanceIsReaped(t *testing.T) {
	url := interop.RedisServer(t)
	cfg := multiConfig(4) // ag000 hannover, ag001 burgdorf, ag002 lehrte, ag003 garbsen (+hannover)
	cfg.Queue.RingTimeout = time.Second
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	open := func() *queue.Store {
		st, err := queue.Open(context.Background(), queue.Config{Redis: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		return st
	}
	sinkA := &collect{rows: map[string][]cdr.Record{}}
	sinkB := &collect{rows: map[string][]cdr.Record{}}
	stA, stB := open(), open()
	dA := &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8)}
	dB := &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8)}
	mk := func(name string, st *queue.Store, d AgentDialer, sink CDRSink) *Engine {
		return NewEngine(cfg, Deps{Instance: name, Store: st, Dialer: d, CDRs: sink, Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.Nop()})
	}
	a, b := mk("A", stA, dA, sinkA), mk("B", stB, dB, sinkB)
	ctxA, cancelA := context.WithCancel(context.Background())
	defer cancelA()
	ctxB, crashB := context.WithCancel(context.Background())
	a.Prepare(ctxA)
	go a.Run(ctxA)
	b.Prepare(ctxB)
	go b.Run(ctxB)
	a.AgentRegistered("ag000") // hannover, registered at A
	b.AgentRegistered("ag001") // burgdorf, registered at B

	// B owns a connected Hannover call (agent ag000 of A talks on it) and
	// two waiting Lehrte calls.
	talking := newFakeLeg("b-talking", "+495130115")
	go b.HandleCall(talking)
	select {
	case <-dB.legs:
	case <-time.After(5 * time.Second):
		t.Fatal("B's call never connected")
	}
	// Connected, i.e. its answer time is in the store, before B dies: the
	// dialer returning the agent's leg is not yet that.
	waitCallState(t, b, "b-talking", StateConnected)
	for i := 0; i < 2; i++ {
		go b.HandleCall(newFakeLeg(fmt.Sprintf("b-wait-%d", i), "+495132115"))
	}
	answering := newFakeLeg("b-answering", "+495132115")
	answering.ack = make(chan struct{}) // never comes
	go b.HandleCall(answering)
	waitOwnedCalls(t, stA, "B", 4)

	// B dies: its lease is no longer renewed and its goroutines stay stuck.
	crashB()
	start := time.Now()
	// About LeaseTTL + 2·ReapEvery (9 s); the deadline only bounds a hang.
	for sinkA.count() < 4 {
		if time.Since(start) > time.Minute {
			t.Fatalf("after a minute A wrote %d CDRs for B's calls, want 4", sinkA.count())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("B's calls reaped after %v", time.Since(start).Round(100*time.Millisecond))
	for id, rows := range sinkA.rows {
		r := rows[0]
		if r.Instance != "B" || r.HangupBy != cdr.HangupInstanceLost {
			t.Errorf("%s: %+v, want instance B, hangup_by instance-lost", id, r)
		}
		if id != "b-talking" && r.Disposition != cdr.Interrupted {
			t.Errorf("%s: %+v, want interrupted (never answered)", id, r)
		}
	}
	// The answered call is answered (billed like a call cut by shutdown),
	// its talk ending at B's last heartbeat, before the crash.
	if r := sinkA.rows["b-talking"][0]; r.Disposition != cdr.Answered || r.Agent != "ag000" || r.AnsweredAt.IsZero() || r.Municipality != "hannover" ||
		r.EndedAt.Before(r.AnsweredAt) || r.EndedAt.After(start) || r.TalkMS != r.EndedAt.Sub(r.AnsweredAt).Milliseconds() {
		t.Errorf("connected call's CDR %+v, want answered by ag000 for hannover, ended at B's last sign of life before %v", r, start)
	}
	if info, _ := stA.Agent(context.Background(), "ag000"); info.State != string(AgentAvailable) {
		t.Errorf("ag000 (A's agent, was talking for B) is %+v, want available", info)
	}
	if info, _ := stA.Agent(context.Background(), "ag001"); info.State != string(AgentLoggedOut) || info.Reason != "instance-lost" {
		t.Errorf("ag001 (registered at B) is %+v, want logged-out (instance-lost)", info)
	}
	if n, _ := stA.OwnedCalls(context.Background(), "B"); n != 0 {
		t.Errorf("B still owns %d calls", n)
	}
	if n, _ := stA.Waiting(context.Background(), "lehrte"); n != 0 {
		t.Errorf("%d calls still wait for lehrte", n)
	}
}

// TestRestartKeepsAgentStates: with an external Redis, an instance that is
// killed and started again at once (its lease still valid) finds its
// agents as they were — a paused agent stays paused when its phone
// registers again — and ends the calls its previous run left, each with
// an interrupted CDR.
func TestRestartKeepsAgentStates(t *testing.T) {
	url := interop.RedisServer(t)
	cfg := multiConfig(4)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	start := func(sink CDRSink) (*Engine, context.CancelFunc) {
		st, err := queue.Open(context.Background(), queue.Config{Redis: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		e := NewEngine(cfg, Deps{Instance: "X", Store: st, Dialer: &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8)},
			CDRs: sink, Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.Nop()})
		ctx, cancel := context.WithCancel(context.Background())
		e.Prepare(ctx)
		go e.Run(ctx)
		return e, cancel
	}
	first := &collect{rows: map[string][]cdr.Record{}}
	e1, kill := start(first)
	e1.AgentRegistered("ag001")
	if err := e1.Pause("ag001", "meeting"); err != nil {
		t.Fatal(err)
	}
	go e1.HandleCall(newFakeLeg("left-behind", "+495131115")) // burgdorf: ag001 is paused, so it waits
	waitOwnedCalls(t, e1.Store.(*queue.Store), "X", 1)
	kill() // no drain: the process is gone

	second := &collect{rows: map[string][]cdr.Record{}}
	e2, stop := start(second)
	defer stop()
	e2.AgentRegistered("ag001")
	if st := e2.AgentStates()["ag001"]; st != AgentPaused {
		t.Errorf("ag001 after restart: %s, want still paused", st)
	}
	if rows := second.rows["left-behind"]; len(rows) != 1 || rows[0].Disposition != cdr.Interrupted {
		t.Errorf("the previous run's call: %+v, want one interrupted CDR", rows)
	}
	if n, _ := e2.Store.Waiting(context.Background(), "burgdorf"); n != 0 {
		t.Errorf("%d calls still waiting", n)
	}
}

// waitOwnedCalls waits until the store holds n calls of instance.
func waitOwnedCalls(t *testing.T, st *queue.Store, instance string, n int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, _ := st.OwnedCalls(context.Background(), instance)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s owns %d calls in the store, want %d", instance, got, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
