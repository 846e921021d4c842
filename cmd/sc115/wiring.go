package main

import (
	"context"
	"fmt"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/sip"
)

// An agent's phone transfers through its leg …
var _ acd.Transferable = (*sip.AgentCall)(nil)

// … rings back its consultation calls …
var _ acd.Ringer = (*sip.InboundCall)(nil)

// … and holds the call (the caller hears the hold track meanwhile);
// prompts reach it (a callback's notice to the agent, a called-back
// citizen's hold).
var (
	_ acd.Holdable = (*sip.AgentCall)(nil)
	_ acd.Player   = (*sip.AgentCall)(nil)
)

// agentDialer adapts sip.Server to acd.AgentDialer: acd and sip do not
// import each other, main translates between their types.
type agentDialer struct{ srv *sip.Server }

func (d agentDialer) Offer(ctx context.Context, o acd.Offer) (acd.AgentLeg, error) {
	ac, err := d.srv.Dial(ctx, sip.OfferRequest{
		SIPUser: o.SIPUser, DisplayName: o.DisplayName, CallerUser: o.CallerNumber, Headers: offerHeaders(o),
	})
	if err != nil {
		return nil, err
	}
	return ac, nil
}

// offerHeaders are the headers that tell the agent's phone and console
// what the call is: the municipality key and sc115's call id, the
// knowledge-base link (Call-Info purpose=info), and, for auto-answer
// agents, the two common auto-answer hints (Alert-Info for Polycom/Yealink
// style phones, Call-Info answer-after for Snom/Grandstream style ones).
func offerHeaders(o acd.Offer) []sip.Header {
	h := []sip.Header{{Name: "X-115-Municipality", Value: o.MunicipalityKey}, {Name: "X-115-Call-ID", Value: o.CallID}}
	if o.KnowledgeURL != "" {
		h = append(h, sip.Header{Name: "Call-Info", Value: "<" + o.KnowledgeURL + ">;purpose=info"})
	}
	if o.AutoAnswer {
		h = append(h, sip.Header{Name: "Alert-Info", Value: "<http://localhost>;info=alert-autoanswer;delay=0"},
			sip.Header{Name: "Call-Info", Value: "<sip:sc115>;answer-after=0"})
	}
	return h
}

func (d agentDialer) Forward(ctx context.Context, f acd.ForwardOffer) (acd.AgentLeg, error) {
	ac, err := d.srv.Forward(ctx, sip.ForwardRequest{Target: f.Target, CallID: f.CallID, CallerNumber: f.CallerNumber,
		Withheld: f.Withheld, Dialed: f.Dialed, Municipality: f.Municipality, Waited: f.Waited})
	if err != nil {
		return nil, err
	}
	return ac, nil
}

func (d agentDialer) CallOut(ctx context.Context, o acd.OutboundOffer) (acd.AgentLeg, error) {
	ac, err := d.srv.CallOut(ctx, sip.OutboundRequest{Number: o.Number, CallID: o.CallID, CallerNumber: o.CallerNumber,
		Withheld: o.Withheld, Dialed: o.Dialed, Municipality: o.Municipality, TransferredBy: o.TransferredBy})
	if err != nil {
		return nil, err
	}
	return ac, nil
}

func (d agentDialer) Bridge(c acd.CallerLeg, a acd.AgentLeg) error {
	if cb, ok := c.(interface{ Leg() acd.AgentLeg }); ok { // a citizen called back
		citizen, ok1 := cb.Leg().(*sip.AgentCall)
		out, ok2 := a.(*sip.AgentCall)
		if !ok1 || !ok2 {
			return fmt.Errorf("bridge: unexpected leg types %T, %T", cb.Leg(), a)
		}
		return d.srv.BridgeLegs(citizen, out)
	}
	in, ok1 := c.(*sip.InboundCall)
	out, ok2 := a.(*sip.AgentCall)
	if !ok1 || !ok2 {
		return fmt.Errorf("bridge: unexpected leg types %T, %T", c, a)
	}
	return d.srv.Bridge(in, out)
}

// credentials builds the registrar's user table from the agents, hashing
// plain passwords to HA1 at load; start then drops the plain passwords
// from the config it keeps (withoutPasswords), so only HA1 stays in memory.
func credentials(agents []acd.Agent, realm string) map[string]sip.Credential {
	out := make(map[string]sip.Credential, len(agents))
	for _, a := range agents {
		c := sip.Credential{AgentID: a.ID, HA1: a.HA1, HA1SHA256: a.HA1SHA256, RequireTLS: a.RequireTLS}
		if a.Password != "" {
			c.HA1, c.HA1SHA256 = sip.HA1(a.SIPUser, realm, a.Password), sip.HA1SHA256(a.SIPUser, realm, a.Password)
		}
		out[a.SIPUser] = c
	}
	return out
}

// withoutPasswords returns the agents with their plain passwords removed
// (the registrar has their HA1): nothing else needs them after load.
func withoutPasswords(agents []acd.Agent) []acd.Agent {
	out := append([]acd.Agent(nil), agents...)
	for i := range out {
		out[i].Password = ""
	}
	return out
}
