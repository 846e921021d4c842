package sip

import (
	"github.com/emiago/sipgo/sip"
)

// Consultation calls (the first half of an attended transfer): with the
// caller held, the agent's phone places a second call through sc115 to
// the person it wants to hand the caller to. sc115 takes such an INVITE
// only from a phone that proves who it is (digest, like REGISTER, same
// lockout) and has a live registration; the call's owner (acd) rings the
// target, and answers the agent's INVITE once the target answered. The
// agent then either hangs up the consultation and resumes the caller, or
// sends REFER with Replaces naming this call (refer.go): the caller is
// handed to the target.

// ConsultHandler runs an agent's consultation call: target is what the
// agent dialed (as a REFER's target: a number, an agent, a queue, a
// department key or code) and leg the agent phone's call, not yet
// answered. It returns when the consultation is over.
type ConsultHandler func(agentID, target string, leg *InboundCall)

// consultFrom says whether a new INVITE from outside the trunks is an
// agent's consultation call: consultations are on, and a phone registered
// from the request's source (or it came through an exempt proxy). Anyone
// else gets 403 without a challenge, as before.
func (s *Server) consultFrom(req *sip.Request) bool {
	if s.consult == nil {
		return false
	}
	src := sourceAddr(req.Source())
	return s.reg.knownSource(src) || s.adm.isExempt(src)
}

// userConsults says whether an INVITE from a trunk's address is rather a
// consultation call from an agent's phone sitting in the trunk's network:
// its From user has a live registration from that very address.
func (s *Server) userConsults(req *sip.Request) bool {
	from := req.From()
	if s.consult == nil || from == nil {
		return false
	}
	return s.reg.registeredFrom(from.Address.User, sourceAddr(req.Source()))
}

// onConsultInvite answers an agent phone's consultation INVITE: digest
// first, then a registration, a target sc115 can dial and usable SDP; the
// call's owner takes it from there.
func (s *Server) onConsultInvite(req *sip.Request, tx sip.ServerTransaction) {
	user, cred, ok := s.registeredAgent(req, tx, "consultation call")
	if !ok {
		return
	}
	log := s.log.With().Str("call_id", callID(req)).Str("agent", cred.AgentID).Logger()
	dialed := req.Recipient.User
	if req.Recipient.Password != "" { // sip:agent:1003@… parses as user and password
		dialed += ":" + req.Recipient.Password
	}
	target, err := dialTarget(dialed)
	if err != nil {
		log.Warn().Str("dialed", dialed).Msg("consultation call to nothing sc115 can dial: 404")
		respond(tx, req, sip.StatusNotFound, "No Such Transfer Target")
		return
	}
	offer, err := parseAudio(req.Body())
	if err != nil {
		log.Warn().Err(err).Msg("consultation INVITE with unusable SDP: 488")
		respond(tx, req, sip.StatusNotAcceptableHere, "Not Acceptable Here")
		return
	}
	log.Info().Str("target", target).Msg("consultation call")
	s.serveInbound(req, tx, offer, user, func(c *InboundCall) { s.consult(cred.AgentID, target, c) })
}

// ownConsultation says whether rep names a live consultation call of the
// SIP user (an attended transfer's REFER): its Call-ID, sc115's tag and
// the phone's tag. Phones differ in which tag they put where, so both
// orders are taken; either way both tags must be this dialog's.
func (s *Server) ownConsultation(user string, rep *replacesID) bool {
	if user == "" {
		return false
	}
	v, ok := s.legs.Load(rep.callID)
	if !ok {
		return false
	}
	c, ok := v.(*InboundCall)
	if !ok || c.consultUser != user {
		return false
	}
	ours, theirs := c.tags()
	return ours != "" && theirs != "" &&
		(rep.toTag == ours && rep.fromTag == theirs || rep.toTag == theirs && rep.fromTag == ours)
}

// tags are the dialog's tags: sc115's (the To tag it answers with) and the
// phone's (its From tag).
func (c *InboundCall) tags() (ours, theirs string) {
	if to := c.dss.InviteRequest.To(); to != nil {
		ours, _ = to.Params.Get("tag")
	}
	if from := c.req.From(); from != nil {
		theirs, _ = from.Params.Get("tag")
	}
	return ours, theirs
}

// Ring tells the calling phone the other side is ringing (180).
func (c *InboundCall) Ring() {
	if err := c.dss.Respond(sip.StatusRinging, "Ringing", nil); err != nil {
		c.s.log.Debug().Err(err).Str("call_id", c.CallID()).Msg("180 Ringing")
	}
}
