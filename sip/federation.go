package sip

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
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
	dialed := sanitizeNumber(f.Dialed)
	return s.callOut(ctx, outCall{
		uri: uri, user: dialed, caller: f.CallerNumber, withheld: f.Withheld, who: "federation " + f.Target,
		headers: []Header{
			{"Diversion", "<sip:" + dialed + "@" + s.addr.Addr().String() + ">;reason=unavailable;counter=1"},
			{"X-115-Municipality", f.Municipality},
			{"X-115-Waited", strconv.Itoa(int(f.Waited / time.Second))},
			{"X-115-Call-ID", f.CallID},
		}})
}

// OutboundRequest is a call out through the trunk: an agent's transfer of
// the caller to a municipal office.
type OutboundRequest struct {
	Number        string // the digits to dial (E.164 or national)
	CallID        string // sc115's call id (X-115-Call-ID)
	CallerNumber  string // the caller's number (ignored when withheld)
	Withheld      bool
	Dialed        string // the 115 number the caller dialed, E.164
	Municipality  string
	TransferredBy string // the agent who transferred
}

// ErrNoOutboundTrunk: no sip.trunks[].outbound is configured.
var ErrNoOutboundTrunk = fmt.Errorf("no trunk has an outbound URI (sip.trunks[].outbound)")

// CallOut calls Number through the first trunk with an outbound URI and
// returns the answered leg. The calling number is the trunk's
// present_number: the 115 number the caller dialed ("service"), or the
// caller's own ("caller"; anonymous with Privacy: id when withheld). The
// 115 number goes in Diversion (RFC 5806, reason deflection: an agent
// handed the call on), the agent and sc115's call id in X-115-Transferred-By
// and X-115-Call-ID.
func (s *Server) CallOut(ctx context.Context, o OutboundRequest) (*AgentCall, error) {
	var t *Trunk
	for i := range s.cfg.Trunks {
		if s.cfg.Trunks[i].Outbound != "" {
			t = &s.cfg.Trunks[i]
			break
		}
	}
	if t == nil {
		return nil, ErrNoOutboundTrunk
	}
	number := sanitizeNumber(o.Number)
	if number == "" {
		return nil, fmt.Errorf("call out: %q has no digits", o.Number)
	}
	var uri sip.Uri
	if err := sip.ParseUri(strings.ReplaceAll(t.Outbound, "{number}", number), &uri); err != nil {
		return nil, fmt.Errorf("trunk %s outbound: %w", t.Name, err)
	}
	dialed := sanitizeNumber(o.Dialed)
	caller, withheld := dialed, false
	if t.PresentNumber == "caller" {
		caller, withheld = o.CallerNumber, o.Withheld
	}
	return s.callOut(ctx, outCall{
		uri: uri, user: number, caller: caller, withheld: withheld, who: "trunk " + t.Name + " " + number,
		headers: []Header{
			{"Diversion", "<sip:" + dialed + "@" + s.addr.Addr().String() + ">;reason=deflection;counter=1"},
			{"X-115-Municipality", o.Municipality},
			{"X-115-Transferred-By", o.TransferredBy},
			{"X-115-Call-ID", o.CallID},
		}})
}

// outCall is an INVITE sc115 sends on the caller's behalf.
type outCall struct {
	uri      sip.Uri // where it goes (host, port, transport)
	user     string  // Request-URI and To user
	caller   string  // calling number shown ("" or withheld: anonymous)
	withheld bool
	headers  []Header
	who      string // for errors and logs
}

// callOut sends an outCall with a fresh RTP session and returns the
// answered leg (it owns its session).
func (s *Server) callOut(ctx context.Context, o outCall) (*AgentCall, error) {
	sess, err := s.media.NewSession()
	if err != nil {
		return nil, err
	}
	body := offerSDP(sess.Local(), nil)
	host := s.addr.Addr().String()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: o.user, Host: o.uri.Host, Port: o.uri.Port})
	if t, ok := o.uri.UriParams.Get("transport"); ok {
		req.SetTransport(t)
	}
	port := o.uri.Port
	if port == 0 {
		port = 5060
	}
	req.SetDestination(net.JoinHostPort(o.uri.Host, strconv.Itoa(port)))
	from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: "anonymous", Host: "anonymous.invalid"}, DisplayName: "Anonymous", Params: sip.NewParams()}
	if n := sanitizeNumber(o.caller); !o.withheld && n != "" {
		from = &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: n, Host: host}, Params: sip.NewParams()}
		req.AppendHeader(sip.NewHeader("P-Asserted-Identity", "<sip:"+n+"@"+host+">"))
	} else {
		req.AppendHeader(sip.NewHeader("Privacy", "id"))
	}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: o.user, Host: o.uri.Host, Port: o.uri.Port}, Params: sip.NewParams()})
	for _, h := range o.headers {
		if h.Value != "" {
			req.AppendHeader(sip.NewHeader(h.Name, cleanHeaderValue(h.Value)))
		}
	}
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)
	ac, err := s.invite(ctx, req, sess, body, o.who, "", nil)
	if err != nil {
		sess.Close()
		return nil, err
	}
	ac.owns = true
	sess.SetParams(ac.answer)
	go func() { <-ac.Ended(); ac.close() }()
	s.watchMedia(sess, ac.Ended(), &ac.ended, &ac.hold, ac.Hangup, nil)
	return ac, nil
}
