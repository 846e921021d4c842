package acd

import (
	"context"
	"errors"
	"strings"

	"github.com/sc115/sc115/cdr"
)

// Transfers ("Weitervermittlung", issue 14): an agent's phone sends REFER
// naming a target; sc115, a B2BUA, puts the caller on hold, sets the new
// leg up itself and tells the phone how it went (NOTIFY). The caller is
// never lost: a target that does not answer brings it back to the agent
// if the agent is still on the line, else to the front of the queue.
//
// Targets an agent may dial, in this order of meaning:
//
//	agent:<id>, or an agent's SIP user or id   another agent (blind)
//	queue:<skill>, queue-<skill>, or a skill    that queue, at its front
//	federation                                  another 115 center
//	a department's key or code (#1)             the municipality's office, out through the trunk
//	a number                                    out through the trunk
//
// The CDR keeps one row per call: talk_ms and wrapup_ms are all agents'
// time (what the municipality is billed), agent_segments lists each
// agent's part when several talked, transfer_* say what the last transfer
// was, and transfer_ms how long the caller talked with the number or
// center it was handed to (not billed as agents' minutes).

// Transferable is an agent leg whose phone can transfer (REFER): the SIP
// layer asks the handler (its answer is the REFER's: 202 or an error) and
// tells the phone how the transfer goes with NotifyTransfer.
type Transferable interface {
	OnTransfer(h func(target, replaces string) (code int, reason string))
	NotifyTransfer(code int, reason string)
}

// Transfer kinds as the CDR names them (and transferAttended, consult.go).
const (
	transferBlind      = "blind"
	transferQueue      = "queue"
	transferFederation = "federation"
)

// frontPriority places a call at the front of its queue (the highest
// priority band; among such calls, the earlier arrival first): a
// transferred caller is no new arrival.
const frontPriority = 9

// transferDest is where an agent asked to transfer the caller.
type transferDest struct {
	kind    string // blind, queue, federation
	target  string // as the CDR shows it: a number, agent:<id>, queue:<skill>, federation
	number  string // digits to dial out (a number or department)
	agentID string // another agent
	skill   string // a queue
	by      string // the transferring agent
	// consult: an attended transfer's consultation, whose target takes
	// the caller (kind attended).
	consult *consultation
	// fromConsole: the agent's console asked (not a REFER of its phone).
	fromConsole bool
}

// handOn is what happens after a transfer.
type handOn struct {
	kind  handKind
	agent string   // handToAgent: who talks next
	leg   AgentLeg // handToAgent, handOut: the caller's new leg
}

type handKind int

const (
	handBack    handKind = iota // the target failed; the agent is still there
	handToAgent                 // another agent answered
	handOut                     // a number or another center answered
	handToQueue                 // into a queue (asked for, or the fallback)
	handEnded                   // the caller hung up meanwhile
)

// takeTransfers lets the agent's phone transfer the caller: REFERs are
// resolved at once (the answer to the REFER says whether the target is
// known and reachable), an accepted one arrives on the channel for the
// call's goroutine. Legs that cannot transfer give a nil channel.
func (c *call) takeTransfers(agentID string, leg AgentLeg) <-chan transferDest {
	t, ok := leg.(Transferable)
	if !ok {
		return nil
	}
	ch := make(chan transferDest, 1)
	c.mu.Lock()
	c.lineTransfers = ch
	c.mu.Unlock()
	t.OnTransfer(func(target, replaces string) (int, string) {
		var d transferDest
		if replaces != "" {
			// An attended transfer: the consultation's target, whatever
			// the Refer-To's user part says.
			k := c.consultationOf(agentID, replaces)
			if k == nil {
				return 403, "No Such Consultation"
			}
			d = k.dest
			d.kind, d.consult = transferAttended, k
		} else {
			var code int
			var reason string
			if d, code, reason = c.resolveTransfer(agentID, target); code != 202 {
				return code, reason
			}
		}
		select {
		case ch <- d:
			return 202, "Accepted"
		default:
			return 491, "Request Pending"
		}
	})
	return ch
}

