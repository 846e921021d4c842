package media

import (
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/sc115/sc115/sip/media/uring"
)

// bothSendPaths runs f on an engine that batches the clock's frames with
// io_uring and on one that sends them one by one (the relay in user space
// in both). Where the kernel refuses io_uring the batched run skips, but
// fails under SC115_INTEROP=required.
func bothSendPaths(t *testing.T, f func(t *testing.T, e *Engine)) {
	eachMode(t, "send_batching", []string{BatchOn, BatchOff}, func(c *Config, m string) {
		c.SendBatching, c.KernelForwarding = m, KernelOff
	}, uring.ErrUnsupported, f)
}

// TestHoldStreamsOnBothSendPaths: forty callers hear the greeting and then
// hold music, each as one continuous stream from its own leg's port, the
// same frames whether the clock sends a phase in one io_uring submission
// or frame by frame; a leg that hangs up mid-phase stops alone.
func TestHoldStreamsOnBothSendPaths(t *testing.T) {
	bothSendPaths(t, func(t *testing.T, e *Engine) {
		const legs, frames = 40, 25
		greeting := e.Prompt("greeting.wav")
		var sess []*Session
		var peers []*peer
		for range legs {
			s, err := e.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(s.Close)
			p := newPeer(t)
			s.SetParams(Params{Remote: p.addr(), Codec: PCMA, PT: 8})
			sess, peers = append(sess, s), append(peers, p)
		}
		for _, s := range sess {
			s.Play([]*Prompt{greeting}, e.Prompt("hold.wav"))
		}
		for i, p := range peers {
			first, from := recvFrom(t, p)
			if from != sess[i].Local() {
				t.Fatalf("leg %d: hold audio from %v, want its own socket %v", i, from, sess[i].Local())
			}
			if !first.Marker || first.PayloadType != 8 || string(first.Payload) != string(greeting.Frame(PCMA, 0)) {
				t.Fatalf("leg %d: first frame pt %d marker %v, want the greeting's first A-law frame with marker", i, first.PayloadType, first.Marker)
			}
			last := first
			for range frames - 1 {
				pkt := p.recv(t)
				d := pkt.Timestamp - first.Timestamp
				if pkt.SSRC != first.SSRC || pkt.SequenceNumber != last.SequenceNumber+1 || pkt.Timestamp <= last.Timestamp || d%FrameSamples != 0 {
					t.Fatalf("leg %d: stream not continuous: %+v after %+v", i, pkt.Header, last.Header)
				}
				// A late clock skips frames (the timestamp jumps): the
				// payload is always the greeting's frame at that timestamp.
				if want := greeting.Frame(PCMA, int(d/FrameSamples)); string(pkt.Payload) != string(want) {
					t.Fatalf("leg %d: frame at +%d samples is not the greeting's", i, d)
				}
				last = pkt
			}
		}
		frames0 := e.m.packetsOut.Load()
		sess[0].Close()
		sess[0].out.mu.Lock()
		lastSeq := sess[0].out.seq // the closed leg's last frame
		sess[0].out.mu.Unlock()
		for i := 1; i < legs; i++ {
			if p := peers[i].recv(t); p.SSRC == 0 {
				t.Fatalf("leg %d: no frame after another leg hung up", i)
			}
		}
		// The closed leg's queue holds only frames sent before Close
		// returned; a frame sent after it would carry a later number.
		buf := make([]byte, 1500)
		for n := 0; ; n++ {
			_ = peers[0].conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			k, err := peers[0].conn.Read(buf)
			if err != nil {
				break
			}
			var h rtp.Header
			if _, err := h.Unmarshal(buf[:k]); err == nil && int16(h.SequenceNumber-lastSeq) > 0 {
				t.Fatalf("the closed leg sent frame %d after its last, %d", h.SequenceNumber, lastSeq)
			}
			if n > 10*frames {
				t.Fatal("the closed leg is still sending")
			}
		}
		sent := e.m.packetsOut.Load()
		batches := testutil.ToFloat64(e.m.sendBatches)
		if e.clock.batched() {
			// 40 legs over 2 shards × 4 phases: about 5 frames a submission.
			if batches == 0 || batches > float64(sent)/2 {
				t.Errorf("%v submissions for %d frames: the frames were not batched", batches, sent)
			}
		} else if batches != 0 {
			t.Errorf("send_batching off, and %v io_uring submissions", batches)
		}
		if f := testutil.ToFloat64(e.m.sendFailures); f != 0 {
			t.Errorf("%v frames refused", f)
		}
		if sent <= frames0 {
			t.Errorf("no frame counted after the hang-up (%d, then %d)", frames0, sent)
		}
	})
}

// recvFrom is peer.recv with the datagram's source.
func recvFrom(t *testing.T, p *peer) (*rtp.Packet, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	_ = p.conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a deadline, not a speed
	n, from, err := p.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no packet: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return &pkt, from
}
