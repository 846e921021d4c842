package sip

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// Transfers (REFER, RFC 3515) from an agent's phone. sc115 is a B2BUA: it
// never passes a REFER on. The agent's REFER names a target in its
// Refer-To; sc115 answers 202 if the call's owner (acd) takes the target,
// tells the phone how the transfer goes with NOTIFYs carrying a sipfrag
// status line ("SIP/2.0 100 Trying", then the final one), and sets the
// caller's new leg up itself.

// TransferHandler decides on a transfer the agent asked for: target is
// what the agent dialed (the Refer-To user part, %-decoded: a number, an
// agent, a queue, a department key or short code like "#1"); replaces is
// the Call-ID of the agent's consultation call the Refer-To's Replaces
// names (an attended transfer, RFC 3891; "" for a blind one), already
// checked: a live consultation call of the same SIP user, both tags
// matching. It returns the answer to the REFER: 202 to go ahead (it then
// runs the transfer and reports with NotifyTransfer), or an error status
// and reason.
type TransferHandler func(target, replaces string) (code int, reason string)

// maxReferTarget bounds the target's length: anything longer is no number,
// agent or department.
const maxReferTarget = 64

var (
	errNoReferTo   = errors.New("no Refer-To")
	errTwoReferTo  = errors.New("more than one Refer-To")
	errBadReferTo  = errors.New("Refer-To is no sip:, sips: or tel: URI")
	errReferTarget = errors.New("Refer-To names no target sc115 can dial")
	errBadReplaces = errors.New("Refer-To's Replaces is malformed")
)

// replacesID is the dialog a Replaces header names (RFC 3891 §6.1):
// Call-ID, to-tag and from-tag as the dialog's UAS (here sc115) sees
// them: to-tag is sc115's own tag, from-tag the phone's.
type replacesID struct {
	callID, toTag, fromTag string
}

// parseReferTo reads the target out of a REFER's Refer-To values: the
// user part of a sip/sips URI (or a tel: number), %-decoded, which must be
// 1–64 characters of digits, letters and + # * . _ - (a number, an agent's
// SIP user, a queue or department key, a short code). A sip URI may carry
// one embedded header, Replaces (an attended transfer): it is returned;
// any other embedded header is refused.
func parseReferTo(values []string) (string, *replacesID, error) {
	switch len(values) {
	case 0:
		return "", nil, errNoReferTo
	case 1:
	default:
		return "", nil, errTwoReferTo
	}
	v := strings.TrimSpace(values[0])
	if i := strings.IndexByte(v, '<'); i >= 0 {
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return "", nil, errBadReferTo
		}
		v = v[i+1 : i+j]
	} else if i := strings.IndexByte(v, ';'); i >= 0 {
		v = v[:i] // header parameters of a bare URI
	}
	scheme, rest, ok := strings.Cut(v, ":")
	if !ok {
		return "", nil, errBadReferTo
	}
	var user string
	var rep *replacesID
	switch strings.ToLower(scheme) {
	case "sip", "sips":
		if uri, headers, ok := strings.Cut(rest, "?"); ok {
			r, err := parseEmbeddedReplaces(headers)
			if err != nil {
				return "", nil, err
			}
			rest, rep = uri, r
		}
		at := strings.LastIndexByte(rest, '@')
		if at <= 0 {
			return "", nil, errReferTarget
		}
		user = rest[:at]
		if i := strings.IndexByte(user, ';'); i >= 0 {
			user = user[:i] // user parameters
		}
	case "tel":
		user = rest
		if i := strings.IndexByte(user, ';'); i >= 0 {
			user = user[:i]
		}
	default:
		return "", nil, errBadReferTo
	}
	t, err := dialTarget(user)
	if err != nil {
		return "", nil, err
	}
	return t, rep, nil
}

// dialTarget reads what an agent dialed (a Refer-To's or a consultation
// INVITE's user part): %-decoded, 1–64 characters of digits, letters and
// + # * . _ - and one inner ':' (agent:1003).
func dialTarget(user string) (string, error) {
	t, err := url.PathUnescape(user)
	if err != nil || t == "" || len(t) > maxReferTarget {
		return "", errReferTarget
	}
	// "agent:1003" (agent id) arrives as user "agent" and password "1003".
	for _, r := range t {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("+#*._-:", r)
		if !ok {
			return "", errReferTarget
		}
	}
	if strings.Count(t, ":") > 1 || strings.HasPrefix(t, ":") || strings.HasSuffix(t, ":") {
		return "", errReferTarget
	}
	return t, nil
}

