package acd

import (
	"context"
	"errors"
	"sync"
)

// Attended transfers (issue 14): the agent holds the caller, places a
// consultation call through sc115 (its phone's second line) to a number,
// a department, another agent or a queue, talks with the target, and then
// either hangs the consultation up and resumes the caller, or completes
// the transfer with REFER + Replaces naming the consultation call: the
// caller is handed to the consultation's target (the same leg, no new
// ring), and both of the agent's calls end.
//
// The consultation runs in the SIP layer's goroutine for the agent's
// INVITE (Engine.Consult); the caller's call goroutine learns of it only
// through the REFER (takeTransfers) and takes the target's leg over with
// handOver. The caller hears the hold track throughout, whether or not
// the agent's phone held the call: nobody on the line may overhear the
// consultation.
//
// Decided: consultation time counts once, in the consulting agent's talk
// (its segment goes on until the transfer, the caller being held is part
// of handling the call); an agent consulted starts its own segment when it
// gets the caller. A consultation that ends without a transfer is not in
// the CDR beyond the consulting agent's longer talk. A consultation ends
// with the caller's call: a caller who hangs up meanwhile ends it.

// PromptDepartmentClosed is what an agent hears when it calls a
// department outside its opening hours (instead of a ring that nobody
// answers).
const PromptDepartmentClosed = "department-closed.wav"

// Ringer is a leg that can tell its phone the other side rings (180).
type Ringer interface{ Ring() }

// transferAttended is the CDR's transfer kind after a consultation.
const transferAttended = "attended"

// consultation is an agent's consultation call for a call it talks on.
type consultation struct {
	agent string
	leg   CallerLeg // the agent phone's consultation call
	dest  transferDest

	answered chan struct{} // closed once the target answered (target set)
	over     chan struct{} // closed when the consultation is over without a hand-over
	taken    chan struct{} // closed when a transfer took the target

	mu       sync.Mutex
	target   AgentLeg
	targetID string // the agent who answered (a consulted agent or queue)
	err      error  // why the target did not answer
	waiting  bool   // a transfer waits for the target (REFER while it rings)
	done     bool   // over: nothing can be handed over any more
	handed   bool
}

// errConsultationOver: the consultation ended before the transfer could
// take its target.
var errConsultationOver = errors.New("the consultation call is over")

// Consult runs an agent's consultation call (leg: the agent phone's second
// call, not answered yet) for the caller it talks with, to target (what it
// dialed). It returns when the consultation is over.
func (e *Engine) Consult(agentID, target string, leg CallerLeg) {
	a := e.agents[agentID]
	if a == nil {
		leg.Reject(403, "Not An Agent")
		return
	}
	a.mu.Lock()
	c := a.talking
	a.mu.Unlock()
	if c == nil {
		e.log.Info().Str("agent", agentID).Str("target", target).Msg("consultation call without a caller on the line: 403")
		leg.Reject(403, "No Call To Consult For")
		return
	}
	c.consult(agentID, target, leg)
}

// consult runs the consultation (see Engine.Consult).
func (c *call) consult(agentID, target string, leg CallerLeg) {
	e := c.e
	log := c.log.With().Str("consultation", leg.CallID()).Str("target", target).Logger()
	d, code, reason := c.resolveTransfer(agentID, target)
	if code == 480 {
		log.Info().Msg("consultation with a department outside its hours: the agent hears so")
		c.holdCaller()
		defer c.resumeAfterConsult(agentID)
		c.notice(leg, PromptDepartmentClosed)
		return
	}
	if code != 202 {
		log.Info().Int("code", code).Msg("consultation refused")
		leg.Reject(code, reason)
		return
	}
	if d.kind == transferFederation {
		leg.Reject(403, "Not For Consultation") // another center takes callers, not questions: a blind transfer
		return
	}
	k := &consultation{agent: agentID, leg: leg, dest: d, answered: make(chan struct{}), over: make(chan struct{}), taken: make(chan struct{})}
	if !c.startConsult(k) {
		leg.Reject(486, "Already Consulting")
		return
	}
	defer c.endConsult(k)
	log.Info().Msg("consultation: the caller is held, the target rings")
	c.holdCaller()
	if r, ok := leg.(Ringer); ok {
		r.Ring()
	}
	out, err := c.dialConsultation(k)
	if err != nil {
		code, reason := transferFailure(err)
		log.Info().Err(err).Int("code", code).Msg("consultation target did not answer")
		leg.Reject(code, reason)
		k.finish(err)
		c.resumeAfterConsult(agentID)
		return
	}
	answerCtx, cancel := c.whileOnLine(context.Background())
	aerr := leg.Answer(answerCtx)
	cancel()
	if aerr != nil && !k.handOverWaiting() {
		log.Info().Err(aerr).Msg("the agent's phone gave the consultation up")
		out.Hangup()
		c.freeConsulted(k)
		k.finish(aerr)
		c.resumeAfterConsult(agentID)
		return
	}
	if aerr == nil {
		if err := e.Dialer.Bridge(leg, out); err != nil {
			log.Error().Err(err).Msg("bridge of the consultation failed")
		}
	}
	k.answer(out)
	if id := k.consulted(); id != "" {
		e.agentWrite(id, "on-call", func(ctx context.Context) error { return c.onCall(ctx, id) })
	}
	select {
	case <-k.taken:
	case <-leg.Ended():
	case <-out.Ended():
	case <-c.leg.Ended():
	}
	if k.finish(errConsultationOver) {
		log.Info().Msg("consultation over: the agent is back with the caller")
		out.Hangup()
		leg.Hangup()
		c.freeConsulted(k)
		c.resumeAfterConsult(agentID)
		return
	}
	log.Info().Msg("consultation handed over: the caller talks with the target")
	leg.Hangup()
}

