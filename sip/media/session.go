package media

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// Params are what SDP negotiation decided for one leg.
type Params struct {
	Remote netip.AddrPort // where the peer said it receives; latched on first packet
	// Source is the IP the peer's SIP messages came from: its RTP may come
	// from there too when it sits behind NAT (media.latching signalled-ip).
	Source netip.Addr
	Codec  Codec // the law this leg speaks
	PT     uint8 // payload type number for Codec on this leg
	DTMFPT uint8 // telephone-event payload type, 0 if none
}

// Session is one call leg's RTP: one socket, one outgoing stream whose
// SSRC/sequence/timestamp stay continuous whatever feeds it (prompts, hold
// audio, or the bridged peer); what it receives its engine's poller hands
// to handle, which relays it to the bridged peer.
type Session struct {
	eng    *Engine
	sock   *udpSocket // RTP, read by poller
	poller *poller    // the engine's poller this leg is read by
	rtcp   *udpSocket // port+1: RTCP is received (by the poller) and counted

	params  atomic.Pointer[Params]
	remote  atomic.Pointer[sockaddr]
	latched atomic.Bool

	peer   atomic.Pointer[Session]
	muted  atomic.Bool // the peer put us on hold (sendonly/inactive): send nothing
	onDTMF atomic.Pointer[func(digit rune)]
	dtmfTS uint32 // timestamp of the last DTMF event reported (poller only)
	player atomic.Pointer[player]
	shard  *clockShard // set while a player runs; guarded by out.mu

	out struct {
		mu      sync.Mutex
		ssrc    uint32
		seq     uint16
		ts      uint32
		sent    bool
		srcSSRC uint32 // SSRC of the relayed source we follow, 0 = generated
		seqOff  uint16
		tsOff   uint32
		marker  bool
		buf     [1500]byte
		enc     [1500]byte // buf encrypted, on SRTP legs
		octets  uint32     // payload octets sent (RTCP SR)
		frames  int        // generated frames since the last sender report
		kr      *kroute    // this leg's outgoing direction in the kernel, nil if none
		sink    *kroute    // this leg's incoming audio counted and dropped in the kernel, nil if none
	}

	srtp atomic.Pointer[srtpState] // nil: plain RTP

	// The bridge's directions in the kernel (kernelpath.go): kout the one
	// this leg sends (also out.kr, set under out.mu), kin the one that
	// takes what this leg receives.
	kout atomic.Pointer[kroute]
	kin  atomic.Pointer[kroute]
	// kmu orders the changes to the kernel's entry for this leg's
	// incoming flow, which two owners share: the leg's own sink (put and
	// dropped under out.mu) and its peer's route (under the peer's
	// out.mu). A leaf lock: nothing else is locked while it is held.
	kmu sync.Mutex

	rxPackets atomic.Uint64
	txPackets atomic.Uint64
	rxRTCP    atomic.Uint64
	lastRx    atomic.Int64
	closeOnce sync.Once
	closed    atomic.Bool // set first thing in Close
}

func randUint32() uint32 { return rand.Uint32() }

// Local is the address the session receives on (for SDP).
func (s *Session) Local() netip.AddrPort { return s.sock.local }

// SetParams sets the negotiated codec and remote address. A new address
// from the signalling (a re-INVITE after a network change, or a resume from
// elsewhere) replaces the one latched from the first packet, and the next
// packet latches again; the same address keeps the latch (a phone behind
// NAT sends from another port than its SDP names).
func (s *Session) SetParams(p Params) {
	s.kernelDropBoth() // the codec, the address or the hold state may change
	old := s.params.Swap(&p)
	if !p.Remote.IsValid() || p.Remote.Addr().IsUnspecified() {
		return // c=0.0.0.0 (hold) or no address: keep sending where we did
	}
	if s.latched.Load() && old != nil && old.Remote == p.Remote {
		return
	}
	s.remote.Store(newSockaddr(p.Remote, s.sock.local))
	s.latched.Store(false)
}

// RTCPReceived is the number of RTCP packets received on this leg.
func (s *Session) RTCPReceived() uint64 { return s.rxRTCP.Load() }

// countRTCP counts an RTCP compound packet (version 2, types 200–207)
// from the peer; its content (reports) is not used yet.
func (s *Session) countRTCP(b []byte) {
	if len(b) >= 8 && b[0]>>6 == 2 && b[1] >= 200 && b[1] <= 207 {
		s.rxRTCP.Add(1)
		s.eng.m.rtcpIn.Inc()
	}
}