// resolveTransfer reads what the agent dialed (see the package comment on
// transfers). Only immutable configuration is read: it runs in the SIP
// layer's goroutine.
func (c *call) resolveTransfer(by, target string) (transferDest, int, string) {
	e := c.e
	d := transferDest{by: by}
	if id, ok := strings.CutPrefix(target, "agent:"); ok {
		return c.agentDest(d, id, true)
	}
	if d, code, reason := c.agentDest(d, target, false); code != 404 {
		return d, code, reason
	}
	skill, explicit := strings.CutPrefix(target, "queue:")
	if !explicit {
		skill, explicit = strings.CutPrefix(target, "queue-")
	}
	if !explicit {
		skill = target
	}
	if e.knownSkill(skill) {
		d.kind, d.skill, d.target = transferQueue, skill, "queue:"+skill
		return d, 202, ""
	}
	if explicit {
		return d, 404, "No Such Queue"
	}
	if target == "federation" {
		if len(e.fed.targets) == 0 {
			return d, 403, "No Federation Targets"
		}
		d.kind, d.target = transferFederation, "federation"
		return d, 202, ""
	}
	if key, dep := e.department(c.muni, target); dep != nil {
		if !e.departmentOpen(c.muni, key, e.now()) {
			return d, 480, "Department Closed"
		}
		d.kind, d.number, d.target = transferBlind, digits(dep.Number), digits(dep.Number)
		return d, 202, ""
	}
	if n := digits(target); n == target && len(strings.TrimPrefix(n, "+")) >= 3 {
		d.kind, d.number, d.target = transferBlind, n, n
		return d, 202, ""
	}
	return d, 404, "No Such Transfer Target"
}

// agentDest resolves an agent by id or SIP user (404 if none).
func (c *call) agentDest(d transferDest, who string, explicit bool) (transferDest, int, string) {
	var id string
	if a := c.e.agents[who]; a != nil {
		id = who
	} else {
		for aid, a := range c.e.agents {
			if a.cfg.SIPUser == who {
				id = aid
			}
		}
	}
	if id == "" {
		if explicit {
			return d, 404, "No Such Agent"
		}
		return d, 404, ""
	}
	if id == d.by {
		return d, 403, "Cannot Transfer To Yourself"
	}
	d.kind, d.agentID, d.target = transferBlind, id, "agent:"+id
	return d, 202, ""
}

// knownSkill says whether calls can wait for skill: a municipality's, an
// agent's, or a configured queue.
func (e *Engine) knownSkill(skill string) bool {
	if skill == "" {
		return false
	}
	if _, ok := e.cfg.Queues[skill]; ok {
		return true
	}
	for _, m := range e.cfg.Municipalities {
		if m.Skill == skill {
			return true
		}
	}
	return false
}

// transfer runs an accepted transfer of the caller from seg's agent (on
// agentLeg) to d. The caller hears its hold track meanwhile.
func (c *call) transfer(seg *segment, agentLeg AgentLeg, d transferDest) handOn {
	e := c.e
	var tl Transferable = silentPhone{} // a console's transfer: the phone asked for nothing, is told nothing
	if !d.fromConsole {
		tl = agentLeg.(Transferable)
	}
	c.log.Info().Str("target", d.target).Str("kind", d.kind).Bool("console", d.fromConsole).Msg("transfer")
	c.to(StateTransferring)
	c.leg.Play(nil, c.hold)
	c.rec.TransferKind, c.rec.TransferTarget, c.rec.TransferredBy = d.kind, d.target, d.by
	e.m.transfers.WithLabelValues(c.muni.Key, d.kind).Inc()
	if d.kind == transferQueue && d.consult == nil {
		tl.NotifyTransfer(200, "OK")
		c.leaveAgent(seg, agentLeg)
		c.queueSkill = d.skill
		return handOn{kind: handToQueue}
	}
	ring, stop := context.WithTimeout(context.Background(), e.cfg.TransferRingTimeout)
	defer stop()
	ctx, cancel := c.whileOnLine(ring)
	defer cancel()
	var leg AgentLeg
	var err error
	switch {
	case d.consult != nil:
		// The target answered the agent's consultation call (or rings
		// still): its leg is handed to the caller as it is.
		leg, d.agentID, err = d.consult.handOver(ctx)
	case d.agentID != "":
		leg, err = c.offerTransfer(ctx, d.agentID)
	case d.kind == transferFederation:
		var target string
		leg, target, err = c.forwardTo(ctx, "transfer", nil)
		if err == nil {
			c.rec.TransferTarget = "federation:" + target
		}
	default:
		number, withheld := c.leg.Caller()
		leg, err = e.Dialer.CallOut(ctx, OutboundOffer{Number: d.number, CallID: c.rec.CallID, CallerNumber: number, Withheld: withheld,
			Dialed: c.rec.DialedNumber, Municipality: c.muni.Key, TransferredBy: d.by})
	}
	select {
	case <-c.leg.Ended():
		if leg != nil {
			leg.Hangup()
			if d.agentID != "" {
				e.release(d.agentID, c.rec.CallID)
				c.disengage(d.agentID)
			}
		}
		tl.NotifyTransfer(487, "Request Terminated")
		c.leaveAgent(seg, agentLeg)
		c.rec.EndedAt, c.rec.HangupBy = e.now(), "caller"
		c.rec.HoldMS = (c.leg.HoldTime() + c.otherHold).Milliseconds()
		return handOn{kind: handEnded}
	default:
	}
	if err != nil {
		code, reason := transferFailure(err)
		c.log.Info().Err(err).Str("target", d.target).Int("code", code).Msg("transfer target did not take the call")
		tl.NotifyTransfer(code, reason)
		c.rec.TransferKind, c.rec.TransferTarget, c.rec.TransferredBy = "", "", ""
		select {
		case <-agentLeg.Ended():
			// The agent's phone hung up already: it rings again (the agent
			// is still engaged with this call, nobody else has it); if it
			// does not answer, the caller waits at the front of its queue.
			c.leaveAgent(seg, agentLeg)
			back, err := func() (AgentLeg, error) {
				ctx, cancel := c.whileOnLine(context.Background())
				defer cancel()
				return c.offer(ctx, seg.agent)
			}()
			if err == nil {
				c.log.Info().Msg("transfer failed after the agent left: back to the agent")
				return handOn{kind: handToAgent, agent: seg.agent, leg: back}
			}
			c.log.Info().Msg("transfer failed after the agent left, who does not answer again: to the front of the queue")
			return handOn{kind: handToQueue}
		default:
		}
		c.backToAgent(agentLeg)
		c.to(StateConnected)
		return handOn{kind: handBack}
	}
	tl.NotifyTransfer(200, "OK")
	c.leaveAgent(seg, agentLeg)
	if d.agentID != "" {
		return handOn{kind: handToAgent, agent: d.agentID, leg: leg}
	}
	return handOn{kind: handOut, leg: leg}
}

