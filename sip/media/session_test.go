package media

import (
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/rs/zerolog"
	"github.com/zaf/g711"
)

// testEngine builds an engine on the shipped prompts; ports is the RTP
// range (default 41000-41999).
func testEngine(t testing.TB, ports ...string) *Engine {
	t.Helper()
	cfg := Defaults()
	cfg.PromptsDir = "../../prompts/de"
	cfg.RTPPorts = "41000-41999"
	if len(ports) > 0 {
		cfg.RTPPorts = ports[0]
	}
	e, err := NewEngine(cfg, "127.0.0.1", nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// peer is a remote RTP endpoint in the test.
type peer struct {
	conn *net.UDPConn
	seq  uint16
	ts   uint32
}

func newPeer(t testing.TB) *peer {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{conn: c, seq: 100, ts: 1000}
}

func (p *peer) addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *peer) send(t testing.TB, to netip.AddrPort, pt uint8, ssrc uint32, payload []byte) {
	p.seq++
	p.ts += 160
	b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: p.seq, Timestamp: p.ts, SSRC: ssrc}, Payload: payload}).Marshal()
	if _, err := p.conn.WriteToUDPAddrPort(b, to); err != nil {
		t.Fatal(err)
	}
}

func (p *peer) recv(t testing.TB) *rtp.Packet {
	t.Helper()
	buf := make([]byte, 1500)
	_ = p.conn.SetReadDeadline(time.Now().Add(20 * time.Second)) // a deadline, not a speed
	n, err := p.conn.Read(buf)
	if err != nil {
		t.Fatalf("no packet: %v", err)
	}
	var pkt rtp.Packet
	if err := pkt.Unmarshal(buf[:n]); err != nil {
		t.Fatal(err)
	}
	return &pkt
}

func TestPromptThenRelayKeepsOneStream(t *testing.T) {
	e := testEngine(t)
	caller, agent := newPeer(t), newPeer(t)
	a, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Local().Port()%2 != 0 || b.Local().Port()%2 != 0 {
		t.Errorf("RTP ports %d %d must be even", a.Local().Port(), b.Local().Port())
	}
	a.SetParams(Params{Remote: caller.addr(), Codec: PCMA, PT: 8, DTMFPT: 101})
	b.SetParams(Params{Remote: agent.addr(), Codec: PCMU, PT: 0, DTMFPT: 96})

	greeting := e.Prompt("greeting.wav")
	a.Play([]*Prompt{greeting}, e.Prompt("hold.wav"))
	first := caller.recv(t)
	if first.PayloadType != 8 || string(first.Payload) != string(greeting.Frame(PCMA, 0)) || !first.Marker {
		t.Fatalf("first frame: pt %d marker %v, want the greeting's first A-law frame with marker", first.PayloadType, first.Marker)
	}
	last := first
	for i := 1; i < 5; i++ {
		p := caller.recv(t)
		if p.SequenceNumber != last.SequenceNumber+1 || p.Timestamp != last.Timestamp+160 || p.SSRC != first.SSRC {
			t.Fatalf("generated stream not continuous: %+v after %+v", p.Header, last.Header)
		}
		last = p
	}

	Bridge(a, b)
	time.Sleep(30 * time.Millisecond) // a clock tick in flight may still arrive
	drain(caller)
	last = nil
	frame := make([]byte, 160)
	for i := range frame {
		frame[i] = byte(i)
	}
	agent.send(t, b.Local(), 0, 0xABCDEF, frame)
	got := caller.recv(t)
	if got.SSRC != first.SSRC {
		t.Errorf("SSRC toward caller changed on switch: %x → %x", first.SSRC, got.SSRC)
	}
	if !got.Marker {
		t.Error("no marker bit on the switch from prompt to agent audio")
	}
	if got.PayloadType != 8 || string(got.Payload) != string(g711.Ulaw2Alaw(frame)) {
		t.Errorf("relayed payload not transcoded µ-law → A-law (pt %d)", got.PayloadType)
	}
	agent.send(t, b.Local(), 0, 0xABCDEF, frame)
	next := caller.recv(t)
	if next.SequenceNumber != got.SequenceNumber+1 || next.Timestamp != got.Timestamp+160 || next.Marker {
		t.Errorf("relayed stream not continuous: %+v after %+v", next.Header, got.Header)
	}

	// The other way, and DTMF with payload-type mapping (96 → 101).
	caller.send(t, a.Local(), 8, 0x1234, frame)
	if p := agent.recv(t); p.PayloadType != 0 || string(p.Payload) != string(g711.Alaw2Ulaw(frame)) {
		t.Errorf("caller → agent: pt %d, payload not transcoded A-law → µ-law", p.PayloadType)
	}
	agent.send(t, b.Local(), 96, 0xABCDEF, []byte{5, 0x80, 0, 160})
	if p := caller.recv(t); p.PayloadType != 101 || p.Payload[0] != 5 {
		t.Errorf("DTMF: pt %d payload %v, want pt 101 digit 5", p.PayloadType, p.Payload)
	}
	if a.Received() != 1 || b.Received() != 3 {
		t.Errorf("received counters a=%d b=%d, want 1 and 3", a.Received(), b.Received())
	}
}

