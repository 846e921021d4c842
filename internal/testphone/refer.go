package testphone

import (
	"context"
	"net/url"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Refer sends REFER within the answered call (the agent's phone asking to
// transfer the caller) with Refer-To referTo (e.g. "<sip:#1@sc115>") and
// returns the final response; the NOTIFYs that follow arrive on Notifies.
func (in *Incoming) Refer(ctx context.Context, referTo string) (*sip.Response, error) {
	target := in.Req.Recipient
	if c := in.Req.Contact(); c != nil {
		target = c.Address
	}
	req := sip.NewRequest(sip.REFER, target)
	req.AppendHeader(sip.NewHeader("Refer-To", referTo))
	return in.dss.Do(ctx, req)
}

// onNotify answers a NOTIFY within one of the phone's incoming calls and
// passes its body (a sipfrag status line for a transfer) to Notifies.
func (p *Phone) onNotify(req *sip.Request, tx sip.ServerTransaction) {
	in := p.leg(req)
	if in == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "No Dialog", nil))
		return
	}
	_ = tx.Respond(sip.NewResponseFromRequest(req, 200, "OK", nil))
	select {
	case in.Notifies <- strings.TrimSpace(string(req.Body())):
	default:
	}
}

// Do sends an in-dialog request within the call (e.g. a REFER from the
// caller's side) and returns the final response.
func (c *Call) Do(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	return c.dcs.Do(ctx, req)
}

// ReInvite holds (dir sendonly) or resumes (sendrecv) the answered call
// from the agent's side: an in-dialog INVITE with the leg's SDP in that
// direction, ACKed; it returns the answer.
func (in *Incoming) ReInvite(ctx context.Context, dir string) (*sip.Response, error) {
	target := in.Req.Recipient
	if c := in.Req.Contact(); c != nil {
		target = c.Address
	}
	req := sip.NewRequest(sip.INVITE, target)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	body := strings.Replace(string(SDP(in.RTP.Addr(), "0 PCMU/8000")), "a=sendrecv", "a="+dir, 1)
	req.SetBody([]byte(body))
	res, err := in.dss.Do(ctx, req)
	if err != nil || !res.IsSuccess() {
		return res, err
	}
	ack := sip.NewRequest(sip.ACK, target)
	return res, in.dss.WriteRequest(ack)
}

// ReferReplacing completes an attended transfer from the agent's side:
// REFER within this call with Refer-To naming target and, in an embedded
// Replaces (RFC 3891), the consultation call the phone placed (its
// Call-ID, the answering side's tag as to-tag, the phone's as from-tag).
func (in *Incoming) ReferReplacing(ctx context.Context, target string, consult *Call) (*sip.Response, error) {
	return in.Refer(ctx, "<sip:"+target+"@"+in.Req.Recipient.Host+"?Replaces="+url.QueryEscape(consult.Replaces())+">")
}

// Replaces is the call's dialog as a Replaces header value names it:
// "call-id;to-tag=…;from-tag=…".
func (c *Call) Replaces() string {
	to, _ := c.Res.To().Params.Get("tag")
	from, _ := c.dcs.InviteRequest.From().Params.Get("tag")
	return c.CallID + ";to-tag=" + to + ";from-tag=" + from
}
