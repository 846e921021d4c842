package sip

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/sip/media"
)

// OfferRequest describes an INVITE toward an agent.
type OfferRequest struct {
	SIPUser     string   // registered user to ring
	DisplayName string   // shown on the phone, e.g. "115 Burgdorf"
	CallerUser  string   // caller number for the From user ("anonymous" if withheld)
	Headers     []Header // extra headers, e.g. X-115-Municipality, Call-Info, Alert-Info
}

// Header is one extra header of an offer; values are cleaned of control
// characters before they are sent.
type Header struct{ Name, Value string }

// AgentCall is an answered leg toward an agent's phone.
type AgentCall struct {
	s      *Server
	dcs    *sipgo.DialogClientSession
	sess   *media.Session
	sdp    []byte
	id     string
	answer media.Params
	owns   bool // closes sess when done (the winner of a fork)
	ended  endReason
	hold   holdState
	mu     sync.Mutex // guards sdp after a re-INVITE
	over   *legOver
	dialog dialogGuard
	ours   *sdesCrypto // sc115's SDES line on an SRTP leg
	keys   *media.SRTP // the leg's SRTP keying (nil: plain RTP)
	refer  referState  // the agent's transfers (REFER)
	user   string      // the agent's SIP user ("" for calls out and to other centers)
	onHold func(held bool)
}

func (a *AgentCall) guard() *dialogGuard { return &a.dialog }
func (a *AgentCall) uas() bool           { return false }

// HoldTime is how long the agent's phone held the call (re-INVITE).
func (a *AgentCall) HoldTime() time.Duration { return a.hold.duration(time.Now()) }

func (a *AgentCall) reinvite(o *audioOffer) []byte {
	was := a.hold.isHeld()
	body := reanswer(a.sess, a.sess.Local(), o, &a.hold, a.ours)
	a.mu.Lock()
	a.sdp = body
	onHold := a.onHold
	a.mu.Unlock()
	if held := a.hold.isHeld(); held != was && onHold != nil {
		onHold(held)
	}
	return body
}

// OnHold sets what happens when the agent's phone holds (true) or resumes
// (false) the call by re-INVITE: the call's owner plays the caller its
// hold track meanwhile (nil: nothing).
func (a *AgentCall) OnHold(f func(held bool)) {
	a.mu.Lock()
	a.onHold = f
	a.mu.Unlock()
}

// EndReason says why sc115 ended the leg itself: "media-timeout", or ""
// when the agent hung up.
func (a *AgentCall) EndReason() string { return a.ended.get() }

// Dial rings all of the agent's registered devices at once (a fork): the
// first to answer wins, the others get CANCEL (or BYE, if they answered a
// moment later). It gives up when ctx ends (ring timeout, caller gone).
func (s *Server) Dial(ctx context.Context, o OfferRequest) (*AgentCall, error) {
	bindings := s.reg.Bindings(o.SIPUser)
	if len(bindings) == 0 {
		return nil, ErrNotRegistered
	}
	sess, err := s.media.NewSession()
	if err != nil {
		return nil, err
	}
	// Devices on TLS get an RTP/SAVP offer with an SDES key (the key
	// travels only encrypted); the others plain RTP.
	sdes := newSDES("1", media.SRTPSuites[0])
	plainBody, srtpBody := offerSDP(sess.Local(), nil), offerSDP(sess.Local(), &sdes)
	forkCtx, cancel := context.WithCancel(ctx)
	type result struct {
		ac  *AgentCall
		err error
	}
	results := make(chan result, len(bindings))
	for _, b := range bindings {
		go func(b Binding) {
			body, offered := plainBody, (*sdesCrypto)(nil)
			if strings.EqualFold(b.Transport, "tls") {
				body, offered = srtpBody, &sdes
			}
			ac, err := s.dialBinding(forkCtx, b, o, sess, body, offered)
			results <- result{ac, err}
		}(b)
	}
	var errs []error
	for i := range bindings {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		// The first answer wins; the rest are cancelled, and any that still
		// answers is hung up, in the background.
		cancel()
		winner := r.ac
		winner.owns = true
		sess.SetParams(winner.answer)
		if winner.keys != nil {
			if err := sess.SetSRTP(*winner.keys); err != nil {
				winner.Hangup()
				winner.close()
				cancel()
				return nil, err
			}
		}
		go func(left int) {
			for ; left > 0; left-- {
				if late := <-results; late.err == nil {
					late.ac.Hangup()
					late.ac.close()
				}
			}
		}(len(bindings) - i - 1)
		winner.over.then(winner.close)
		s.watchMedia(sess, winner.Ended(), &winner.ended, &winner.hold, winner.Hangup, nil)
		return winner, nil
	}
	cancel()
	sess.Close()
	return nil, errors.Join(errs...)
}

