package media

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/sc115/sc115/sip/media/kernel"
)

// Kernel forwarding modes (media.kernel_forwarding).
const (
	KernelAuto = "auto" // use it where the kernel and the process allow, else relay in user space
	KernelOn   = "on"   // fail to start without it
	KernelOff  = "off"  // always relay in user space
)

// openKernel loads the kernel forwarder as cfg asks: nil with no error
// when it is off, or unavailable under auto (logged once here).
func (e *Engine) openKernel(mode string, ip netip.Addr) error {
	if mode == KernelOff {
		return nil
	}
	f, err := kernel.Open(ip)
	switch {
	case err == nil:
		e.kernel = f
		live := f.Live
		e.m.live.Store(&live)
		e.log.Info().Str("ip", ip.String()).Msg("media: bridged RTP is forwarded in the kernel (eBPF, tcx)")
		return nil
	case mode == KernelOn:
		return fmt.Errorf("media.kernel_forwarding is on: %w", err)
	case errors.Is(err, kernel.ErrUnsupported):
		e.log.Info().Err(err).Msg("media: kernel forwarding unavailable, bridged RTP is relayed in user space")
		return nil
	default:
		return err
	}
}

// KernelForwarding says whether bridged legs are forwarded in the kernel.
func (e *Engine) KernelForwarding() bool { return e.kernel != nil }

// kroute is one direction of a bridge in the kernel: packets from the
// peer latched on in arrive at in's socket and leave out's. A sink (out
// nil) is a leg bridged to no one: the kernel counts its peer's audio and
// drops it.
type kroute struct {
	flow   kernel.Flow
	ssrc   uint32 // the source whose offsets the route carries
	in     *Session
	out    *Session // nil: a sink
	failed bool     // the kernel refused it (IPv6, a full map): do not ask again for this flow
	gone   bool     // a sink whose entry a route of the same flow took over (under in.kmu)
}

// kernelSink hands s's incoming audio to the kernel to count and drop
// while s is bridged to no one (greeting, queue, hold: nobody listens),
// once user space has accepted a packet of this source from the latched
// peer. DTMF events and everything else still come up. Called by the
// poller with the packet just accepted.
func (s *Session) kernelSink(from netip.AddrPort, ssrc uint32, pt uint8) {
	k := s.eng.kernel
	if k == nil || s.srtp.Load() != nil {
		return // an SRTP leg's packets must authenticate before they count
	}
	fl := kernel.Flow{Local: s.sock.local, Remote: from}
	if kr := s.kin.Load(); kr != nil && (kr.out != nil || kr.flow == fl && kr.ssrc == ssrc) {
		return
	}
	s.out.mu.Lock()
	defer s.out.mu.Unlock()
	if s.peer.Load() != nil || s.closed.Load() {
		return // bridged meanwhile (Bridge drops sinks only after it set the peers), or closing
	}
	s.sinkDropLocked()
	kr := &kroute{flow: fl, ssrc: ssrc, in: s}
	s.kmu.Lock()
	defer s.kmu.Unlock()
	if err := k.Put(fl, kernel.Route{Sink: true, InSSRC: ssrc, InPT: pt}); err != nil {
		kr.failed = true
	} else {
		s.eng.m.kernelRoutes.Inc()
	}
	s.out.sink = kr
	s.kin.Store(kr)
}

// sinkDropLocked takes s's sink out of the kernel and takes over its
// counts. The caller holds s.out.mu.
func (s *Session) sinkDropLocked() {
	kr := s.out.sink
	if kr == nil {
		return
	}
	s.out.sink = nil
	s.kmu.Lock()
	defer s.kmu.Unlock()
	if kr.failed || kr.gone {
		// Refused, or a route of the peer's holds the entry now (and
		// took over what the sink counted): it is not the sink's to drop.
		s.kin.CompareAndSwap(kr, nil)
		return
	}
	s.takeLast(kr.flow)
	s.kin.CompareAndSwap(kr, nil)
	s.eng.m.kernelRoutes.Dec()
	if c, ok := s.eng.kernel.Remove(kr.flow); ok && c.Packets > 0 {
		s.absorbReceived(c)
	}
}

// takeLast makes the time of the last packet the kernel counted on fl
// s's own, before s lets go of the flow (its kin) and takes over the
// counts: between the two, s sees neither, and without this the media
// watchdog would find only user space's last packet — from before the
// kernel took over, maybe longer ago than the idle timeout — and hang up a
// caller who is talking (hundreds of waiting callers were, under a
// 5,000-caller overload).
func (s *Session) takeLast(fl kernel.Flow) {
	if c, ok := s.eng.kernel.Read(fl); ok {
		s.noteLast(c.Last)
	}
}

// noteLast moves s's last-received time up to t, never back.
func (s *Session) noteLast(t time.Time) {
	if t.IsZero() {
		return
	}
	for n := t.UnixNano(); ; {
		old := s.lastRx.Load()
		if n <= old || s.lastRx.CompareAndSwap(old, n) {
			return
		}
	}
}

// absorbReceived counts what the kernel took of s's incoming packets as
// received by s.
func (s *Session) absorbReceived(c kernel.Counters) {
	s.rxPackets.Add(c.Packets)
	s.noteLast(c.Last)
	s.eng.m.packetsIn.Add(c.Packets)
	s.eng.m.kernelPackets.Add(c.Packets)
}

