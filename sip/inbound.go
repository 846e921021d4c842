package sip

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/sip/media"
)

// InboundCall is a call from the trunk: the caller's leg of the B2BUA.
// acd drives it through the methods of its CallerLeg interface.
type InboundCall struct {
	s     *Server
	req   *sip.Request
	dss   *sipgo.DialogServerSession
	offer *audioOffer

	mu       sync.Mutex
	sess     *media.Session
	sdp      []byte
	answered bool
	// byeFirst: the caller's BYE came before its ACK (a proxy with several
	// workers or UDP may reorder them): the 200 OK was taken, then hung up.
	byeFirst atomic.Bool
	ended    endReason
	hold     holdState
	dtmf     chan rune
	over     *legOver
	dialog   dialogGuard
	// unconfirmed counts the call toward sip.limits.max_unconfirmed_calls
	// until its first RTP packet (nil for calls not from a trunk).
	unconfirmed *unconfirmedCall
	// ours is sc115's SDES line on an SRTP leg (nil: plain RTP).
	ours *sdesCrypto
	// st is the session timer, when the trunk does RFC 4028.
	st sessionTimer
	// consultUser: the SIP user whose consultation call this is (an
	// attended transfer's first half); "" for trunk calls.
	consultUser string
}

// EndReasonSessionExpired is the reason of a leg ended because its
// session timer ran out without a refresh.
const EndReasonSessionExpired = "session-expired"

// refreshSession restarts the session timer on a refresh.
func (c *InboundCall) refreshSession() []sip.Header {
	if !c.st.refresh() {
		return nil
	}
	return c.st.headers()
}

func (c *InboundCall) guard() *dialogGuard { return &c.dialog }
func (c *InboundCall) uas() bool           { return true }

// DTMF delivers the keys the caller presses (RFC 4733), for menus and
// callback requests; keys pressed while the channel is full are dropped.
func (c *InboundCall) DTMF() <-chan rune { return c.dtmf }

// HoldTime is how long the caller's phone held the call (re-INVITE).
func (c *InboundCall) HoldTime() time.Duration { return c.hold.duration(time.Now()) }

func (c *InboundCall) reinvite(o *audioOffer) []byte {
	sess := c.session()
	if sess == nil {
		return c.localSDP()
	}
	c.mu.Lock()
	ours := c.ours
	c.mu.Unlock()
	body := reanswer(sess, sess.Local(), o, &c.hold, ours)
	c.mu.Lock()
	c.sdp = body
	c.mu.Unlock()
	return body
}

// EndReason says why sc115 ended the leg itself: "media-timeout", or ""
// when the caller hung up.
func (c *InboundCall) EndReason() string { return c.ended.get() }

func newInboundCall(s *Server, req *sip.Request, dss *sipgo.DialogServerSession, offer *audioOffer) *InboundCall {
	return &InboundCall{s: s, req: req, dss: dss, offer: offer, dtmf: make(chan rune, 16), over: newLegOver(dss.Context())}
}

// CallID is the trunk's Call-ID, used as sc115's call id.
func (c *InboundCall) CallID() string { return callID(c.req) }

// DialedNumbers returns the called-number candidates in configured order.
func (c *InboundCall) DialedNumbers() []string {
	var out []string
	for _, src := range c.s.cfg.CalledNumberFrom {
		var user string
		switch src {
		case "request_uri":
			user = c.req.Recipient.User
		case "to":
			if to := c.req.To(); to != nil {
				user = to.Address.User
			}
		case "p_called_party_id":
			if h := c.req.GetHeader("P-Called-Party-ID"); h != nil {
				user = addressUser(h.Value())
			}
		}
		if user, _, _ = strings.Cut(user, ";"); user != "" {
			out = append(out, user)
		}
	}
	return out
}

// addressUser extracts the user part of a name-addr or addr-spec value.
func addressUser(v string) string {
	var u sip.Uri
	var p sip.HeaderParams
	if _, err := sip.ParseAddressValue(v, &u, &p); err != nil {
		return ""
	}
	return u.User
}

