package acd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// Running a callback (virtual hold, issue 16) whose turn came: the store
// reserved an agent for it as for any call at its place, and the match
// reached this instance on the shared callback list. The agent's phone
// rings first ("Rückruf Burgdorf, wartet seit 12 min"); once the agent
// answers, the citizen is dialed through the trunk; when the citizen
// answers they are bridged and the call goes on as any answered call
// (talk, transfers, wrap-up, one CDR under the call's id). Each callback
// has exactly one agent, reserved before anything is dialed, so there are
// never more callbacks in flight than agents reserved for them.
//
// Not dialed: while the municipality is closed (parked until it opens) or
// in crisis mode (parked for crisis_pause: the agents belong to the live
// lines). The agent not answering puts the callback back at its place; the
// citizen not answering counts a try: parked for retry_after, and after
// the last try the callback fails — a callback_failed CDR, and the ticket
// stays in the store for the supervisors (GET /api/callbacks).

// takeCallback runs a callback match from the shared list.
func (e *Engine) takeCallback(m *queue.Match) {
	go e.runCallback(m.CallID, m.AgentID)
}

// runCallback claims the callback and runs it to its end or its next park.
func (e *Engine) runCallback(callID, agentID string) {
	ctx := context.Background()
	f, err := e.Store.ClaimCallback(ctx, callID, agentID, e.Instance)
	if err != nil {
		// Still reserved with nobody running it: the reconciliation frees
		// the agent and puts the callback back (heal.go).
		e.log.Error().Err(err).Str("call_id", callID).Msg("store: claim callback")
		return
	}
	if f == nil {
		return // another instance took it, or it is gone
	}
	e.active.Add(1)
	defer e.active.Add(-1)
	e.m.active.Inc()
	defer e.m.active.Dec()
	c := e.restoreCallback(f)
	if c == nil {
		e.log.Error().Str("call_id", callID).Str("municipality", f["municipality"]).
			Msg("callback of a municipality this instance does not have: back to its place; give every instance the same municipalities")
		e.requeueCallback(callID)
		e.release(agentID, callID)
		return
	}
	e.calls.Store(callID, c)
	c.engage(agentID)
	defer c.close()
	c.callBack(agentID)
}

// restoreCallback rebuilds the call from its stored fields (nil if its
// municipality is not in this instance's config).
func (e *Engine) restoreCallback(f map[string]string) *call {
	var m *Municipality
	for i := range e.cfg.Municipalities {
		if e.cfg.Municipalities[i].Key == f["municipality"] {
			m = &e.cfg.Municipalities[i]
		}
	}
	if m == nil {
		return nil
	}
	ms := func(k string) time.Time {
		v, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil || v <= 0 {
			return time.Time{}
		}
		return time.UnixMilli(v)
	}
	attempts, _ := strconv.Atoi(f["cb_attempts"])
	offers, _ := strconv.Atoi(f["offers"])
	ringMS, _ := strconv.ParseInt(f["ring_ms"], 10, 64)
	prio, err := strconv.Atoi(f["priority"])
	if err != nil {
		prio = m.Priority
	}
	c := &call{e: e, state: StateOffering, assign: make(chan string, 1), commands: make(chan queue.Match, 4), muni: m,
		priority: prio, greeting: e.Greeting(m), hold: e.HoldTrack(m), cbNumber: f["cb_number"]}
	c.rec = cdr.Record{CallID: f["id"], Instance: e.Instance, Municipality: m.Key, DialedNumber: f["dialed"],
		Caller: f["caller"], CallerPrivacy: f["privacy"], Queue: f["queue"], ArrivedAt: ms("arrived"), QueuedAt: ms("queued_at"),
		CallbackRequestedAt: ms("cb_requested"), CallbackAttempts: attempts, Attempts: offers, RingMS: ringMS, SIPCode: 200}
	c.ticket, c.topic, c.dueAt = f["kind"] == "ticket", f["topic"], ms("due_at")
	c.log = e.log.With().Str("call_id", c.rec.CallID).Str("municipality", m.Key).Bool("callback", true).Logger()
	return c
}

