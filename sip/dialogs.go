package sip

import (
	"net/netip"
	"sync"

	"github.com/emiago/sipgo/sip"
)

// dialogGuard is what an in-dialog request must match to reach a leg
// (issue 12, 2): its dialog (Call-ID, both tags), its peer's address
// (or a trunk's), and a CSeq above the last one the peer used. The Call-ID
// alone is no secret: agents see it in X-115-Call-ID and the knowledge
// base URL.
type dialogGuard struct {
	mu         sync.Mutex
	id         string     // sipgo's dialog ID: Call-ID, local tag, remote tag
	peer       netip.Addr // where the peer's signalling comes from
	remoteCSeq uint32     // the peer's last CSeq; 0: none seen yet
}

// set fixes the dialog once it exists (inbound: at once; outbound: when
// the 200 OK arrives).
func (g *dialogGuard) set(id string, peer netip.Addr, remoteCSeq uint32) {
	g.mu.Lock()
	g.id, g.peer, g.remoteCSeq = id, peer, remoteCSeq
	g.mu.Unlock()
}

// dialogRefusal is why a request does not enter a dialog: the answer to
// send (0 for none) and what to log.
type dialogRefusal struct {
	code   int
	reason string
	why    string
}

var (
	refusedNoDialog = &dialogRefusal{sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", "no such dialog (Call-ID and tags)"}
	refusedSource   = &dialogRefusal{sip.StatusForbidden, "Forbidden", "in-dialog request from an address that is neither the dialog's peer nor a trunk"}
	refusedCSeq     = &dialogRefusal{sip.StatusInternalServerError, "CSeq Out Of Order", "CSeq not above the dialog's last"}
)

// admit checks req (its dialog ID in the UAS or UAC view, src its source,
// trunk whether src is a trunk address). A request passing takes its CSeq
// as the dialog's last; an ACK (which repeats its INVITE's) only matches.
func (g *dialogGuard) admit(req *sip.Request, id string, src netip.Addr, trunk bool) *dialogRefusal {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.id == "" || id != g.id {
		return refusedNoDialog
	}
	if src != g.peer && !trunk {
		return refusedSource
	}
	if req.Method == sip.ACK {
		return nil
	}
	seq := req.CSeq().SeqNo
	if g.remoteCSeq != 0 && seq <= g.remoteCSeq {
		return refusedCSeq
	}
	g.remoteCSeq = seq
	return nil
}

// guarded is a leg that in-dialog requests are checked against.
type guarded interface {
	leg
	guard() *dialogGuard
	// uas is true for the caller's leg (sc115 answered the INVITE): the
	// peer's requests carry sc115's tag in To.
	uas() bool
}

// inDialog finds the leg req belongs to. Otherwise it answers (481, 403
// or 500; an ACK never), logs once per source and minute, and returns nil.
func (s *Server) inDialog(req *sip.Request, tx sip.ServerTransaction) leg {
	src := sourceAddr(req.Source())
	refusal := refusedNoDialog
	if v, ok := s.legs.Load(callID(req)); ok {
		if l, ok := v.(guarded); ok {
			var id string
			var err error
			if l.uas() {
				id, err = sip.DialogIDFromRequestUAS(req)
			} else {
				id, err = sip.DialogIDFromRequestUAC(req)
			}
			if err == nil {
				refusal = l.guard().admit(req, id, src, s.fromTrunk(req))
			}
			if refusal == nil {
				return l
			}
		}
	}
	if s.quiet.allow(src.String() + " " + refusal.why) {
		s.log.Warn().Str("method", string(req.Method)).Str("src", req.Source()).Str("call_id", callID(req)).Int("code", refusal.code).Msg("in-dialog request refused: " + refusal.why)
	}
	s.m.dialogRefused.WithLabelValues(string(req.Method), refusal.why).Inc()
	if req.Method != sip.ACK {
		respond(tx, req, refusal.code, refusal.reason)
	}
	return nil
}

// reserved holds a Call-ID in the call table from the moment its INVITE
// arrives until the call exists, so a second INVITE with the same Call-ID
// and no To-tag (a loop, or a forgery of a live call) gets 482 and can
// never replace the call.
type reserved struct{}

func (reserved) onBye(*sip.Request, sip.ServerTransaction) {}
func (reserved) onAck(*sip.Request, sip.ServerTransaction) {}
func (reserved) localSDP() []byte                          { return nil }
func (reserved) reinvite(*audioOffer) []byte               { return nil }
func (reserved) refreshSession() []sip.Header              { return nil }
