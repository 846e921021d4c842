package sip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/emiago/sipgo/sip"
)

// ForwardRequest is an overflow call to another 115 service center.
type ForwardRequest struct {
	Target       string // SIP URI of the other center's trunk
	CallID       string // sc115's call id (X-115-Call-ID)
	CallerNumber string // the caller's number (ignored when withheld)
	Withheld     bool
	Dialed       string // the number the caller dialed, E.164
	Municipality string
	Waited       time.Duration
}

// Forward sends the caller on to another center as a B2BUA leg: the
// caller's identity (P-Asserted-Identity and From, or anonymous with
// Privacy: id), the dialed number as To and in Diversion (RFC 5806, reason
// unavailable), and X-115-Municipality / X-115-Waited so the receiving
// center can keep its own accounting. It returns the answered leg.
func (s *Server) Forward(ctx context.Context, f ForwardRequest) (*AgentCall, error) {
	var uri sip.Uri
	if err := sip.ParseUri(f.Target, &uri); err != nil {
		return nil, fmt.Errorf("federation target %q: %w", f.Target, err)
	}
	sess, err := s.media.NewSession()
	if err != nil {
		return nil, err
	}
	body := offerSDP(sess.Local(), nil)
	host := s.addr.Addr().String()
	dialed := sanitizeNumber(f.Dialed)
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: dialed, Host: uri.Host, Port: uri.Port})
	if t, ok := uri.UriParams.Get("transport"); ok {
		req.SetTransport(t)
	}
	port := uri.Port
	if port == 0 {
		port = 5060
	}
	req.SetDestination(net.JoinHostPort(uri.Host, strconv.Itoa(port)))
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}, DisplayName: "Anonymous", Params: sip.NewParams()}
	if !f.Withheld && sanitizeNumber(f.CallerNumber) != "" {
		n := sanitizeNumber(f.CallerNumber)
		from = &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: n, Host: host}, Params: sip.NewParams()}
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:"+n+"@"+host+">"))
	} else {
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: dialed, Host: uri.Host, Port: uri.Port}, Params: sip.NewParams()})
	req.AppendHeader(sip.NewHeader("Diversion", "<sip:"+dialed+"@"+host+">;reason=unavailable;counter=1"))
	req.AppendHeader(sip.NewHeader("X-115-Municipality", cleanHeaderValue(f.Municipality)))
	req.AppendHeader(sip.NewHeader("X-115-Waited", strconv.Itoa(int(f.Waited/time.Second))))
	req.AppendHeader(sip.NewHeader("X-115-Call-ID", cleanHeaderValue(f.CallID)))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	ac, err := s.invite(ctx, req, sess, body, "federation "+f.Target, nil)
	if err != nil {
		sess.Close()
		return nil, err
	}
	ac.owns = true
	sess.SetParams(ac.answer)
	go func() { <-ac.Ended(); ac.close() }()
	go s.watchMedia(sess, ac.Ended(), &ac.ended, &ac.hold, ac.Hangup, nil)
	return ac, nil
}