func TestSymmetricRTPLatchesToSource(t *testing.T) {
	e := testEngine(t)
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	advertised, real := newPeer(t), newPeer(t)
	s.SetParams(Params{Remote: advertised.addr(), Codec: PCMU, PT: 0})
	real.send(t, s.Local(), 0, 1, make([]byte, 160)) // NAT: packets come from elsewhere
	for deadline := time.Now().Add(20 * time.Second); s.Received() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the packet never arrived")
		}
	}
	s.Play(nil, e.Prompt("hold.wav"))
	if p := real.recv(t); p.PayloadType != 0 {
		t.Errorf("pt %d", p.PayloadType)
	}
}

func drain(p *peer) {
	buf := make([]byte, 1500)
	for {
		_ = p.conn.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
		if _, err := p.conn.Read(buf); err != nil {
			return
		}
	}
}

func TestPlayerSkipsAheadAndLoops(t *testing.T) {
	intro := PromptFromPCM("intro", make([]int, 3*FrameSamples))
	loop := PromptFromPCM("loop", make([]int, 2*FrameSamples))
	p := &player{intro: []*Prompt{intro}, loop: loop}
	p.next(PCMU, 0) // intro 0
	p.next(PCMU, 0) // intro 1
	p.next(PCMU, 2) // skips intro 2 and loop 0: plays loop 1
	if p.item != 1 || p.frame != 2 {
		t.Errorf("after skip: item %d frame %d, want loop (1) frame 2", p.item, p.frame)
	}
	p.next(PCMU, 0) // wraps: loop 0
	if p.frame != 1 {
		t.Errorf("loop did not wrap: frame %d", p.frame)
	}
	if f := (&player{}).next(PCMA, 0); len(f) != FrameSamples || f[0] != 0xD5 {
		t.Error("empty player must send A-law silence")
	}
}

func TestRTCPIsReceivedOnPortPlusOne(t *testing.T) {
	e := testEngine(t)
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := newPeer(t)
	rr := []byte{0x80, 201, 0, 1, 0, 0, 0, 1} // an empty receiver report
	to := netip.AddrPortFrom(s.Local().Addr(), s.Local().Port()+1)
	for i := 0; i < 3; i++ {
		_, _ = p.conn.WriteToUDPAddrPort(rr, to)
	}
	_, _ = p.conn.WriteToUDPAddrPort([]byte("garbage!"), to)
	deadline := time.Now().Add(20 * time.Second)
	for s.RTCPReceived() < 3 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.RTCPReceived(); n != 3 {
		t.Errorf("RTCP packets counted: %d, want 3 (garbage ignored)", n)
	}
}

