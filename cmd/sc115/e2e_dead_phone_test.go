package main

import (
	"context"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
)

// TestDeadPhoneWhoseByeGoesUnansweredEndsTheCall (issue 12, 3): a queued
// caller's phone dies — no RTP, and nobody answers sc115's BYE. The media
// timeout hangs up; when the BYE is not answered the leg is over anyway:
// the call ends with its CDR and is never offered to an agent. Before,
// sipgo kept the dialog open and the dead call waited forever.
func TestDeadPhoneWhoseByeGoesUnansweredEndsTheCall(t *testing.T) {
	cfg := testConfig(t)
	cfg.Media.FirstPacketTimeout = time.Second
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	caller, err := testphone.New("+495132999555", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	call, err := caller.Dial(ctx, s.sip.Addr().String(), "+495132115", nil) // Lehrte: nobody logged in, it waits
	if err != nil {
		t.Fatal(err)
	}
	caller.Close() // the phone dies: it sends nothing and answers nothing
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 60*time.Second)
	if row["hangup_by"] != "media-timeout" || row["disposition"] != "failed" {
		t.Errorf("cdr %v, want failed, hangup_by media-timeout", row)
	}
	for deadline := time.Now().Add(30 * time.Second); len(s.engine.Calls(ctx)) != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("calls still in the engine: %+v", s.engine.Calls(ctx))
		}
	}
}

// TestDeadCallerFreesTheAgent (issue 12, 3): a caller talking with an
// agent dies (its RTP stops, its phone answers no BYE): the call ends, the
// CDR says answered with hangup_by media-timeout, and the agent is free
// again after wrap-up instead of staying on-call for good. (This case
// already ended through the agent leg, whose phone answers its BYE; the
// test keeps it so with the caller leg now ending on its own.)
func TestDeadCallerFreesTheAgent(t *testing.T) {
	cfg := testConfig(t)
	cfg.Media.FirstPacketTimeout, cfg.Media.IdleTimeout = time.Second, time.Second
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent := agentPhone(ctx, t, target, "1003")
	caller, call := burgdorfCaller(ctx, t, target)
	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = in.RTP.Send(0, make([]byte, 160), 500) }() // the agent keeps talking
	_ = call.RTP.Send(8, make([]byte, 160), 10)
	caller.Close() // the caller's phone dies mid-call
	row := waitCDR(t, cfg.CDR.Dir, call.CallID, 60*time.Second)
	if row["disposition"] != "answered" || row["hangup_by"] != "media-timeout" || row["agent"] != "1003" {
		t.Errorf("cdr %v, want answered by 1003, hangup_by media-timeout", row)
	}
	for deadline := time.Now().Add(30 * time.Second); s.engine.AgentStates()["1003"] != acd.AgentAvailable; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("agent 1003 is %s, want available again", s.engine.AgentStates()["1003"])
		}
	}
}