// OnDTMF sets the function told of each DTMF key the peer presses
// (RFC 4733 telephone-events, reported once per event, at its end).
func (s *Session) OnDTMF(f func(digit rune)) { s.onDTMF.Store(&f) }

const dtmfDigits = "0123456789*#ABCD"

// dtmf reports a telephone-event once: on the first packet with the end
// bit for an event timestamp (the end packet is usually sent three times).
func (s *Session) dtmf(h *rtp.Header, p []byte) {
	if len(p) < 4 || p[1]&0x80 == 0 || p[0] >= byte(len(dtmfDigits)) || h.Timestamp == s.dtmfTS {
		return
	}
	s.dtmfTS = h.Timestamp
	if f := s.onDTMF.Load(); f != nil {
		(*f)(rune(dtmfDigits[p[0]]))
	}
}

// SetMuted stops (true) or resumes sending on this leg, for hold by
// re-INVITE: an offer that only sends to us must not get media back.
func (s *Session) SetMuted(m bool) {
	s.kernelDrop()
	s.muted.Store(m)
}

// Params returns the negotiated parameters (zero before SetParams).
func (s *Session) Params() Params {
	if p := s.params.Load(); p != nil {
		return *p
	}
	return Params{}
}

// Received is the number of RTP packets received on this leg (those the
// kernel forwarded included).
func (s *Session) Received() uint64 {
	k, _ := s.kernelReceived()
	return s.rxPackets.Load() + k
}

// Sent is the number of RTP packets sent on this leg (those the kernel
// forwarded included).
func (s *Session) Sent() uint64 { return s.txPackets.Load() + s.kernelSent() }