// parseEmbeddedReplaces reads the embedded headers of a Refer-To URI
// ("Replaces=<%-encoded value>"): exactly one Replaces, nothing else.
func parseEmbeddedReplaces(headers string) (*replacesID, error) {
	var rep *replacesID
	for _, h := range strings.Split(headers, "&") {
		name, value, ok := strings.Cut(h, "=")
		if !ok || !strings.EqualFold(name, "Replaces") || rep != nil {
			return nil, errReferTarget // another header (or a second Replaces): nothing sc115 would act on
		}
		raw, err := url.QueryUnescape(value)
		if err != nil {
			return nil, errBadReplaces
		}
		if rep, err = parseReplaces(raw); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// Bounds of what a Replaces may name: longer is no Call-ID or tag sc115
// or a phone made.
const (
	maxReplacesCallID = 256
	maxReplacesTag    = 128
)

// parseReplaces reads a Replaces value: "call-id;to-tag=…;from-tag=…"
// (RFC 3891 §6.1; early-only and extension parameters are ignored). Both
// tags must be there: a dialog is matched by all three.
func parseReplaces(v string) (*replacesID, error) {
	parts := strings.Split(strings.TrimSpace(v), ";")
	rep := &replacesID{callID: strings.TrimSpace(parts[0])}
	for _, p := range parts[1:] {
		name, value, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "to-tag":
			rep.toTag = strings.TrimSpace(value)
		case "from-tag":
			rep.fromTag = strings.TrimSpace(value)
		}
	}
	if !token(rep.callID, maxReplacesCallID, "@()<>:\\\"/[]?{}") || !token(rep.toTag, maxReplacesTag, "") || !token(rep.fromTag, maxReplacesTag, "") {
		return nil, errBadReplaces
	}
	return rep, nil
}

// token reports whether s is 1–max characters of a SIP token (RFC 3261
// §25.1: letters, digits and -.!%*_+`'~), or one of also's characters
// (a Call-ID's word characters and @, RFC 3261 §25.1).
func token(s string, max int, also string) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		ok := r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' ||
			strings.ContainsRune("-.!%*_+`'~", r) || strings.ContainsRune(also, r)
		if !ok {
			return false
		}
	}
	return true
}

// referState is a leg's transfer: the handler that decides, whether a
// transfer is under way (a second REFER meanwhile gets 491), and the
// NOTIFYs to send, in order, one at a time.
type referState struct {
	mu       sync.Mutex
	handler  TransferHandler
	pending  bool
	notifies chan notify
	// sending: the NOTIFY sender runs (started with the first NOTIFY, so
	// that an agent call that is never transferred costs no goroutine).
	sending bool
	// hold: a REFER is being decided; NOTIFYs meanwhile wait in held
	// until its 202 is sent.
	hold bool
	held []notify
}

// notify is a NOTIFY to send, and (for a final status) the channel closed
// once it was answered or given up.
type notify struct {
	req  *sip.Request
	done chan struct{}
}

// OnTransfer sets what decides on the agent's REFERs (nil: refused 403);
// h is a TransferHandler (the parameter is an unnamed func type, so that
// the call's owner can use this method through an interface of its own).
func (a *AgentCall) OnTransfer(h func(target, replaces string) (code int, reason string)) {
	a.refer.mu.Lock()
	a.refer.handler = h
	if a.refer.notifies == nil {
		a.refer.notifies = make(chan notify, 8)
	}
	a.refer.mu.Unlock()
}

// sendNotifies sends the leg's NOTIFYs in order until the leg is over.
func (a *AgentCall) sendNotifies(q <-chan notify) {
	for {
		select {
		case <-a.Ended():
			return
		case n := <-q:
			ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
			if res, err := a.dcs.Do(ctx, n.req); err != nil || !res.IsSuccess() {
				a.s.log.Info().Err(err).Str("call_id", a.id).Msg("transfer NOTIFY not answered with 2xx")
			}
			cancel()
			if n.done != nil {
				close(n.done)
			}
		}
	}
}

// notifyTimeout bounds how long a NOTIFY waits for the phone's answer (and
// a final one delays the agent's hang-up).
const notifyTimeout = 2 * time.Second

// onRefer answers an in-dialog REFER from the agent's phone.
func (a *AgentCall) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	log := a.s.log.With().Str("call_id", a.id).Logger()
	var values []string
	for _, h := range req.GetHeaders("Refer-To") {
		values = append(values, h.Value())
	}
	for _, h := range req.GetHeaders("r") { // compact form
		values = append(values, h.Value())
	}
	target, rep, err := parseReferTo(values)
	if err != nil {
		log.Warn().Err(err).Strs("refer_to", values).Msg("REFER refused: 400")
		respond(tx, req, sip.StatusBadRequest, "Bad Refer-To")
		return
	}
	var replaces string
	if rep != nil {
		if !a.s.ownConsultation(a.user, rep) {
			log.Warn().Str("replaces", rep.callID).Msg("REFER with Replaces naming no consultation call of this agent: 403")
			respond(tx, req, sip.StatusForbidden, "No Such Consultation")
			return
		}
		replaces = rep.callID
	}
	a.refer.mu.Lock()
	h, pending := a.refer.handler, a.refer.pending
	if h != nil && !pending {
		a.refer.pending = true
	}
	a.refer.mu.Unlock()
	switch {
	case h == nil:
		respond(tx, req, sip.StatusForbidden, "Transfer Not Allowed")
		return
	case pending:
		respond(tx, req, 491, "Request Pending")
		return
	}
	// The handler may start the transfer at once, and the transfer tells
	// the phone how it goes: those NOTIFYs are held until the REFER is
	// answered and "100 Trying" is queued (a phone expects 202 first).
	a.refer.mu.Lock()
	a.refer.hold = true
	a.refer.mu.Unlock()
	code, reason := h(target, replaces)
	if code != sip.StatusAccepted {
		a.refer.mu.Lock()
		a.refer.pending, a.refer.hold, a.refer.held = false, false, nil
		a.refer.mu.Unlock()
		log.Info().Str("target", target).Int("code", code).Msg("REFER refused")
		respond(tx, req, code, reason)
		return
	}
	log.Info().Str("target", target).Str("replaces", replaces).Msg("REFER accepted: 202")
	respond(tx, req, sip.StatusAccepted, "Accepted")
	trying, ok := a.buildNotify(100, "Trying")
	a.refer.mu.Lock()
	if ok {
		a.enqueueNotifyLocked(trying)
	}
	for _, n := range a.refer.held {
		a.enqueueNotifyLocked(n)
	}
	a.refer.hold, a.refer.held = false, nil
	a.refer.mu.Unlock()
}

