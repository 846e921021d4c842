package sip

import (
	"context"
	"time"

	"github.com/emiago/sipgo/sip"
)

// onFeatureInvite handles an INVITE to a feature code (*41 …) from an
// agent's phone: digest-authenticated like REGISTER (same lockout), from a
// user with a live registration. It answers, plays the confirmation
// prompt, and hangs up.
func (s *Server) onFeatureInvite(req *sip.Request, tx sip.ServerTransaction) {
	_, cred, ok := s.registeredAgent(req, tx, "feature code")
	if !ok {
		return
	}
	log := s.log.With().Str("call_id", callID(req)).Str("agent", cred.AgentID).Str("feature", req.Recipient.User).Logger()
	prompt, err := s.features(cred.AgentID, req.Recipient.User)
	if prompt == "" {
		log.Warn().Err(err).Msg("unknown feature code: 404")
		respond(tx, req, sip.StatusNotFound, "No Such Feature")
		return
	}
	offer, err := parseAudio(req.Body())
	if err != nil { // no usable SDP: confirm by 200 and an immediate BYE
		offer = nil
	}
	s.serveInbound(req, tx, offer, "", func(c *InboundCall) { s.confirmFeature(c, offer, prompt) })
}

// confirmFeature answers a feature-code call, plays the confirmation and
// hangs up.
func (s *Server) confirmFeature(c *InboundCall, offer *audioOffer, prompt string) {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	if offer == nil {
		if err := c.dss.Respond(sip.StatusOK, "OK", nil); err == nil {
			c.markAnswered()
			c.Hangup()
		}
		return
	}
	if err := c.Answer(ctx); err != nil {
		return
	}
	c.PlayOnce([]string{prompt})
	c.Hangup()
}

// registeredAgent admits an INVITE from an agent's own phone (a feature
// code, a consultation call): digest-authenticated as its From user like
// REGISTER (same lockout), and only from a user with a live registration.
// Otherwise it answers the request itself (401, 403, 400); what names the
// kind of call for the log.
func (s *Server) registeredAgent(req *sip.Request, tx sip.ServerTransaction, what string) (string, Credential, bool) {
	from := req.From()
	if from == nil {
		respond(tx, req, sip.StatusBadRequest, "Missing From")
		return "", Credential{}, false
	}
	user, cred, ok := s.reg.authenticateAs(req, tx, from.Address.User)
	if !ok {
		return "", Credential{}, false
	}
	if len(s.reg.Bindings(user)) == 0 {
		s.log.Warn().Str("call_id", callID(req)).Str("agent", cred.AgentID).Msg(what + " from a device without registration: 403")
		respond(tx, req, sip.StatusForbidden, "Register First")
		return "", Credential{}, false
	}
	return user, cred, true
}