// LastReceived is when the last RTP packet arrived (zero if none),
// whether user space or the kernel took it.
func (s *Session) LastReceived() time.Time {
	// The kernel's count first: if the leg let go of it meanwhile, it
	// took the kernel's last packet time over before (takeLast).
	_, k := s.kernelReceived()
	n := s.lastRx.Load()
	if !k.IsZero() && k.UnixNano() > n {
		n = k.UnixNano()
	}
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

// Play sends each intro prompt once, then loops loop (nil: silence),
// replacing whatever the leg sent before. It unbridges nothing: call Unbridge.
func (s *Session) Play(intro []*Prompt, loop *Prompt) { s.play(&player{intro: intro, loop: loop}) }

// PlayIntro is Play, and the channel it returns is closed once the last
// frame of intro has been sent (at once for no intro). It is never closed
// if something else is played or the leg bridged before that.
func (s *Session) PlayIntro(intro []*Prompt, loop *Prompt) <-chan struct{} {
	played := make(chan struct{})
	if len(intro) == 0 {
		close(played)
		s.Play(nil, loop)
		return played
	}
	s.play(&player{intro: intro, loop: loop, played: played})
	return played
}

func (s *Session) play(pl *player) {
	s.player.Store(pl)
	s.out.mu.Lock()
	s.kernelDropLocked() // the prompt takes over the stream
	if s.shard == nil {
		s.shard = s.eng.clock.pick()
		s.shard.add(s)
	}
	s.out.mu.Unlock()
}

// StopPlaying ends generated audio on this leg.
func (s *Session) StopPlaying() {
	s.player.Store(nil)
	s.out.mu.Lock()
	if s.shard != nil {
		s.shard.remove(s)
		s.shard = nil
	}
	s.out.mu.Unlock()
}

// Bridge relays media both ways between a and b, stopping their players.
// Each leg's outgoing stream continues with its own SSRC; the marker bit
// flags the switch.
func Bridge(a, b *Session) {
	a.StopPlaying()
	b.StopPlaying()
	// A leg bridged elsewhere before (an attended transfer hands the
	// target from the agent's consultation call to the caller) leaves
	// that bridge: its old peer must not go on relaying into it.
	if old := a.peer.Swap(b); old != nil && old != b {
		old.peer.CompareAndSwap(a, nil)
	}
	if old := b.peer.Swap(a); old != nil && old != a {
		old.peer.CompareAndSwap(b, nil)
	}
	// Only now, with the peers set, out of the kernel: a sink or a route
	// the pollers put meanwhile saw the old peers and is dropped here; one
	// put after this sees the new ones.
	a.kernelDropBoth()
	b.kernelDropBoth()
}

// Unbridge ends the relay between s and its peer (if any): neither gets
// the other's media any more (a transfer: the caller hears hold audio
// while the agent leaves).
func Unbridge(s *Session) {
	p := s.peer.Swap(nil)
	if p == nil {
		// Bridged to no one already (every prompt a waiting caller hears
		// comes this way): a sink stays, nothing it does changes; handing
		// it back to user space and the next packet again would only
		// churn the kernel's map.
		s.kernelDrop()
		return
	}
	p.peer.CompareAndSwap(s, nil)
	p.kernelDropBoth()
	s.kernelDropBoth()
}

// testHookClosing, if set (by tests only), runs in Close between taking
// the leg out of the kernel and out of its poller: where a packet the
// poller handles meanwhile would put it back.
var testHookClosing func()

// Close releases the socket and stops everything on the leg.
func (s *Session) Close() {
	s.closeOnce.Do(func() {
		// First, so that no packet still on its way through the pollers
		// puts a sink or a route into the kernel once the drops below are
		// done (kernelSink, kernelOfferLocked): it would outlive the leg.
		s.closed.Store(true)
		s.StopPlaying()
		p := s.peer.Swap(nil)
		if p != nil {
			p.peer.CompareAndSwap(s, nil)
		}
		s.kernelDropBoth()
		if p != nil {
			p.kernelDrop() // a route into p that a packet of ours put meanwhile
		}
		if testHookClosing != nil {
			testHookClosing()
		}
		s.poller.remove(s)
		s.sock.close()
		s.rtcp.close()
		s.eng.m.sessions.Dec()
	})
}

// sendGenerated is called by the clock shard every 20 ms; the frame goes
// into the shard's batch b (sent when the phase ends).
func (s *Session) sendGenerated(skip int, b *sendBatch) {
	pl := s.player.Load()
	p := s.params.Load()
	if pl == nil || p == nil {
		return
	}
	frame := pl.next(p.Codec, skip)
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.out.srcSSRC != 0 || !s.out.sent {
		s.out.marker = true
		s.out.srcSSRC = 0
	}
	s.out.seq++
	s.out.ts += uint32(FrameSamples * (skip + 1))
	s.writeLocked(p.PT, frame, b)
	pl.introSent()
	if s.out.frames++; s.out.frames >= srEvery {
		s.out.frames = 0
		s.sendSRLocked()
	}
}

// srEvery: a sender report every 5 s of generated audio (RFC 3550 §6.2
// minimum interval), to the peer's RTCP port (RTP port + 1).
const srEvery = 250

// sendSRLocked sends an RTCP sender report for this leg's stream (caller
// holds out.mu). Cheap: 28 bytes every 5 s.
func (s *Session) sendSRLocked() {
	dst := s.remote.Load()
	if dst == nil || s.muted.Load() || s.srtp.Load() != nil { // SRTP legs would need SRTCP: none sent
		return
	}
	var b [28]byte
	b[0], b[1], b[3] = 0x80, 200, 6 // V=2, no reports; PT=SR; length 6 words
	binary.BigEndian.PutUint32(b[4:], s.out.ssrc)
	now := time.Now()
	binary.BigEndian.PutUint32(b[8:], uint32(now.Unix()+2208988800)) // NTP seconds since 1900
	binary.BigEndian.PutUint32(b[12:], uint32((uint64(now.Nanosecond())<<32)/1e9))
	binary.BigEndian.PutUint32(b[16:], s.out.ts)
	binary.BigEndian.PutUint32(b[20:], uint32(s.txPackets.Load()))
	binary.BigEndian.PutUint32(b[24:], s.out.octets)
	_ = s.rtcp.writeTo(b[:], newSockaddr(netip.AddrPortFrom(dst.ap.Addr(), dst.ap.Port()+1), s.rtcp.local))
}

// relayFrom sends a packet that arrived on the peer leg out of this leg,
// mapping payload types, transcoding if the laws differ, and rewriting
// SSRC/sequence/timestamp so this leg's stream stays continuous.
func (s *Session) relayFrom(in *Session, from netip.AddrPort, src *Params, h *rtp.Header, payload []byte, scratch []byte) bool {
	p := s.params.Load()
	if p == nil {
		return false
	}
	var pt uint8
	audio := h.PayloadType == src.PT
	switch {
	case audio:
		pt = p.PT
		payload = transcodeInto(scratch, payload, src.Codec, p.Codec)
	case src.DTMFPT != 0 && h.PayloadType == src.DTMFPT && p.DTMFPT != 0:
		pt = p.DTMFPT
	default:
		return false
	}
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if kr := s.out.kr; kr != nil && (kr.ssrc != h.SSRC || kr.flow.Remote != from) {
		s.kernelDropLocked() // a new source or sender: where the kernel left the stream counts
	}
	if s.out.srcSSRC != h.SSRC || !s.out.sent {
		// New source: continue our numbering from where we are.
		s.out.seqOff = s.out.seq + 1 - h.SequenceNumber
		s.out.tsOff = s.out.ts + FrameSamples - h.Timestamp
		s.out.srcSSRC = h.SSRC
		s.out.marker = true
	}
	s.out.seq = h.SequenceNumber + s.out.seqOff
	s.out.ts = h.Timestamp + s.out.tsOff
	if h.Marker {
		s.out.marker = true
	}
	if !s.writeLocked(pt, payload, nil) {
		return false
	}
	if audio && len(h.CSRC) == 0 && !h.Extension && !h.Padding {
		s.kernelOfferLocked(in, from, h.SSRC, src, p)
	}
	return true
}

// writeLocked marshals header and payload into the leg's buffer and sends
// it, or queues a copy in b (a clock shard's batch; nil: send now).
func (s *Session) writeLocked(pt uint8, payload []byte, b *sendBatch) bool {
	dst := s.remote.Load()
	if dst == nil || s.muted.Load() {
		return false
	}
	h := rtp.Header{Version: 2, Marker: s.out.marker, PayloadType: pt, SequenceNumber: s.out.seq, Timestamp: s.out.ts, SSRC: s.out.ssrc}
	n, err := h.MarshalTo(s.out.buf[:])
	if err != nil {
		return false
	}
	n += copy(s.out.buf[n:], payload)
	s.out.marker = false
	s.out.sent = true
	pkt := s.out.buf[:n]
	if st := s.srtp.Load(); st != nil {
		enc, err := st.out.EncryptRTP(s.out.enc[:0], pkt, nil)
		if err != nil {
			return false
		}
		pkt = enc
	}
	if err := b.send(s.sock, pkt, dst); err != nil {
		return false
	}
	s.out.octets += uint32(len(payload))
	s.txPackets.Add(1)
	s.eng.m.packetsOut.Add(1)
	return true
}

// handle takes one datagram from the network: RTP or not (then ignored),
// from the peer the signalling named or not (then dropped and counted),
// latches the remote address, and relays to the bridged peer. Nothing in
// a packet can make it panic (FuzzHandlePacket).
func (s *Session) handle(b []byte, from netip.AddrPort, h *rtp.Header, scratch []byte) {
	if st := s.srtp.Load(); st != nil {
		// Only what authenticates with the peer's key (and is no replay)
		// is media: a forged or replayed packet goes before it can latch.
		plain, err := st.in.DecryptRTP(st.dec[:0], b, nil)
		if err != nil {
			s.eng.m.srtpFailures.Inc()
			return
		}
		b = plain
	}
	hl, err := h.Unmarshal(b)
	if err != nil || h.Version != 2 || hl > len(b) {
		return // not RTP: ignore quietly, never panic on network input
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	src := s.params.Load()
	if !s.accept(src, from) {
		s.eng.foreign(from, s.sock.local)
		return // neither relayed nor keeping the leg alive
	}
	s.rxPackets.Add(1)
	s.lastRx.Store(time.Now().UnixNano())
	s.eng.m.packetsIn.Add(1)
	peer := s.peer.Load()
	if src != nil && src.DTMFPT != 0 && h.PayloadType == src.DTMFPT {
		s.dtmf(h, b[hl:])
	}
	if peer == nil || src == nil {
		if src != nil && h.PayloadType == src.PT && len(h.CSRC) == 0 && !h.Extension && !h.Padding {
			s.kernelSink(from, h.SSRC, src.PT)
		}
		return
	}
	if !peer.relayFrom(s, from, src, h, b[hl:], scratch) {
		s.eng.m.relayDrops.Inc()
	}
}

// accept says whether a packet from may feed this leg under
// media.latching, and latches the remote address on the first accepted
// packet. Without negotiated parameters nothing is accepted (but with
// latching any).
func (s *Session) accept(p *Params, from netip.AddrPort) bool {
	mode := s.eng.latching
	if mode == latchStrict {
		return p != nil && from == unmapped(p.Remote)
	}
	if s.latched.Load() {
		if mode == latchAny {
			return true
		}
		r := s.remote.Load()
		return r != nil && unmapped(r.ap) == from
	}
	if mode != latchAny && (p == nil || (from.Addr() != p.Remote.Addr().Unmap() && from.Addr() != p.Source.Unmap())) {
		return false
	}
	s.remote.Store(newSockaddr(from, s.sock.local))
	s.latched.Store(true)
	return true
}

func unmapped(ap netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