// callBack rings the agent, then the citizen, and talks or parks.
func (c *call) callBack(agentID string) {
	e := c.e
	ctx := context.Background()
	now := e.now()
	if crisis, err := e.Store.Crisis(ctx, c.muni.Key); err == nil && crisis {
		c.park(agentID, now.Add(e.cfg.Callback.CrisisPause), "crisis")
		return
	}
	if sched := e.hours[c.muni.Key]; sched != nil && !sched.isOpen(now) {
		opens, ok := sched.addServiceTime(now, 0)
		if !ok || !opens.After(now) {
			opens = now.Add(time.Hour)
		}
		c.park(agentID, opens, "closed")
		return
	}
	agentLeg, err := c.offerCallback(agentID)
	if err != nil {
		c.offerFailed(agentID, err)
		e.requeueCallbackWith(c.rec.CallID, c.progress())
		return
	}
	agentAnswered := e.now()
	c.log = c.log.With().Str("agent", agentID).Logger()
	e.agentWrite(agentID, "on-call", func(ctx context.Context) error { return c.onCall(ctx, agentID) })
	if p, ok := agentLeg.(Player); ok {
		p.PlayIntro([]string{promptCallbackAgent}, "")
	}
	c.rec.CallbackAttempts++
	citizen, err := c.dialCitizen(agentLeg, agentID)
	if err != nil {
		c.citizenMissed(agentID, agentLeg, err)
		return
	}
	e.m.callbacks.WithLabelValues(c.muni.Key, "answered").Inc()
	c.rec.CallbackAnsweredAt = e.now()
	c.mu.Lock() // the API reads the leg (callerNumber) from other goroutines
	c.leg = &calledBack{out: citizen, id: c.rec.CallID, dialed: c.rec.DialedNumber, number: c.cbNumber}
	c.mu.Unlock()
	c.log.Info().Int("attempt", c.rec.CallbackAttempts).Msg("callback: the citizen answered")
	st, requeue := c.connected(agentID, agentLeg)
	c.callbackAnswered(agentAnswered)
	if requeue { // an agent transferred the citizen to a queue: it waits as a live call now
		c.priority = frontPriority
		st = c.requeueAndConnect()
	}
	c.conclude(st)
}

// callbackAnswered makes the record say what a callback's answer is: the
// agent took the call when it answered the callback's offer (the wait is
// the caller's place in the queue), talk counts from the citizen's answer.
func (c *call) callbackAnswered(agentAnswered time.Time) {
	if c.rec.AnsweredAt.IsZero() {
		return
	}
	c.rec.AnsweredAt = agentAnswered
	c.rec.WaitMS = agentAnswered.Sub(c.rec.ArrivedAt).Milliseconds()
}

// offerCallback rings the agent with what the callback is.
func (c *call) offerCallback(agentID string) (AgentLeg, error) {
	e := c.e
	a := e.agents[agentID]
	if a == nil {
		return nil, errUnknownAgent
	}
	ring := e.cfg.settings(c.muni.Skill).RingTimeout
	if a.cfg.RingTimeout > 0 {
		ring = a.cfg.RingTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), ring)
	defer cancel()
	display := fmt.Sprintf("Rückruf %s, wartet seit %d min", c.muni.Name, int(e.now().Sub(c.rec.ArrivedAt)/time.Minute))
	if c.ticket {
		display = ticketDisplay(c.muni, c.topic, c.dueAt, e.berlin)
	}
	c.to(StateOffering)
	c.rec.Attempts++
	start := e.now()
	defer func() { c.rec.RingMS += e.now().Sub(start).Milliseconds() }()
	return e.Dialer.Offer(ctx, Offer{CallID: c.rec.CallID, AgentID: agentID, SIPUser: a.cfg.SIPUser,
		DisplayName: display, MunicipalityKey: c.muni.Key,
		CallerNumber: c.cbNumber, KnowledgeURL: e.knowledgeURL(c.muni, c.rec.CallID), AutoAnswer: a.cfg.AutoAnswer})
}