// dialBinding sends one INVITE of a fork and waits for its answer.
func (s *Server) dialBinding(ctx context.Context, b Binding, o OfferRequest, sess *media.Session, body []byte, offered *sdesCrypto) (*AgentCall, error) {
	req := sip.NewRequest(sip.INVITE, b.Contact)
	req.SetTransport(b.Transport)
	req.SetDestination(b.target())
	from := &sip.FromHeader{DisplayName: o.DisplayName, Address: sip.Uri{Scheme: "sip", User: orDefault(sanitizeNumber(o.CallerUser), "anonymous"), Host: s.addr.Addr().String()}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: o.SIPUser, Host: b.Contact.Host, Port: b.Contact.Port}, Params: sip.NewParams()})
	for _, h := range o.Headers {
		req.AppendHeader(sip.NewHeader(h.Name, cleanHeaderValue(h.Value)))
	}
	req.AppendHeader(s.contactFor(b.Transport))
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(body)

	return s.invite(ctx, req, sess, body, "agent "+o.SIPUser, o.SIPUser, offered)
}

// invite sends an INVITE and waits for the answer. When ctx ends (ring
// timeout, caller gone) a peer that answered provisionally gets CANCEL; one
// that never answered at all is given up at once instead of after timer B
// (32 s), which sipgo's WaitAnswer would otherwise wait for.
// offered is the SDES line of an SRTP offer (nil: plain): the answer must
// take it up.
// user is the agent's SIP user ("" when calling no agent).
func (s *Server) invite(ctx context.Context, req *sip.Request, sess *media.Session, body []byte, who, user string, offered *sdesCrypto) (*AgentCall, error) {
	dcs, err := s.duaFor(req.Transport()).WriteInvite(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("invite %s: %w", who, err)
	}
	id := callID(req)
	ac := &AgentCall{s: s, dcs: dcs, sess: sess, sdp: body, id: id, user: user, over: newLegOver(dcs.Context())}
	s.legs.Store(id, ac)
	var responded atomic.Bool
	wctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	go func() {
		select {
		case <-ctx.Done():
			if responded.Load() {
				cancel(ctx.Err()) // send CANCEL
			} else {
				cancel(sipgo.WaitAnswerForceCancelErr) // nothing to cancel
			}
		case <-wctx.Done():
		}
	}()
	opts := sipgo.AnswerOptions{OnResponse: func(*sip.Response) error { responded.Store(true); return nil }}
	if err := dcs.WaitAnswer(wctx, opts); err != nil {
		ac.close()
		var re *sipgo.ErrDialogResponse
		if errors.As(err, &re) {
			return nil, &RefusedError{Code: re.Res.StatusCode, Reason: re.Res.Reason, Who: who}
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%s: %w", who, ctx.Err())
		}
		return nil, err
	}
	ans, err := parseAudio(dcs.InviteResponse.Body())
	if err != nil {
		_ = dcs.Ack(context.Background())
		ac.Hangup()
		ac.close()
		return nil, fmt.Errorf("%s answer SDP: %w", who, err)
	}
	if offered != nil {
		var theirs *sdesCrypto
		for i, c := range ans.crypto {
			if c.tag == offered.tag && c.suite == offered.suite {
				theirs = &ans.crypto[i]
			}
		}
		if theirs == nil {
			_ = dcs.Ack(context.Background())
			ac.Hangup()
			ac.close()
			return nil, fmt.Errorf("%s answered the SRTP offer without a matching a=crypto", who)
		}
		k := keys(*offered, *theirs)
		ac.ours, ac.keys = offered, &k
	}
	ac.answer = ans.params(ans.formats[0])
	ac.answer.Source = sourceAddr(dcs.InviteResponse.Source()) // its RTP may come from there (NAT)
	ac.dialog.set(dcs.ID, ac.answer.Source, 0)
	if err := dcs.Ack(context.Background()); err != nil {
		ac.close()
		return nil, err
	}
	return ac, nil
}