// kernelOfferLocked hands the direction src→s to the kernel once user
// space has relayed an audio packet of this source (ssrc, from the peer at
// from; in and p the two legs' parameters) and so fixed its offsets. The
// caller holds s.out.mu and has just sent the packet. Should a sink of
// src's for the same flow still be in the map (a packet of a new source
// relayed between Bridge setting the peers and dropping the sinks), the
// route takes its entry over with what it counted, and src's drop of the
// sink then leaves the route alone: s.out keeps the kernel's last sequence
// number and timestamp (the stream went on jumping once here before).
func (s *Session) kernelOfferLocked(src *Session, from netip.AddrPort, ssrc uint32, in, p *Params) {
	k := s.eng.kernel
	if k == nil {
		return
	}
	fl := kernel.Flow{Local: src.sock.local, Remote: from}
	if kr := s.out.kr; kr != nil && kr.flow == fl && kr.ssrc == ssrc {
		return // already there, or refused for this flow
	}
	if s.closed.Load() || src.closed.Load() {
		return // Close's drops are done or under way: a route put now would outlive the leg
	}
	if in.Codec != p.Codec || s.muted.Load() || s.player.Load() != nil || s.srtp.Load() != nil || src.srtp.Load() != nil || src.peer.Load() != s {
		return
	}
	dst := s.remote.Load()
	if dst == nil {
		return
	}
	s.kernelDropLocked()
	kr := &kroute{flow: fl, ssrc: ssrc, in: src, out: s}
	src.kmu.Lock()
	defer src.kmu.Unlock()
	if old := src.kin.Load(); old != nil && old.out == nil && !old.failed && !old.gone && old.flow == fl {
		old.gone = true
		src.eng.m.kernelRoutes.Dec()
		if c, ok := k.Remove(fl); ok && c.Packets > 0 {
			src.absorbReceived(c)
		}
	}
	err := k.Put(fl, kernel.Route{From: s.sock.local, To: unmapped(dst.ap), InSSRC: ssrc, OutSSRC: s.out.ssrc,
		SeqOff: s.out.seqOff, TSOff: s.out.tsOff, InPT: in.PT, OutPT: p.PT})
	if err != nil {
		kr.failed = true
		s.eng.log.Debug().Err(err).Str("leg", fl.Local.String()).Msg("media: kernel route refused, relaying in user space")
	} else {
		s.eng.m.kernelRoutes.Inc()
		src.kin.Store(kr)
	}
	s.out.kr = kr
	s.kout.Store(kr)
}

// kernelDropLocked takes s's outgoing route out of the kernel, before
// anything changes what it would do (hold, resume, a new address, a new
// bridge, a prompt, hang-up), and takes over what the kernel counted and
// where it left the stream's sequence number and timestamp, so that user
// space continues the stream seamlessly. The caller holds s.out.mu.
func (s *Session) kernelDropLocked() {
	kr := s.out.kr
	if kr == nil {
		return
	}
	s.out.kr = nil
	s.kout.Store(nil)
	if kr.failed {
		return
	}
	// Under the incoming leg's kmu: a sink put for the flow between
	// handing it back and removing it would be removed in its stead.
	kr.in.kmu.Lock()
	defer kr.in.kmu.Unlock()
	kr.in.takeLast(kr.flow)
	kr.in.kin.CompareAndSwap(kr, nil)
	s.eng.m.kernelRoutes.Dec()
	c, ok := s.eng.kernel.Remove(kr.flow)
	if !ok || c.Packets == 0 {
		return
	}
	s.out.seq, s.out.ts = c.LastSeq, c.LastTS
	s.out.octets += uint32(c.Octets)
	s.txPackets.Add(c.Packets)
	s.eng.m.packetsOut.Add(c.Packets)
	kr.in.absorbReceived(c)
}

// kernelDrop is kernelDropLocked for a caller not holding s.out.mu.
func (s *Session) kernelDrop() {
	if s.eng.kernel == nil {
		return
	}
	s.out.mu.Lock()
	s.kernelDropLocked()
	s.out.mu.Unlock()
}

// kernelDropBoth takes both directions through s out of the kernel: the
// one s sends and the one that takes what s receives (a bridge's or s's
// sink).
func (s *Session) kernelDropBoth() {
	if s.eng.kernel == nil {
		return
	}
	s.out.mu.Lock()
	s.kernelDropLocked()
	s.sinkDropLocked()
	s.out.mu.Unlock()
	if kr := s.kin.Load(); kr != nil && kr.out != nil {
		kr.out.kernelDrop()
	}
}

// kernelReceived is what the kernel forwarded of what s received, not yet
// taken over: the packets and when the last came.
func (s *Session) kernelReceived() (uint64, time.Time) {
	kr := s.kin.Load()
	if kr == nil {
		return 0, time.Time{}
	}
	c, _ := s.eng.kernel.Read(kr.flow)
	return c.Packets, c.Last
}

// kernelSent is what the kernel sent out of s, not yet taken over.
func (s *Session) kernelSent() uint64 {
	kr := s.kout.Load()
	if kr == nil || kr.failed {
		return 0
	}
	c, _ := s.eng.kernel.Read(kr.flow)
	return c.Packets
}

// KernelState says how the kernel takes this leg's incoming audio now, for
// logs: "sink" (counted and dropped), "route" (forwarded to the bridged
// leg), "refused" (the kernel would not take it: user space reads it),
// "untracked" (the kernel takes audio at this leg's port that the leg does
// not know of: a bug) or "" (user space reads it).
func (s *Session) KernelState() string {
	kr := s.kin.Load()
	switch {
	case kr == nil && s.eng.kernel != nil && s.eng.kernel.FlowsAt(s.sock.local.Port()) > 0:
		return "untracked"
	case kr == nil:
		return ""
	case kr.failed:
		return "refused"
	case kr.out == nil:
		return "sink"
	default:
		return "route"
	}
}