// NotifyTransfer tells the agent's phone how its transfer goes (a NOTIFY
// with a sipfrag status line, RFC 3515 §2.4.5): 1xx while it runs; a final
// status ends the implicit subscription, and a new REFER may come (after a
// failure the agent is back with the caller). A final status returns once
// the phone answered it (at most notifyTimeout). A phone that already hung
// up is not told.
func (a *AgentCall) NotifyTransfer(code int, reason string) {
	final := code >= 200
	if final {
		a.refer.mu.Lock()
		a.refer.pending = false
		a.refer.mu.Unlock()
	}
	n, ok := a.buildNotify(code, reason)
	if !ok {
		return
	}
	a.refer.mu.Lock()
	if a.refer.hold {
		// The REFER is not answered yet: its 202 and "100 Trying" go first.
		a.refer.held = append(a.refer.held, n)
		a.refer.mu.Unlock()
	} else {
		sent := a.enqueueNotifyLocked(n)
		a.refer.mu.Unlock()
		if !sent {
			return
		}
	}
	if final {
		// Sent before anything else happens to the leg (sc115 hangs it up
		// after a transfer): a NOTIFY after the BYE would find no dialog.
		select {
		case <-n.done:
		case <-a.Ended():
		case <-time.After(notifyTimeout + time.Second):
		}
	}
}

// buildNotify makes the NOTIFY for a transfer status (false: the phone
// cannot be told — no notify queue, no Contact, or its leg is over).
func (a *AgentCall) buildNotify(code int, reason string) (notify, bool) {
	a.refer.mu.Lock()
	q := a.refer.notifies
	a.refer.mu.Unlock()
	if q == nil || a.dcs.InviteResponse == nil || a.dcs.InviteResponse.Contact() == nil {
		return notify{}, false
	}
	select {
	case <-a.Ended():
		return notify{}, false
	default:
	}
	final := code >= 200
	req := sip.NewRequest(sip.NOTIFY, a.dcs.InviteResponse.Contact().Address)
	req.AppendHeader(sip.NewHeader("Event", "refer"))
	state := "active;expires=60"
	if final {
		state = "terminated;reason=noresource"
	}
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	req.AppendHeader(sip.NewHeader("Content-Type", "message/sipfrag;version=2.0"))
	req.SetBody([]byte("SIP/2.0 " + strconv.Itoa(code) + " " + cleanHeaderValue(reason) + "\r\n"))
	n := notify{req: req}
	if final {
		n.done = make(chan struct{})
	}
	return n, true
}

// enqueueNotifyLocked queues n (a.refer.mu held), starting the sender
// with the first NOTIFY; false when the queue is full.
func (a *AgentCall) enqueueNotifyLocked(n notify) bool {
	if !a.refer.sending {
		a.refer.sending = true
		go a.sendNotifies(a.refer.notifies)
	}
	return enqueueNotify(a.refer.notifies, n)
}

// enqueueNotify queues n for sending; false when the queue is full (a
// phone that answers no NOTIFY: the rest are dropped).
func enqueueNotify(q chan notify, n notify) bool {
	select {
	case q <- n:
		return true
	default:
		return false
	}
}

// onRefer from the trunk's side of a call: sc115 does not let the PBX or
// a caller move its calls.
func (c *InboundCall) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	respond(tx, req, sip.StatusForbidden, "Transfer Not Allowed")
}

// referee is a leg that takes REFERs.
type referee interface {
	onRefer(req *sip.Request, tx sip.ServerTransaction)
}

func (s *Server) onRefer(req *sip.Request, tx sip.ServerTransaction) {
	l := s.inDialog(req, tx)
	if l == nil {
		return
	}
	if r, ok := l.(referee); ok {
		r.onRefer(req, tx)
		return
	}
	respond(tx, req, sip.StatusForbidden, "Transfer Not Allowed")
}
