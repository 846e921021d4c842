package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestRouteTakesOverASinkOfTheSameFlow: a waiting caller's audio is sunk
// in the kernel; the call is bridged, and in the moment between Bridge
// setting the peers and dropping the sinks a packet of a new source comes
// up (the sink matches only the old SSRC), is relayed, and its route
// takes the sink's entry in the kernel. Bridge's drop of the sink must
// then leave the route alone: nothing the kernel counted is lost (the
// sink's packets, the route's — RTCP reports and metrics count them) and
// user space takes the stream over where the kernel left it, so that a
// prompt played next goes on with the next sequence number.
func TestRouteTakesOverASinkOfTheSameFlow(t *testing.T) {
	e := kernelEngine(t, nil, nil)
	a, b, caller, agent := legPair(t, e)

	const waiting, talking = 30, 0xBEEF
	for i := range waiting {
		caller.send(t, a.Local(), 8, 0x5EED, frameOf(i))
	}
	waitReceived(t, a, waiting)
	sink := a.kin.Load()
	if sink == nil || sink.out != nil {
		t.Fatal("the waiting caller's audio is not sunk in the kernel")
	}

	// Bridge's first half: the peers.
	a.peer.Store(b)
	b.peer.Store(a)
	var last *rtp.Packet
	hear := func(what string) {
		t.Helper()
		p := agent.recv(t)
		if last != nil && (p.SequenceNumber != last.SequenceNumber+1 || p.Timestamp != last.Timestamp+160 || p.SSRC != last.SSRC) {
			t.Fatalf("%s: seq %d ts %d ssrc %x after seq %d ts %d ssrc %x; want one continuous stream",
				what, p.SequenceNumber, p.Timestamp, p.SSRC, last.SequenceNumber, last.Timestamp, last.SSRC)
		}
		last = p
	}
	// The caller's phone restarts its stream: the sink does not match,
	// user space relays the packet and puts the route in the sink's place.
	caller.send(t, a.Local(), 8, talking, frameOf(100))
	hear("the new source's first packet")
	for deadline := time.Now().Add(20 * time.Second); a.kin.Load() == sink; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no route took the sink's place")
		}
	}
	for i := range 20 {
		caller.send(t, a.Local(), 8, talking, frameOf(101+i))
		hear("through the kernel")
	}

	// Bridge's second half, the drops; then the agent leg plays a
	// prompt (a transfer's hold): its stream goes on from where the
	// kernel left it.
	a.kernelDropBoth()
	b.kernelDropBoth()
	for deadline := time.Now().Add(20 * time.Second); a.Received() != waiting+21 || b.Sent() != 21; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("counted %d received, %d sent; want %d and 21 (nothing the kernel counted may be lost)", a.Received(), b.Sent(), waiting+21)
		}
	}
	b.Play(nil, e.Prompt("hold.wav"))
	if p := agent.recv(t); p.SequenceNumber != last.SequenceNumber+1 || p.SSRC != last.SSRC || !p.Marker {
		t.Fatalf("prompt after the relay: seq %d ssrc %x marker %v, want seq %d ssrc %x with marker",
			p.SequenceNumber, p.SSRC, p.Marker, last.SequenceNumber+1, last.SSRC)
	}
	b.StopPlaying()
	a.Close()
	b.Close()
	if n := testutil.ToFloat64(e.m.kernelRoutes); n != 0 {
		t.Errorf("%v kernel routes counted after both legs closed, want 0", n)
	}
}