// dialConsultation rings the consultation's target: until it answers,
// refuses, the ring times out, the caller hangs up, or the agent's phone
// gives the consultation up (unless a transfer already waits for the
// target: a REFER while it rings, then the phone's CANCEL).
func (c *call) dialConsultation(k *consultation) (AgentLeg, error) {
	e := c.e
	ring, stop := context.WithTimeout(context.Background(), e.cfg.TransferRingTimeout)
	defer stop()
	ctx, cancel := c.whileOnLine(ring)
	defer cancel()
	go func() {
		select {
		case <-k.leg.Ended():
			if !k.handOverWaiting() {
				cancel()
			}
		case <-ctx.Done():
		}
	}()
	d := k.dest
	switch {
	case d.agentID != "":
		leg, err := c.offerTransfer(ctx, d.agentID)
		if err == nil {
			k.setConsulted(d.agentID)
		}
		return leg, err
	case d.kind == transferQueue:
		return c.consultQueue(ctx, k)
	}
	number, withheld := c.leg.Caller()
	return e.Dialer.CallOut(ctx, OutboundOffer{Number: d.number, CallID: c.rec.CallID, CallerNumber: number, Withheld: withheld,
		Dialed: c.rec.DialedNumber, Municipality: c.muni.Key, TransferredBy: k.agent})
}

// consultQueue rings an agent of the queue for a consultation: the first
// agent of that skill (in config order) the store lets this call claim;
// busy if none is available.
func (c *call) consultQueue(ctx context.Context, k *consultation) (AgentLeg, error) {
	e := c.e
	for _, id := range e.agentIDs {
		a := e.agents[id]
		if id == k.agent || !a.isRegistered() || !hasSkill(a.skills, k.dest.skill) {
			continue
		}
		leg, err := c.offerTransfer(ctx, id)
		if errors.Is(err, errTargetBusy) {
			continue
		}
		if err == nil {
			k.setConsulted(id)
		}
		return leg, err
	}
	return nil, errTargetBusy
}

func hasSkill(skills []string, skill string) bool {
	for _, s := range skills {
		if s == skill {
			return true
		}
	}
	return false
}

// notice answers the agent's consultation call with a spoken notice and
// hangs up.
func (c *call) notice(leg CallerLeg, prompt string) {
	ctx, cancel := c.whileOnLine(context.Background())
	defer cancel()
	if err := leg.Answer(ctx); err != nil {
		return
	}
	leg.PlayOnce([]string{prompt})
	leg.Hangup()
}

// holdCaller plays the caller its hold track for a consultation.
func (c *call) holdCaller() { c.leg.Play(nil, c.hold) }

// resumeAfterConsult brings the caller back to the agent after a
// consultation without transfer — unless the agent's phone still holds
// the call (its resume bridges them, holdMusic) or the agent is no longer
// on the line with this caller.
func (c *call) resumeAfterConsult(agentID string) {
	c.mu.Lock()
	line, lineAgent, held := c.line, c.lineAgent, c.lineHeld
	c.mu.Unlock()
	if line == nil || lineAgent != agentID || held {
		return
	}
	c.backToAgent(line)
}

// freeConsulted frees an agent claimed for a consultation that ended
// without a transfer.
func (c *call) freeConsulted(k *consultation) {
	if id := k.consulted(); id != "" {
		c.e.release(id, c.rec.CallID)
		c.disengage(id)
	}
}

// startConsult registers k as the call's consultation (one at a time).
func (c *call) startConsult(k *consultation) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.consulting != nil {
		return false
	}
	c.consulting = k
	return true
}

// endConsult forgets k.
func (c *call) endConsult(k *consultation) {
	c.mu.Lock()
	if c.consulting == k {
		c.consulting = nil
	}
	c.mu.Unlock()
	k.finish(errConsultationOver)
}

// consultationOf returns the agent's consultation named by its call id.
func (c *call) consultationOf(agentID, callID string) *consultation {
	c.mu.Lock()
	defer c.mu.Unlock()
	k := c.consulting
	if k == nil || k.agent != agentID || k.leg.CallID() != callID {
		return nil
	}
	return k
}

func (k *consultation) setConsulted(id string) {
	k.mu.Lock()
	k.targetID = id
	k.mu.Unlock()
}

func (k *consultation) consulted() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.targetID
}

func (k *consultation) handOverWaiting() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.waiting
}

// answer publishes the target's answered leg.
func (k *consultation) answer(out AgentLeg) {
	k.mu.Lock()
	k.target = out
	k.mu.Unlock()
	close(k.answered)
}

// finish ends the consultation unless a transfer took its target; it
// reports whether it ended it now (false: handed over, or over already).
func (k *consultation) finish(err error) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.done || k.handed {
		return false
	}
	k.done, k.err = true, err
	close(k.over)
	return true
}

// handOver gives the transfer the consultation's target: at once if it
// answered, else once it does (a REFER while it rings). It fails with the
// reason the target did not answer, or when the consultation is over.
func (k *consultation) handOver(ctx context.Context) (AgentLeg, string, error) {
	k.mu.Lock()
	k.waiting = true
	k.mu.Unlock()
	select {
	case <-k.answered:
	case <-k.over:
	case <-ctx.Done():
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.waiting = false
	switch {
	case k.done:
		return nil, "", k.err
	case k.target == nil:
		return nil, "", ctx.Err()
	}
	k.handed = true
	close(k.taken)
	return k.target, k.targetID, nil
}
