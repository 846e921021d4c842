package simulate

import (
	"bytes"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"
	"unsafe"

	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
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
	h := holdPacing([]*pacing{&p, {frames: 3}}, 0, 0)
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

// TestHoldPacingTellsLostFromSkipped: of a stream of 100 frames, two
// packets never arrive (sequence numbers 30 and 31 missing: lost on the
// way) and in another place the sender skips three frames of media (the
// sequence goes on by one, the timestamp by four frames); a duplicate
// counts as neither.
func TestHoldPacingTellsLostFromSkipped(t *testing.T) {
	var p pacing
	pkt := make([]byte, 12)
	start := int64(time.Hour)
	seq, media := uint16(65500), 0 // the sequence number wraps on the way
	for i := range 100 {
		switch i {
		case 30:
			seq += 2 // two packets lost: their media time passes too
			media += 2
		case 60:
			media += 3 // the sender skipped three frames
		}
		binary.BigEndian.PutUint16(pkt[2:], seq)
		binary.BigEndian.PutUint32(pkt[4:], uint32(4294967000+160*media)) // the timestamp wraps too
		p.frame(pkt, start+int64(media)*int64(20*time.Millisecond))
		if i == 80 {
			p.frame(pkt, start+int64(media)*int64(20*time.Millisecond)) // a duplicate
		}
		seq++
		media++
	}
	h := holdPacing([]*pacing{&p}, 0, 0)
	if h.Lost != 2 || h.Skipped != 3 {
		t.Errorf("lost %d, skipped %d; want 2 and 3", h.Lost, h.Skipped)
	}
}

// timestampOOB is the control data of SO_TIMESTAMPNS for a datagram that
// arrived at (unix ns).
func timestampOOB(at int64) []byte {
	oob := make([]byte, unix.CmsgSpace(16))
	h := (*unix.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level, h.Type = unix.SOL_SOCKET, unix.SCM_TIMESTAMPNS
	h.SetLen(unix.CmsgLen(16))
	*(*unix.Timespec)(unsafe.Pointer(&oob[unix.SizeofCmsghdr])) = unix.NsecToTimespec(at)
	return oob
}

// TestHoldMeasuredInTheSteadyWindow: frames before every call was on the
// line (sc115 busy with the ramp-up: 20 a second here) and after the first
// hang-up do not count; the stream is measured from its first frame in
// the window, and the report says how long the window was.
func TestHoldMeasuredInTheSteadyWindow(t *testing.T) {
	m := &mediaPort{measure: true}
	st := &stream{expect: []byte{1, 2, 3}, pt: 8, heard: make(chan struct{})}
	pkt := make([]byte, 12+160)
	pkt[0], pkt[1] = 0x80, 8
	frame := func(i int, at int64) {
		binary.BigEndian.PutUint32(pkt[4:], uint32(160*i))
		m.count(st, datagram{data: pkt, oob: timestampOOB(at), from: netip.AddrPort{}})
	}
	base := int64(time.Hour)
	ms := int64(time.Millisecond)
	for i := range 30 { // ramp-up: a frame every 50 ms
		frame(i, base+int64(i)*50*ms)
	}
	from := base + 30*50*ms
	m.windowFrom.Store(from)
	for i := range 100 {
		frame(1000+i, from+int64(i)*20*ms)
	}
	to := from + 100*20*ms
	m.windowTo.Store(to)
	for i := range 20 { // the hang-ups: late and sparse again
		frame(2000+i, to+int64(i)*70*ms)
	}
	h := holdPacing([]*pacing{&st.pace}, from, to)
	if h.Streams != 1 || h.Frames != 100 {
		t.Fatalf("%d streams, %d frames; want 1 and the window's 100", h.Streams, h.Frames)
	}
	if h.FPSMean < 49.9 || h.FPSMean > 50.1 {
		t.Errorf("frames a second %.2f, want 50 (the ramp-up and the hang-ups left out)", h.FPSMean)
	}
	if h.LateMax != 0 || h.Window != 2*time.Second {
		t.Errorf("late max %v over a window of %v; want 0 and 2s", h.LateMax, h.Window)
	}
}