// leaveAgent ends the transferring agent's part: its leg (if its phone did
// not hang up already) and its talk time.
func (c *call) leaveAgent(seg *segment, agentLeg AgentLeg) {
	if seg.leftAt.IsZero() {
		seg.leftAt = c.e.now()
	}
	select {
	case <-agentLeg.Ended():
	default:
		agentLeg.Hangup()
	}
}

// offerTransfer rings the agent a caller is transferred to: claimed from
// available for this call first (so no queue gives it another call), freed
// again if its phone does not answer.
func (c *call) offerTransfer(ctx context.Context, agentID string) (AgentLeg, error) {
	e := c.e
	ok, err := e.Store.Claim(ctx, agentID, c.rec.CallID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errTargetBusy
	}
	c.engage(agentID)
	c.rec.Attempts++
	leg, err := c.offer(ctx, agentID)
	if err != nil {
		e.release(agentID, c.rec.CallID)
		c.disengage(agentID)
		return nil, err
	}
	return leg, nil
}

// errTargetBusy: the agent a caller is transferred to is not available.
var errTargetBusy = errors.New("transfer target agent is not available")

// transferFailure is the status the agent's phone is told for a failed
// transfer: the target's own answer when it gave one.
func transferFailure(err error) (int, string) {
	var coded interface{ SIPCode() int }
	switch {
	case errors.Is(err, errTargetBusy):
		return 486, "Busy Here"
	case errors.As(err, &coded) && coded.SIPCode() >= 300:
		return coded.SIPCode(), "Transfer Target Refused"
	case errors.Is(err, context.DeadlineExceeded):
		return 408, "Request Timeout"
	}
	return 503, "Service Unavailable"
}

// talkOut is the rest of a call handed to a number or another center:
// until either side hangs up. The agents' wrap-ups end meanwhile; the CDR
// waits for them.
func (c *call) talkOut(h handOn) CallState {
	e := c.e
	answered := e.now()
	c.to(StateConnected)
	if err := e.Dialer.Bridge(c.leg, h.leg); err != nil {
		c.log.Error().Err(err).Msg("bridge to the transfer target failed")
		h.leg.Hangup()
		c.leg.Hangup()
		c.rec.EndedAt, c.rec.HangupBy = e.now(), "system"
	} else {
		c.talk(h.leg, "transfer-target", nil)
	}
	c.rec.TransferMS = c.rec.EndedAt.Sub(answered).Milliseconds()
	c.rec.Disposition = cdr.Answered
	c.endSegments()
	return StateDone
}
