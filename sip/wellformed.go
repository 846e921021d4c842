package sip

import (
	"github.com/emiago/sipgo/sip"
)

// wellFormed answers a request that breaks RFC 3261's basic rules (§8.1.1
// mandatory headers, §8.2.2 version) and reports whether the handler may
// go on: 505 for a version other than SIP/2.0, 400 naming the first
// missing mandatory header. An ACK is never answered (§17.2.1): a broken
// one is only dropped. Each refusal is logged.
func (s *Server) wellFormed(req *sip.Request, tx sip.ServerTransaction) bool {
	code, reason := 0, ""
	switch {
	case req.SipVersion != "SIP/2.0":
		code, reason = sip.StatusVersionNotSupported, "Version Not Supported"
	case req.From() == nil:
		code, reason = sip.StatusBadRequest, "Missing From"
	case req.To() == nil:
		code, reason = sip.StatusBadRequest, "Missing To"
	case req.CallID() == nil:
		code, reason = sip.StatusBadRequest, "Missing Call-ID"
	case req.CSeq() == nil:
		code, reason = sip.StatusBadRequest, "Missing CSeq"
	case req.Via() == nil:
		code, reason = sip.StatusBadRequest, "Missing Via"
	case req.MaxForwards() == nil:
		code, reason = sip.StatusBadRequest, "Missing Max-Forwards"
	default:
		return true
	}
	s.log.Info().Str("method", string(req.Method)).Str("source", req.Source()).Int("code", code).Str("reason", reason).Msg("malformed request refused")
	if req.Method != sip.ACK && req.Via() != nil && req.CSeq() != nil { // a response needs Via and CSeq to find its way back
		res := sip.NewResponseFromRequest(req, code, reason, nil)
		res.SipVersion = "SIP/2.0" // ours, not the request's
		_ = tx.Respond(res)
	}
	return false
}

// checked runs h only for well-formed requests within their limits.
func (s *Server) checked(h func(*sip.Request, sip.ServerTransaction)) func(*sip.Request, sip.ServerTransaction) {
	return func(req *sip.Request, tx sip.ServerTransaction) {
		if !s.wellFormed(req, tx) || !s.admitRequest(req, tx) {
			return
		}
		if src := sourceAddr(req.Source()); s.adm.trunkOf(src) == "" && !s.adm.isExempt(src) {
			leave, ok := s.adm.enter(src)
			if !ok {
				if s.cfg.Limits.OverLimit == "reject" && req.Method != sip.ACK {
					s.refuseLimited(req, tx, classNames[classOf(string(req.Method))], "in_flight")
				} else {
					s.m.limited.WithLabelValues(classNames[classOf(string(req.Method))], "in_flight").Inc()
				}
				return
			}
			defer leave()
		}
		h(req, tx)
	}
}
