package media

import (
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"
)

// newPeerAt is a remote RTP endpoint on a loopback address of its own
// (127.0.0.2 is another host to sc115; still this machine).
func newPeerAt(t testing.TB, ip string) *peer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{conn: c, seq: 100, ts: 1000}
}

func waitReceived(t *testing.T, s *Session, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); s.Received() < n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("leg received %d packets, want %d", s.Received(), n)
		}
	}
}

// bridgedPair is a caller leg and an agent leg, bridged, with their peers.
func bridgedPair(t *testing.T, e *Engine) (a, b *Session, caller, agent *peer) {
	t.Helper()
	a, b, caller, agent = legPair(t, e)
	Bridge(a, b)
	return a, b, caller, agent
}

// legPair is a caller leg and an agent leg (PCMA, payload type 8) with
// their peers, bridged to no one yet.
func legPair(t *testing.T, e *Engine) (a, b *Session, caller, agent *peer) {
	t.Helper()
	caller, agent = newPeer(t), newPeer(t)
	var err error
	if a, err = e.NewSession(); err != nil {
		t.Fatal(err)
	}
	if b, err = e.NewSession(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	t.Cleanup(b.Close)
	a.SetParams(Params{Remote: caller.addr(), Codec: PCMA, PT: 8})
	b.SetParams(Params{Remote: agent.addr(), Codec: PCMA, PT: 8})
	return a, b, caller, agent
}

// TestForeignRTPIsNotRelayed (issue 12, 1a): packets from an address the
// signalling did not name, sent into a bridged leg's port, never reach
// the other party; they are counted; the real caller's audio still does.
func TestForeignRTPIsNotRelayed(t *testing.T) {
	e := testEngine(t)
	a, _, caller, agent := bridgedPair(t, e)
	attacker := newPeerAt(t, "127.0.0.2")
	injected := make([]byte, 160)
	for i := range injected {
		injected[i] = 0xEE
	}
	for range 10 {
		attacker.send(t, a.Local(), 8, 0x666, injected)
	}
	real := make([]byte, 160)
	for i := range real {
		real[i] = byte(i)
	}
	caller.send(t, a.Local(), 8, 0x1, real)
	if got := agent.recv(t); string(got.Payload) != string(real) {
		t.Fatalf("the agent got %x…, want the caller's audio", got.Payload[:4])
	}
	drain(agent)
	if a.Received() != 1 {
		t.Errorf("caller leg counted %d packets, want only the caller's 1", a.Received())
	}
	if n := testutil.ToFloat64(e.m.foreign); n != 10 {
		t.Errorf("foreign packets counted %v, want 10", n)
	}
}

// TestAttackerBeforeFirstPacketDoesNotLatch (issue 12, 1b): ten packets
// from elsewhere right after the answer, before the caller's first one,
// do not take the leg over: sc115 keeps sending to the caller and takes
// the caller's packets once they come.
func TestAttackerBeforeFirstPacketDoesNotLatch(t *testing.T) {
	e := testEngine(t)
	a, _, caller, agent := bridgedPair(t, e)
	attacker := newPeerAt(t, "127.0.0.2")
	for range 10 {
		attacker.send(t, a.Local(), 8, 0x666, make([]byte, 160))
	}
	a.Play(nil, e.Prompt("hold.wav"))
	if p := caller.recv(t); p.PayloadType != 8 {
		t.Errorf("caller got pt %d", p.PayloadType)
	}
	_ = attacker.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	if _, err := attacker.conn.Read(make([]byte, 1500)); err == nil {
		t.Error("the attacker received the caller leg's audio")
	}
	a.StopPlaying()
	caller.send(t, a.Local(), 8, 0x1, make([]byte, 160))
	waitReceived(t, a, 1)
	agent.recv(t)
}

// TestRTPPortsAreNotSequential (issue 12, 1c): the next call's ports
// cannot be told from one call's: 20 legs in a row do not take ports in
// sequence.
func TestRTPPortsAreNotSequential(t *testing.T) {
	e := testEngine(t)
	var ports []int
	for range 20 {
		s, err := e.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		ports = append(ports, int(s.Local().Port()))
	}
	steps := map[int]int{}
	for i := 1; i < len(ports); i++ {
		steps[ports[i]-ports[i-1]]++
	}
	for step, n := range steps {
		if n > 5 { // random places in 500 pairs: a repeated step is rare
			t.Errorf("ports %v: step %d repeats %d times", ports, step, n)
		}
	}
}

// TestNATSourceAndStrictMode: under signalled-ip a phone behind NAT whose
// SDP names another address is taken from its SIP source IP; under strict
// only the exact SDP address is.
func TestNATSourceAndStrictMode(t *testing.T) {
	for _, mode := range []string{LatchSignalledIP, LatchStrict} {
		cfg := Defaults()
		cfg.PromptsDir, cfg.RTPPorts, cfg.Latching = "../../prompts/de", "42000-42999", mode
		e, err := NewEngine(cfg, "127.0.0.1", nil, zerolog.Nop())
		if err != nil {
			t.Fatal(err)
		}
		s, err := e.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		phone := newPeer(t)                  // its real address (127.0.0.1, the SIP source)
		sdpPeer := newPeerAt(t, "127.0.0.9") // what its SDP said (a private address)
		s.SetParams(Params{Remote: sdpPeer.addr(), Source: phone.addr().Addr(), Codec: PCMA, PT: 8})
		phone.send(t, s.Local(), 8, 1, make([]byte, 160))
		if mode == LatchSignalledIP {
			waitReceived(t, s, 1)
			s.Play(nil, e.Prompt("hold.wav"))
			phone.recv(t) // latched: sc115 answers where the packets come from
		} else {
			sdpPeer.send(t, s.Local(), 8, 1, make([]byte, 160))
			waitReceived(t, s, 1)
			for deadline := time.Now().Add(20 * time.Second); testutil.ToFloat64(e.m.foreign) < 1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("strict: the packet from the SIP source was neither taken nor dropped")
				}
			}
			if s.Received() != 1 {
				t.Errorf("strict: %d packets taken, want only the one from the SDP address", s.Received())
			}
		}
		s.Close()
		e.Close()
	}
}
