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
	if bm.Last15.Offered != 1 || len(bm.Intervals) != 96 {
		t.Errorf("last 15 min %+v, %d intervals", bm.Last15, len(bm.Intervals))
	}
	if bm.Waiting != 1 || bm.LongestWaitSecs < 0.04 {
		t.Errorf("waiting %d, longest wait %.3f s: want the queued call", bm.Waiting, bm.LongestWaitSecs)
	}
	waiting.end()
}