// RefusedError is a final error response to an INVITE.
type RefusedError struct {
	Code   int
	Reason string
	Who    string
}

// SIPCode is the final response's status code.
func (e *RefusedError) SIPCode() int { return e.Code }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s answered %d %s", e.Who, e.Code, e.Reason)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// cleanHeaderValue drops CR, LF and other control characters so a value
// taken from one leg cannot inject headers into another.
func cleanHeaderValue(v string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, v)
}

// Hangup sends BYE to the agent.
func (a *AgentCall) Hangup() {
	defer a.over.end()
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := a.dcs.Bye(ctx); err != nil {
		a.s.log.Info().Err(err).Str("call_id", a.id).Msg("bye to agent not answered with 200: leg ended here")
	}
}

// Ended is closed when the leg is over: the agent's BYE, or our own
// hangup whatever its phone answered.
func (a *AgentCall) Ended() <-chan struct{} { return a.over.done() }

// OverContext is done when the leg is over, as Ended is closed.
func (a *AgentCall) OverContext() context.Context { return a.over.ctx }

// Media is the agent leg's RTP session.
func (a *AgentCall) Media() *media.Session { return a.sess }

func (a *AgentCall) onAck(*sip.Request, sip.ServerTransaction) {}

// refreshSession: sc115 asks agents' phones for no session timer.
func (a *AgentCall) refreshSession() []sip.Header { return nil }

func (a *AgentCall) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := a.dcs.ReadBye(req, tx); err != nil {
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
}

func (a *AgentCall) localSDP() []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sdp
}

func (a *AgentCall) close() {
	a.s.legs.CompareAndDelete(a.id, a)
	if a.owns {
		a.sess.Close()
	}
	_ = a.dcs.Close()
}

// Bridge relays media between a caller leg and an agent leg.
func (s *Server) Bridge(in *InboundCall, out *AgentCall) error {
	a := in.Media()
	if a == nil {
		return errors.New("caller leg has no media")
	}
	media.Bridge(a, out.sess)
	return nil
}

// PlayIntro plays the named prompts to the leg's far end (an agent
// hearing that a callback is being dialed, a called-back citizen on
// hold), then loops hold ("" = silence), ending any bridge the leg is in.
// The channel is closed once the prompts have been sent in full.
func (a *AgentCall) PlayIntro(names []string, hold string) <-chan struct{} {
	var intro []*media.Prompt
	for _, n := range names {
		if p := a.s.media.Prompt(n); p != nil {
			intro = append(intro, p)
		}
	}
	var loop *media.Prompt
	if hold != "" {
		loop = a.s.media.Prompt(hold)
	}
	media.Unbridge(a.sess)
	return a.sess.PlayIntro(intro, loop)
}

// BridgeLegs relays media between two legs sc115 dialed (a called-back
// citizen and the agent).
func (s *Server) BridgeLegs(a, b *AgentCall) error {
	media.Bridge(a.sess, b.sess)
	return nil
}