func TestDTMFEventsReportedOnce(t *testing.T) {
	e := testEngine(t)
	s, _ := e.NewSession()
	defer s.Close()
	p := newPeer(t)
	s.SetParams(Params{Remote: p.addr(), Codec: PCMA, PT: 8, DTMFPT: 101})
	got := make(chan rune, 8)
	s.OnDTMF(func(d rune) { got <- d })
	send := func(ts uint32, digit byte, end bool) {
		flags := byte(10)
		if end {
			flags |= 0x80
		}
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, Timestamp: ts, SSRC: 9}, Payload: []byte{digit, flags, 0, 160}}).Marshal()
		_, _ = p.conn.WriteToUDPAddrPort(b, s.Local())
	}
	for _, ev := range []struct {
		ts    uint32
		digit byte
	}{{1000, 5}, {2000, 11}} { // "5", then "#"
		send(ev.ts, ev.digit, false)
		for i := 0; i < 3; i++ {
			send(ev.ts, ev.digit, true) // the end packet, three times
		}
	}
	var digits []rune
	for len(digits) < 2 {
		select {
		case d := <-got:
			digits = append(digits, d)
		case <-time.After(2 * time.Second):
			t.Fatalf("digits %q", string(digits))
		}
	}
	select {
	case d := <-got:
		t.Errorf("extra digit %q (an event reported twice)", d)
	case <-time.After(100 * time.Millisecond):
	}
	if string(digits) != "5#" {
		t.Errorf("digits %q, want 5#", string(digits))
	}
}

// TestSenderReports: a leg playing generated audio sends an RTCP sender
// report every 5 s to the peer's RTP port + 1, with its SSRC and counts.
func TestSenderReports(t *testing.T) {
	e := testEngine(t)
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// The peer needs an even RTP port with the RTCP port above it free.
	var rtpConn, rtcpConn *net.UDPConn
	for p := 43000; p < 43100 && rtcpConn == nil; p += 2 {
		a, err1 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err1 != nil {
			continue
		}
		c, err2 := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		if err2 != nil {
			a.Close()
			continue
		}
		rtpConn, rtcpConn = a, c
	}
	if rtcpConn == nil {
		t.Skip("no free port pair")
	}
	defer rtpConn.Close()
	defer rtcpConn.Close()
	s.SetParams(Params{Remote: rtpConn.LocalAddr().(*net.UDPAddr).AddrPort(), Codec: PCMU, PT: 0})
	s.out.mu.Lock()
	s.out.frames = srEvery - 3 // the report is due after three more frames
	s.out.mu.Unlock()
	s.Play(nil, e.Prompt("hold.wav"))
	buf := make([]byte, 100)
	_ = rtcpConn.SetReadDeadline(time.Now().Add(20 * time.Second))
	n, err := rtcpConn.Read(buf)
	if err != nil {
		t.Fatalf("no sender report: %v", err)
	}
	if n != 28 || buf[0] != 0x80 || buf[1] != 200 || binary.BigEndian.Uint32(buf[4:]) != s.out.ssrc || binary.BigEndian.Uint32(buf[20:]) < 3 {
		t.Errorf("sender report % x", buf[:n])
	}
}

// TestReinviteMovesRemoteAfterLatch: a leg latched to the address its
// first packet came from follows a re-INVITE to a new address (a phone
// that changed networks mid-call), while a re-INVITE naming the same
// address as before keeps the latch (a phone behind NAT).
func TestReinviteMovesRemoteAfterLatch(t *testing.T) {
	e := testEngine(t)
	sdpAddr, natted, moved := newPeer(t), newPeer(t), newPeer(t)
	s, err := e.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetParams(Params{Remote: sdpAddr.addr(), Codec: PCMU, PT: 0})
	natted.send(t, s.Local(), 0, 0x1234, make([]byte, 160)) // the phone's packets come from its NAT address
	for deadline := time.Now().Add(20 * time.Second); s.Received() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first packet never arrived")
		}
	}
	s.Play(nil, e.Prompt("hold.wav"))
	natted.recv(t) // latched: frames go where the packets came from

	s.SetParams(Params{Remote: sdpAddr.addr(), Codec: PCMU, PT: 0}) // re-INVITE, same address (e.g. resume)
	for range 5 {
		natted.recv(t)
	}

	s.SetParams(Params{Remote: moved.addr(), Codec: PCMU, PT: 0}) // re-INVITE from a new network
	moved.recv(t)
}