// dialCitizen calls the citizen through the trunk while the agent waits
// on the line: until it answers, refuses, rings out, or the agent hangs
// up (errAgentLeft) or sc115 stops.
func (c *call) dialCitizen(agentLeg AgentLeg, agentID string) (AgentLeg, error) {
	e := c.e
	ctx, cancel := context.WithTimeout(context.Background(), e.cfg.Callback.RingTimeout)
	defer cancel()
	left := make(chan struct{})
	go func() {
		select {
		case <-agentLeg.Ended():
			close(left)
			cancel()
		case <-e.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	leg, err := e.Dialer.CallOut(ctx, OutboundOffer{Number: c.cbNumber, CallID: c.rec.CallID, Dialed: c.rec.DialedNumber,
		Municipality: c.muni.Key, TransferredBy: agentID})
	select {
	case <-left:
		if err == nil {
			leg.Hangup()
		}
		return nil, errAgentLeft
	default:
	}
	if err == nil && isStopped(e.stop) {
		leg.Hangup()
		return nil, errStopping
	}
	return leg, err
}

var (
	errAgentLeft = errors.New("the agent hung up before the citizen answered")
	errStopping  = errors.New("sc115 stops")
)

// citizenMissed handles a try that did not reach the citizen: the agent
// goes back to work, and the callback is parked for its next try, fails
// after the last, or (the agent hung up, sc115 stops) goes back to its
// place without counting a try.
func (c *call) citizenMissed(agentID string, agentLeg AgentLeg, err error) {
	e := c.e
	agentLeg.Hangup()
	if errors.Is(err, errAgentLeft) || errors.Is(err, errStopping) || isStopped(e.stop) {
		c.log.Info().Err(err).Msg("callback: not dialed to the end; back to its place")
		c.rec.CallbackAttempts--
		e.requeueCallbackWith(c.rec.CallID, c.progress())
		e.release(agentID, c.rec.CallID)
		c.disengage(agentID)
		return
	}
	cb := &e.cfg.Callback
	c.log.Info().Err(err).Int("attempt", c.rec.CallbackAttempts).Int("tries", cb.Tries).Msg("callback: the citizen was not reached")
	if c.rec.CallbackAttempts >= cb.Tries {
		e.m.callbacks.WithLabelValues(c.muni.Key, "failed").Inc()
		fields := c.progress()
		e.storeWrite("callback-failed", c.rec.CallID, nil, func(ctx context.Context) error {
			return e.Store.FailCallback(ctx, c.rec.CallID, fields)
		})
		e.release(agentID, c.rec.CallID)
		c.disengage(agentID)
		c.rec.HangupBy = "system"
		c.rec.Disposition = cdr.CallbackFailed
		c.concludeKept(StateFailed)
		return
	}
	e.m.callbacks.WithLabelValues(c.muni.Key, "retry").Inc()
	c.park(agentID, e.now().Add(cb.RetryAfter), "not-reached")
}

// park takes the callback out of its queues until due, then frees the
// agent reserved for it (in that order: the agent must not get it again).
func (c *call) park(agentID string, due time.Time, why string) {
	e := c.e
	c.log.Info().Str("why", why).Time("due", due).Msg("callback: parked")
	fields := c.progress()
	fields["cb_parked"] = why
	e.storeWrite("callback-park", c.rec.CallID, nil, func(ctx context.Context) error {
		return e.Store.ParkCallback(ctx, c.rec.CallID, due, fields)
	})
	e.release(agentID, c.rec.CallID)
	c.disengage(agentID)
}

// requeueCallback puts a callback back at its place (retried if the
// store fails).
func (e *Engine) requeueCallback(callID string) { e.requeueCallbackWith(callID, nil) }

func (e *Engine) requeueCallbackWith(callID string, fields map[string]string) {
	e.storeWrite("callback-requeue", callID, nil, func(ctx context.Context) error {
		return e.Store.RequeueCallback(ctx, callID, fields)
	})
}

// progress is what a callback keeps between its runs: the offers to
// agents and their ringing so far, and the tries of the citizen.
func (c *call) progress() map[string]string {
	return map[string]string{"cb_attempts": strconv.Itoa(c.rec.CallbackAttempts), "offers": strconv.Itoa(c.rec.Attempts),
		"ring_ms": strconv.FormatInt(c.rec.RingMS, 10)}
}

// wakeCallbacks places parked callbacks that are due, every second.
func (e *Engine) wakeCallbacks(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := e.Store.WakeCallbacks(ctx); err != nil && ctx.Err() == nil {
				e.log.Error().Err(err).Msg("store: wake callbacks")
			} else if n > 0 {
				e.log.Info().Int("callbacks", n).Msg("callbacks due: back in their queues")
			}
		}
	}
}