// Caller returns the caller's number (P-Asserted-Identity, else From) and
// whether it is withheld (Privacy: id/user/header, or anonymous From).
func (c *InboundCall) Caller() (string, bool) {
	number := ""
	if h := c.req.GetHeader("P-Asserted-Identity"); h != nil {
		number = addressUser(h.Value())
	}
	if number == "" {
		if f := c.req.From(); f != nil {
			number = f.Address.User
		}
	}
	withheld := strings.EqualFold(number, "anonymous")
	if h := c.req.GetHeader("Privacy"); h != nil {
		for _, v := range strings.Split(h.Value(), ";") {
			switch strings.ToLower(strings.TrimSpace(v)) {
			case "id", "user", "header":
				withheld = true
			}
		}
	}
	return sanitizeNumber(number), withheld
}

// sanitizeNumber keeps a leading + and digits: a caller number is copied
// into headers of other legs, so nothing else may pass (no CR/LF injection).
func sanitizeNumber(n string) string {
	var b strings.Builder
	for i, r := range n {
		if (r >= '0' && r <= '9') || (r == '+' && i == 0) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

// Reject answers the INVITE with a final error response.
func (c *InboundCall) Reject(code int, reason string) { c.respond(code, reason) }

// Refuse answers the INVITE 503 Service Unavailable with Retry-After, so
// the PBX tries another center or again later (overload, draining).
func (c *InboundCall) Refuse(retryAfter time.Duration) {
	secs := max(1, int(retryAfter.Round(time.Second)/time.Second))
	c.respond(503, "Service Unavailable", sip.NewHeader("Retry-After", strconv.Itoa(secs)))
}

func (c *InboundCall) respond(code int, reason string, hs ...sip.Header) {
	if err := c.dss.Respond(code, reason, nil, hs...); err != nil {
		c.s.log.Debug().Err(err).Str("call_id", c.CallID()).Msg("reject")
	}
}

// RejectedError is Answer's error when it answered the INVITE with an
// error response itself (e.g. 503: no RTP port free); SIPCode says which.
type RejectedError struct {
	Code int
	Err  error
}

func (e *RejectedError) Error() string { return strconv.Itoa(e.Code) + ": " + e.Err.Error() }

// Unwrap returns the cause.
func (e *RejectedError) Unwrap() error { return e.Err }

// SIPCode is the status code the caller was sent.
func (e *RejectedError) SIPCode() int { return e.Code }

// Answer allocates the RTP session, sends 200 OK with the SDP answer and
// waits for the ACK (sipgo retransmits the 200 meanwhile).
func (c *InboundCall) Answer(ctx context.Context) error {
	sess, err := c.s.media.NewSession()
	if err != nil {
		c.Reject(503, "Service Unavailable")
		return &RejectedError{Code: 503, Err: err}
	}
	if o, t, ok := answerCrypto(c.offer.crypto); ok {
		if err := sess.SetSRTP(keys(o, t)); err != nil {
			sess.Close()
			c.Reject(488, "Not Acceptable Here")
			return &RejectedError{Code: 488, Err: err}
		}
		c.mu.Lock()
		c.ours = &o
		c.mu.Unlock()
	}
	params, body := answerSDP(sess.Local(), c.offer, c.ours)
	params.Source = sourceAddr(c.req.Source()) // its RTP may come from there (NAT)
	sess.SetParams(params)
	sess.OnDTMF(func(d rune) {
		select {
		case c.dtmf <- d:
		default:
		}
	})
	c.mu.Lock()
	c.sess, c.sdp = sess, body
	c.mu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.waitAck(body); err != nil {
		return err
	}
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
	// A trunk call counts as unconfirmed until its first RTP packet: a
	// flood of INVITEs that never ACK or never send media holds RTP ports,
	// and sip.limits.max_unconfirmed_calls bounds how many.
	c.s.watchMedia(sess, c.Ended(), &c.ended, &c.hold, c.Hangup, c.unconfirmed.confirmed)
	return nil
}

// ErrNoAck is Answer's error when the caller's ACK did not come within
// sip.limits.ack_timeout.
var ErrNoAck = errors.New("no ACK for the 200 OK")

// waitAck sends the 200 OK and waits for its ACK, at most ack_timeout:
// sipgo would wait 32 s (64·T1) with the RTP ports held.
func (c *InboundCall) waitAck(body []byte) error {
	done := make(chan error, 1)
	res := sip.NewSDPResponseFromRequest(c.dss.InviteRequest, body)
	res.AppendHeader(c.s.contactFor(c.req.Transport()))
	if d, ok := requestedSessionExpires(c.req); ok {
		c.st.start(d, func() {
			c.s.log.Warn().Str("call_id", c.CallID()).Dur("session_expires", d).Msg("session not refreshed (RFC 4028): ending the leg")
			c.ended.set(EndReasonSessionExpired)
			c.Hangup()
		})
		for _, h := range c.st.headers() {
			res.AppendHeader(h)
		}
	}
	go func() { done <- c.dss.WriteResponse(res) }()
	t := time.NewTimer(c.s.cfg.Limits.AckTimeout)
	defer t.Stop()
	select {
	case err := <-done:
		if err != nil && c.byeFirst.Load() {
			return nil // answered, and already hung up by the caller (Ended is closed)
		}
		return err
	case <-t.C:
		c.s.log.Warn().Str("call_id", c.CallID()).Dur("ack_timeout", c.s.cfg.Limits.AckTimeout).Msg("no ACK for the 200 OK: call ended")
		c.over.end()
		return ErrNoAck
	}
}

func (c *InboundCall) markAnswered() {
	c.mu.Lock()
	c.answered = true
	c.mu.Unlock()
}

// Play sends the named prompts once, then loops the prompt named hold (the
// caller's hold track; "" = silence), ending any bridge the leg is in.
func (c *InboundCall) Play(names []string, hold string) { c.PlayIntro(names, hold) }

// PlayIntro is Play, and the channel it returns is closed once the last
// frame of the named prompts has been sent (at once if none exists or
// the call has no media). Playing something else first leaves it open.
func (c *InboundCall) PlayIntro(names []string, hold string) <-chan struct{} {
	var intro []*media.Prompt
	for _, n := range names {
		if p := c.s.media.Prompt(n); p != nil {
			intro = append(intro, p)
		}
	}
	var loop *media.Prompt
	if hold != "" {
		loop = c.s.media.Prompt(hold)
	}
	if sess := c.session(); sess != nil {
		media.Unbridge(sess) // a caller being played to hears only that (a transfer puts it on hold)
		return sess.PlayIntro(intro, loop)
	}
	played := make(chan struct{})
	close(played)
	return played
}

// PlayOnce plays the named prompts and returns when they are over or the
// caller hung up.
func (c *InboundCall) PlayOnce(names []string) {
	d := 300 * time.Millisecond
	for _, n := range names {
		if p := c.s.media.Prompt(n); p != nil {
			d += time.Duration(p.Frames()) * media.FrameDuration
		}
	}
	c.Play(names, "")
	select {
	case <-time.After(d):
	case <-c.Ended():
	}
}

func (c *InboundCall) session() *media.Session {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sess
}

// Hangup sends BYE after answer, or 480 before. The leg is over when it
// returns, whatever the phone answered to the BYE (or if it never did).
func (c *InboundCall) Hangup() {
	defer c.over.end()
	c.mu.Lock()
	answered := c.answered
	c.mu.Unlock()
	if !answered {
		c.Reject(480, "Temporarily Unavailable")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), byeTimeout)
	defer cancel()
	if err := c.dss.Bye(ctx); err != nil {
		c.s.log.Info().Err(err).Str("call_id", c.CallID()).Msg("bye to caller not answered with 200: leg ended here")
	}
}

// Ended is closed when the leg is over: BYE, CANCEL, or our own hangup.
func (c *InboundCall) Ended() <-chan struct{} { return c.over.done() }

// OverContext is done when the call is over, as Ended is closed: code
// that waits for either of two ends can use context.AfterFunc instead of
// a goroutine.
func (c *InboundCall) OverContext() context.Context { return c.over.ctx }

// Media is the caller leg's RTP session (nil before Answer).
func (c *InboundCall) Media() *media.Session { return c.session() }

func (c *InboundCall) onAck(req *sip.Request, tx sip.ServerTransaction) { _ = c.dss.ReadAck(req, tx) }

func (c *InboundCall) onBye(req *sip.Request, tx sip.ServerTransaction) {
	c.byeFirst.Store(true) // read only while the 200 OK waits for its ACK
	if err := c.dss.ReadBye(req, tx); err != nil {
		c.byeFirst.Store(false)
		c.s.log.Info().Err(err).Str("call_id", c.CallID()).Msg("BYE not taken by the dialog")
		respond(tx, req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist")
	}
}

func (c *InboundCall) localSDP() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sdp
}

func (c *InboundCall) close() {
	c.st.stop()
	if sess := c.session(); sess != nil {
		sess.Close()
	}
	_ = c.dss.Close()
}
