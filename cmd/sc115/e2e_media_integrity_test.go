package main

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/zaf/g711"

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

	attacker, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP("127.0.0.2")})
	if err != nil {
		t.Fatal(err)
	}
	defer attacker.Close()
	forged := make([]byte, 160)
	for i := range forged {
		forged[i] = 0xEE
	}
	spray := func(n int) {
		for i := range n {
			b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: uint16(i), Timestamp: uint32(i * 160), SSRC: 0x666}, Payload: forged}).Marshal()
			_, _ = attacker.WriteToUDPAddrPort(b, legAddr)
		}
	}
	spray(10) // before the caller's first packet: must not latch the leg

	in, err := agent.NextIncoming(ctx)
	if err != nil {
		t.Fatal(err)
	}
	callerFrame, agentFrame := talkFrames()
	go func() { _ = in.RTP.Send(0, agentFrame, 50) }()
	go spray(50) // and while they talk
	if err := call.RTP.Send(8, callerFrame, 50); err != nil {
		t.Fatal(err)
	}
	waitHeard(t, "agent", in.RTP.Received, 0, g711.Alaw2Ulaw(callerFrame), 48)
	waitHeard(t, "caller", call.RTP.Received, 8, g711.Ulaw2Alaw(agentFrame), 48)
	forgedAsAgentHearsIt := string(g711.Alaw2Ulaw(forged))
	for _, p := range in.RTP.Received() {
		if string(p.Payload) == forgedAsAgentHearsIt {
			t.Fatal("the agent heard the third party's audio")
		}
	}
	_ = attacker.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, _, err := attacker.ReadFromUDPAddrPort(make([]byte, 1500)); err == nil {
		t.Error("the third party received audio of the call")
	}
}
