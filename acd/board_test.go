package acd

import (
	"context"
	"testing"
	"time"
)

// TestBoardFromTheStore: the wallboard's figures come from the shared
// store — a second engine on the same store (another instance) sees the
// call the first answered in today's and the last 15 minutes' figures,
// and a call waiting at the first as waiting, with its wait so far.
func TestBoardFromTheStore(t *testing.T) {
	e, d, s := testEngine(t)
	other := NewEngine(e.cfg, Deps{Instance: "other", Store: e.Store, Dialer: d, CDRs: s, Log: e.log})
	leg, al := answeredByA1(t, e, d, "c-board")
	time.Sleep(10 * time.Millisecond)
	al.Hangup()
	waitRec(t, s)
	_ = leg
	e.AgentUnregistered("a1")
	waiting := newFakeLeg("c-waits", "+495136115")
	go e.HandleCall(waiting)
	waitCallState(t, e, "c-waits", StateQueued)
	time.Sleep(50 * time.Millisecond)
	var bm BoardMunicipality
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, m := range other.Board(context.Background()).Municipalities {
			if m.Key == "burgdorf" {
				bm = m
			}
		}
		if bm.Today.Offered == 1 && bm.Waiting == 1 {
			break
		}
	}
	if bm.Today.Offered != 1 || bm.Today.Answered != 1 || bm.Today.AnsweredInSL != 1 || bm.Today.Level != 1 {
		t.Errorf("today %+v, want the answered call", bm.Today)
	}
	if bm.Last15.Offered != 1 || len(bm.Intervals) != 1 || bm.Intervals[0].Offered != 1 {
		t.Errorf("last 15 min %+v, intervals %+v: want the one call's quarter hour", bm.Last15, bm.Intervals)
	}
	if bm.Waiting != 1 || bm.LongestWaitSecs < 0.04 {
		t.Errorf("waiting %d, longest wait %.3f s: want the queued call", bm.Waiting, bm.LongestWaitSecs)
	}
	waiting.end()
}

// TestOutcomeLandsInTheCDR: the agent's wrap-up outcome, set through the
// store while it talks or wraps up, is in the call's row and in the
// board's first-contact resolution; a wrong code is refused, and so is an
// outcome without a call.
func TestOutcomeLandsInTheCDR(t *testing.T) {
	e, d, s := testEngine(t)
	ctx := context.Background()
	if err := e.SetOutcome(ctx, "a1", "resolved"); err == nil {
		t.Error("an outcome without a call was taken")
	}
	_, al := answeredByA1(t, e, d, "c-outcome")
	info, err := e.AgentCall(ctx, "a1")
	if err != nil || info.CallID != "c-outcome" || info.Municipality != "burgdorf" || info.MunicipalityName != "Burgdorf" || info.Caller == "" {
		t.Errorf("the agent's call: %+v %v", info, err)
	}
	if err := e.SetOutcome(ctx, "a1", "solved"); err == nil {
		t.Error("an unknown outcome was taken")
	}
	if err := e.SetOutcome(ctx, "a1", "resolved"); err != nil {
		t.Fatal(err)
	}
	al.Hangup()
	if r := waitRec(t, s); r.Outcome != "resolved" {
		t.Errorf("row outcome %q, want resolved", r.Outcome)
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var bm BoardMunicipality
		for _, m := range e.Board(ctx).Municipalities {
			if m.Key == "burgdorf" {
				bm = m
			}
		}
		if bm.Today.FCR == 1 && bm.Today.Resolved == 1 && bm.Today.WithOutcome == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("board today %+v: the resolved call is not in the first-contact resolution", bm.Today)
		}
	}
}
