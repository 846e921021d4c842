package simulate

import (
	"bytes"
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestRTPPayload: the payload behind CSRCs, a header extension and
// padding, as pion writes them; short or foreign packets are refused.
func TestRTPPayload(t *testing.T) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 8, SequenceNumber: 7, CSRC: []uint32{1, 2}}, Payload: agentFrame}
	if err := p.Header.SetExtension(1, []byte{1, 2, 3, 4, 5}); err != nil {
		t.Fatal(err)
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	b = append(b, 0, 0, 3) // three bytes of padding
	b[0] |= 0x20
	pt, payload, ok := rtpPayload(b)
	if !ok || pt != 8 || !bytes.Equal(payload, agentFrame) {
		t.Fatalf("pt %d ok %v payload %d bytes", pt, ok, len(payload))
	}
	for _, bad := range [][]byte{nil, {0x80}, make([]byte, 11), {0x40, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, {0x9f, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}} {
		if _, _, ok := rtpPayload(bad); ok {
			t.Errorf("% x accepted", bad)
		}
	}
}

// FuzzRTPPayload: no packet makes the reader panic.
func FuzzRTPPayload(f *testing.F) {
	f.Add([]byte{0x90, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0xff, 0xff})
	f.Add([]byte{0xa0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, p, ok := rtpPayload(b); ok && len(p) > len(b) {
			t.Fatalf("payload longer than the packet")
		}
	})
}

// TestMediaPortDemux: two legs on one socket — each counts only the
// expected frames from its own peer, and the pacer sends each leg's
// frames to its peer at 20 ms.
func TestMediaPortDemux(t *testing.T) {
	m, err := newMediaPort(false)
	if err != nil {
		t.Fatal(err)
	}
	defer m.close()
	peerA, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	peerB, _ := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	defer peerA.Close()
	defer peerB.Close()
	a := m.newStream(callerFrame, agentFrame, 8)
	b := m.newStream(callerFrame, agentFrame, 8)
	m.attach(a, peerA.LocalAddr().(*net.UDPAddr).AddrPort())
	m.attach(b, peerB.LocalAddr().(*net.UDPAddr).AddrPort())
	a.sending.Store(true)
	pkt := func(pt uint8, payload []byte) []byte {
		out, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt}, Payload: payload}).Marshal()
		return out
	}
	to := m.addr
	// B's peer sends a prompt (not counted) and one frame in the wrong law.
	_, _ = peerB.WriteToUDPAddrPort(pkt(8, callerFrame), to)
	_, _ = peerB.WriteToUDPAddrPort(pkt(0, agentFrame), to)
	select {
	case <-b.heard:
	case <-time.After(10 * time.Second):
		t.Fatal("B never heard its peer")
	}
	select {
	case <-a.heard:
		t.Fatal("A heard B's peer")
	default:
	}
	if m.got.Load() != 1 || m.wrongLaw.Load() != 1 {
		t.Errorf("got %d wrong law %d, want 1 and 1", m.got.Load(), m.wrongLaw.Load())
	}
	// A sends; B (not sending) does not.
	buf := make([]byte, 1500)
	_ = peerA.SetReadDeadline(time.Now().Add(10 * time.Second))
	var seqs []uint16
	for len(seqs) < 3 {
		n, err := peerA.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil || !bytes.Equal(p.Payload, callerFrame) || p.PayloadType != 8 || p.SSRC != a.ssrc {
			t.Fatalf("A's peer got %v (%v)", p.Header, err)
		}
		seqs = append(seqs, p.SequenceNumber)
	}
	if seqs[1] != seqs[0]+1 || seqs[2] != seqs[1]+1 {
		t.Errorf("sequence %v", seqs)
	}
	_ = peerB.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if _, err := peerB.Read(buf); err == nil {
		t.Error("B's peer got a frame though B does not send")
	}
}

// TestHoldPacing: a stream whose frames come on time but for two, 3 ms
// and 12 ms late, gives 50 frames a second and those latenesses, measured
// from the stream's earliest frame (one 1 ms early frame is the reference).
func TestHoldPacing(t *testing.T) {
	var p pacing
	pkt := make([]byte, 12)
	start := int64(time.Hour)
	for i := range 100 {
		binary.BigEndian.PutUint32(pkt[4:], uint32(5000+160*i))
		at := start + int64(i)*int64(20*time.Millisecond)
		switch i {
		case 10:
			at -= int64(time.Millisecond)
		case 40:
			at += int64(3 * time.Millisecond)
		case 70:
			at += int64(12 * time.Millisecond)
		}
		p.frame(pkt, at)
	}
	h := holdPacing([]*pacing{&p, {frames: 3}})
	if h.Streams != 1 || h.Frames != 100 {
		t.Fatalf("%d streams, %d frames; want 1 and 100 (a stream under a second does not count)", h.Streams, h.Frames)
	}
	if h.FPSMean < 49.9 || h.FPSMean > 50.1 || h.FPSMin != h.FPSMean {
		t.Errorf("frames a second %.2f (lowest %.2f), want 50", h.FPSMean, h.FPSMin)
	}
	if h.LateP50 != time.Millisecond || h.LateMax != 13*time.Millisecond || h.LateP99 != 13*time.Millisecond {
		t.Errorf("late p50 %v p99 %v max %v; want 1ms (all against the early frame), 13ms, 13ms", h.LateP50, h.LateP99, h.LateMax)
	}
}