// TestRebridgeLeavesTheOldBridge: a leg bridged to a new peer (an attended
// transfer hands the target from the agent's consultation call to the
// caller) no longer gets the old peer's media, and the old peer none of
// its: exactly one stream reaches each side.
func TestRebridgeLeavesTheOldBridge(t *testing.T) {
	e := testEngine(t)
	consult, caller, target := newPeer(t), newPeer(t), newPeer(t)
	sessions := make([]*Session, 3)
	for i, p := range []*peer{consult, caller, target} {
		s, err := e.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		s.SetParams(Params{Remote: p.addr(), Codec: PCMU, PT: 0})
		sessions[i] = s
	}
	c, a, tg := sessions[0], sessions[1], sessions[2]
	Bridge(c, tg)
	frame := make([]byte, 160)
	consult.send(t, c.Local(), 0, 7, frame)
	target.recv(t)

	Bridge(a, tg) // the caller takes the target over
	consult.send(t, c.Local(), 0, 7, frame)
	caller.send(t, a.Local(), 0, 8, frame)
	if p := target.recv(t); p.PayloadType != 0 {
		t.Fatalf("target got pt %d", p.PayloadType)
	}
	drain(target)
	// Whatever the consultation leg still sends goes nowhere now.
	for i := 0; i < 3; i++ {
		consult.send(t, c.Local(), 0, 7, frame)
	}
	caller.send(t, a.Local(), 0, 8, frame)
	target.recv(t) // the caller's
	_ = target.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	buf := make([]byte, 1500)
	if _, err := target.conn.Read(buf); err == nil {
		t.Error("the target still gets the consultation leg's media after the caller took it over")
	}
	target.send(t, tg.Local(), 0, 9, frame)
	caller.recv(t)
	_ = consult.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := consult.conn.Read(buf); err == nil {
		t.Error("the consultation leg still gets the target's media")
	}
}

// TestPlayedClosesAfterTheLastIntroFrame: a greeting that must be heard in
// full is over only once its last frame has been sent — not a frame
// earlier — also when two prompts make the intro or the clock skips.
func TestPlayedClosesAfterTheLastIntroFrame(t *testing.T) {
	a := PromptFromPCM("a", make([]int, 2*FrameSamples))
	b := PromptFromPCM("b", make([]int, 3*FrameSamples))
	over := func(p *player) bool {
		select {
		case <-p.played:
			return true
		default:
			return p.played == nil
		}
	}
	played := make(chan struct{})
	p := &player{intro: []*Prompt{a, b}, played: played}
	for i := 0; i < 5; i++ {
		if over(p) {
			t.Fatalf("over after %d of 5 frames", i)
		}
		p.next(PCMA, 0)
		p.introSent()
	}
	select {
	case <-played:
	default:
		t.Fatal("not over after the intro's 5 frames")
	}
	p.next(PCMA, 0) // silence after it: closing twice would panic
	p.introSent()

	skipped := make(chan struct{})
	p = &player{intro: []*Prompt{a, b}, played: skipped}
	p.next(PCMA, 0)
	p.introSent()
	p.next(PCMA, 5) // the clock fell behind past the intro's end
	p.introSent()
	select {
	case <-skipped:
	default:
		t.Fatal("not over after the clock skipped past the intro")
	}
}
