package main

import (
	"context"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/testphone"
)

// TestThirdPartyCannotInjectIntoACall (issue 12, 1a/1b, against the SIP
// server in-process): while a caller talks with an agent, a third party
// on 127.0.0.2 who learned the caller leg's RTP port sprays it with its
// own audio, before and after the caller's first packet. The agent hears
// only the caller; the caller keeps hearing the agent.
func TestThirdPartyCannotInjectIntoACall(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent := agentPhone(ctx, t, target, "1003")
	caller, call := burgdorfCaller(ctx, t, target)
	defer caller.Close()
	defer call.Bye(ctx)
	legAddr, _, err := testphone.ParseSDP(call.Res.Body())
	if err != nil {
		t.Fatal(err)
	}

	attacker := sprayForged(t, "127.0.0.2", legAddr, 10) // before the caller's first packet: must not latch the leg

	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talkBothWays(t, call, in, func() { sprayFrom(attacker, legAddr, 50) }) // and while they talk
	if heardForged(in.RTP.Received()) {
		t.Fatal("the agent heard the third party's audio")
	}
	_ = attacker.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := attacker.ReadFromUDPAddrPort(make([]byte, 1500)); err == nil {
		t.Error("the third party received audio of the call")
	}
}
