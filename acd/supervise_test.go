package acd

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// TestSupervisorMovesAndOverflowsWaitingCalls: a Burgdorf caller waits
// (nobody logged in); the board lists it with its priority. A supervisor
// moves it to the Lehrte queue — the Lehrte agent who comes gets it — and
// sends a second waiting caller to the federation at once (its row says
// overflowed). A call that waits nowhere cannot be moved.
func TestSupervisorMovesAndOverflowsWaitingCalls(t *testing.T) {
	e, d, s := testEngine(t)
	e.fed = newFederation([]FederationTarget{{Name: "nord", URI: "sip:115@127.0.0.1:5071"}})
	d.forwardOK = true
	ctx := context.Background()
	first := newFakeLeg("c-move", "+495136115")
	go e.HandleCall(first)
	waitCallState(t, e, "c-move", StateQueued)
	var w []BoardWaitingCall
	for deadline := time.Now().Add(20 * time.Second); len(w) == 0 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		w = e.Board(ctx).Waiting
	}
	if len(w) != 1 || w[0].CallID != "c-move" || w[0].Municipality != "burgdorf" || w[0].Priority != 5 || w[0].Queue != "burgdorf" {
		t.Fatalf("waiting %+v", w)
	}
	if err := e.MoveCall(ctx, "c-move", "nowhere"); err == nil {
		t.Error("a move to an unknown queue was taken")
	}
	if err := e.MoveCall(ctx, "c-move", "lehrte"); err != nil {
		t.Fatal(err)
	}
	e.AgentRegistered("junior") // Lehrte only: reachable for the call only once it waits there
	al := connect(t, d)
	waitCallState(t, e, "c-move", StateConnected)
	al.Hangup()
	if r := waitRec(t, s); r.CallID != "c-move" || r.Agent != "junior" {
		t.Errorf("cdr %+v, want the moved call answered by junior", r)
	}
	if err := e.OverflowCall(ctx, "c-move"); !errors.Is(err, errNotWaiting) {
		t.Errorf("overflow of a call that is over: %v, want not waiting", err)
	}

	second := newFakeLeg("c-force", "+495136115")
	go e.HandleCall(second)
	waitCallState(t, e, "c-force", StateQueued)
	if err := e.OverflowCall(ctx, "c-force"); err != nil {
		t.Fatal(err)
	}
	waitCallState(t, e, "c-force", StateConnected)
	second.end()
	if r := waitRec(t, s); r.CallID != "c-force" || r.Disposition != cdr.Overflowed || r.OverflowTarget != "nord" {
		t.Errorf("cdr %+v, want overflowed to nord", r)
	}
}
