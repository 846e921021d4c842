package acd

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// The part of a call's life after an agent answered: bridged talk, the
// agent's wrap-up, and the agent's states in the store meanwhile.

// connected bridges caller and agent until either hangs up, then runs the
// agent's wrap-up; the CDR is written after wrap-up. An agent may transfer
// the caller meanwhile (transfer.go): to another agent (who talks next, in
// this loop), out to a number or another center (talked to the end here),
// or to a queue — then requeue is true and the caller waits again.
func (c *call) connected(agentID string, agentLeg AgentLeg) (st CallState, requeue bool) {
	e := c.e
	c.answeredBy(agentID)
	for {
		seg := &segment{agent: agentID, answeredAt: e.now()}
		if len(c.segments) == 0 {
			seg.answeredAt = c.rec.AnsweredAt // the call's answer: the first part's talk is all of it without a transfer
		}
		c.segments = append(c.segments, seg)
		// REFERs are taken from the moment the agent is on the call.
		transfers := c.takeTransfers(agentID, agentLeg)
		offLine := c.onLine(agentID, agentLeg)
		release := c.holdMusic(agentLeg)
		if err := e.Dialer.Bridge(c.leg, agentLeg); err != nil {
			c.log.Error().Err(err).Msg("bridge failed")
			offLine()
			agentLeg.Hangup()
			c.leg.Hangup()
			e.release(agentID, c.rec.CallID)
			c.disengage(agentID)
			c.rec.EndedAt = e.now()
			seg.leftAt = c.rec.EndedAt
			c.endSegments()
			return c.finish(cdr.Failed, StateFailed, c.muni.Key), false
		}
		c.to(StateConnected)
		var next handOn
		for {
			cut, tr := c.talk(agentLeg, "agent", transfers)
			if tr == nil {
				release()
				offLine()
				seg.leftAt = c.rec.EndedAt
				c.rec.Disposition = cdr.Answered
				c.wrapUp(seg, true)
				c.endSegments()
				if cut {
					return StateInterrupted, false
				}
				return StateDone, false
			}
			if next = c.transfer(seg, agentLeg, *tr); next.kind != handBack {
				break
			}
		}
		release()
		offLine()
		// The agent left: its wrap-up runs alongside the rest of the call —
		// unless the caller is back with the same agent (a transfer that
		// failed after its phone hung up): then there is none in between.
		c.otherHold += agentLeg.HoldTime()
		if next.kind == handToAgent && next.agent == agentID {
			seg.wrapupEnd = seg.leftAt
		} else {
			c.wrapups.Add(1)
			go func(seg *segment) {
				defer c.wrapups.Done()
				c.wrapUp(seg, false)
			}(seg)
		}
		switch next.kind {
		case handToAgent:
			agentID, agentLeg = next.agent, next.leg
			c.log = c.log.With().Str("agent", agentID).Logger()
			e.agentWrite(agentID, "on-call", func(ctx context.Context) error { return c.onCall(ctx, agentID) })
		case handOut:
			return c.talkOut(next), false
		case handToQueue:
			return "", true
		default: // the caller hung up while the transfer rang
			c.rec.Disposition = cdr.Answered
			c.endSegments()
			return StateDone, false
		}
	}
}

// Holdable is an agent leg whose phone may hold the call (re-INVITE
// sendonly or inactive) and resume it.
type Holdable interface {
	OnHold(f func(held bool))
}

// holdMusic plays the caller its hold track while the agent's phone holds
// the call (a caller must never hear silence, e.g. while the agent asks a
// colleague), and bridges them again when it resumes. The returned func
// ends that (the agent's part is over: a late resume must not bridge the
// caller back to a leg that left).
func (c *call) holdMusic(agentLeg AgentLeg) (release func()) {
	h, ok := agentLeg.(Holdable)
	if !ok {
		return func() {}
	}
	var mu sync.Mutex
	active := true
	h.OnHold(func(held bool) {
		mu.Lock()
		defer mu.Unlock()
		if !active {
			return
		}
		c.mu.Lock()
		c.lineHeld = held
		consulting := c.consulting != nil
		c.mu.Unlock()
		if !held && consulting {
			return // the phone resumed with a consultation open: the caller must not overhear it
		}
		if held {
			c.log.Info().Msg("the agent holds the call: the caller hears the hold track")
			c.leg.Play(nil, c.hold)
			return
		}
		if err := c.e.Dialer.Bridge(c.leg, agentLeg); err != nil {
			c.log.Error().Err(err).Msg("bridge after the agent's hold failed")
		}
	})
	return func() {
		mu.Lock()
		active = false
		mu.Unlock()
		h.OnHold(nil)
	}
}

// onLine notes the agent on the line with the caller on leg (its
// consultation calls find this call through it); the returned func ends
// that.
func (c *call) onLine(agentID string, leg AgentLeg) (offLine func()) {
	a := c.e.agents[agentID]
	a.mu.Lock()
	a.talking = c
	a.mu.Unlock()
	c.mu.Lock()
	c.line, c.lineAgent, c.lineHeld = leg, agentID, false
	c.mu.Unlock()
	return func() {
		a.mu.Lock()
		if a.talking == c {
			a.talking = nil
		}
		a.mu.Unlock()
		c.mu.Lock()
		if c.line == leg {
			c.line, c.lineAgent, c.lineHeld, c.lineTransfers = nil, "", false, nil
		}
		c.mu.Unlock()
	}
}

// backToAgent brings the caller back to the agent on agentLeg after a
// transfer that did not take place: bridged — or its hold track, while the
// agent's phone holds the call (the phone's resume bridges them).
func (c *call) backToAgent(agentLeg AgentLeg) {
	c.mu.Lock()
	held := c.lineHeld && c.line == agentLeg
	c.mu.Unlock()
	if held {
		c.leg.Play(nil, c.hold)
		return
	}
	if err := c.e.Dialer.Bridge(c.leg, agentLeg); err != nil {
		c.log.Error().Err(err).Msg("bridge back to the agent failed")
	}
}

// answeredBy records the first answer of the call by an agent.
func (c *call) answeredBy(agentID string) {
	e := c.e
	ctx := context.Background()
	e.agentWrite(agentID, "on-call", func(ctx context.Context) error { return c.onCall(ctx, agentID) })
	_ = e.Store.ResetNoAnswer(ctx, agentID)
	if !c.rec.AnsweredAt.IsZero() {
		return // answered before: a caller transferred to a queue, taken again
	}
	c.rec.Agent = agentID
	c.rec.AnsweredAt = e.now()
	c.rec.WaitMS = c.rec.AnsweredAt.Sub(c.rec.ArrivedAt).Milliseconds()
	// The answer time bills the call if this instance dies: retried.
	answered := map[string]string{"answered": strconv.FormatInt(c.rec.AnsweredAt.UnixMilli(), 10), "agent": agentID}
	e.storeWrite("call-answered", c.rec.CallID, nil, func(ctx context.Context) error { return e.Store.SetCallFields(ctx, c.rec.CallID, answered) })
	e.m.answered.WithLabelValues(c.muni.Key).Inc()
	c.log = c.log.With().Str("agent", agentID).Logger()
}

// talk waits until the caller or the other leg (an agent, another center
// or a transfer target: side says which) hangs up, shutdown cuts the call,
// or the agent asks for a transfer (transfers; nil for other legs). At the
// end it hangs up the rest and records the end and who hung up; a
// transfer leaves everything as it is and is returned.
func (c *call) talk(other AgentLeg, side string, transfers <-chan transferDest) (cut bool, tr *transferDest) {
	select {
	case d := <-transfers:
		return false, &d
	case <-c.leg.Ended():
		other.Hangup()
		c.rec.HangupBy = orDefaultString(c.leg.EndReason(), "caller")
	case <-other.Ended():
		c.leg.Hangup()
		c.rec.HangupBy = orDefaultString(other.EndReason(), side)
	case <-c.e.stop:
		other.Hangup()
		c.leg.Hangup()
		c.rec.HangupBy = "system"
		cut = true
	}
	c.rec.EndedAt = c.e.now()
	c.otherHold += other.HoldTime()
	c.rec.HoldMS = (c.leg.HoldTime() + c.otherHold).Milliseconds()
	return cut, nil
}

// segment is one agent's part of a call: from its answer until it left
// (the call ended, or it transferred the caller), then its wrap-up.
type segment struct {
	agent      string
	answeredAt time.Time
	leftAt     time.Time
	wrapupEnd  time.Time
}

func (s *segment) talk() time.Duration   { return s.leftAt.Sub(s.answeredAt) }
func (s *segment) wrapup() time.Duration { return s.wrapupEnd.Sub(s.leftAt) }

// endSegments waits for the wrap-ups still running and writes the agents'
// time into the record: talk and wrap-up are their sums (what the
// municipality is billed), Segments lists them when more than one agent
// talked.
func (c *call) endSegments() {
	c.wrapups.Wait()
	var talk, wrap int64 // sums of the parts as written: the row adds up exactly
	var parts []string
	for _, s := range c.segments {
		if s.wrapupEnd.IsZero() {
			s.wrapupEnd = s.leftAt // no wrap-up (the bridge failed)
		}
		t, w := s.talk().Milliseconds(), s.wrapup().Milliseconds()
		talk += t
		wrap += w
		if s.wrapupEnd.After(c.rec.WrapupEndedAt) {
			c.rec.WrapupEndedAt = s.wrapupEnd
		}
		parts = append(parts, s.agent+":"+strconv.FormatInt(t, 10)+":"+strconv.FormatInt(w, 10))
	}
	c.rec.TalkMS, c.rec.WrapupMS = talk, wrap
	if len(parts) > 1 {
		c.rec.Segments = strings.Join(parts, ";")
	}
}

// wrapUp runs an agent's after-call work for its segment: until the
// queue's (or the agent's own) wrap-up time is over, the agent says ready,
// or shutdown. Then the agent is ready for the next call (or logged out if
// its device is gone: the store knows, whichever instance registered it).
// inCall: the call's state is wrap-up meanwhile (false: the agent left by
// a transfer and the caller talks on).
func (c *call) wrapUp(seg *segment, inCall bool) {
	e := c.e
	ctx := context.Background()
	agentID := seg.agent
	if inCall {
		c.to(StateWrapUp)
	}
	a := e.agents[agentID]
	d := e.cfg.settings(c.muni.Skill).Wrapup
	if a.cfg.Wrapup > 0 {
		d = a.cfg.Wrapup
	}
	// Ready to be told "ready" or "extend" (here or from another instance)
	// before the store says wrap-up.
	ready := make(chan struct{})
	a.mu.Lock()
	a.wrapup, a.wrapupCall = ready, c.rec.CallID
	a.mu.Unlock()
	e.agentWrite(agentID, "wrap-up", func(ctx context.Context) error {
		_, err := e.Store.AgentStateFrom(ctx, agentID, string(AgentWrapUp), c.rec.CallID,
			queue.From{States: string(AgentReserved) + "," + string(AgentOnCall), Call: c.rec.CallID})
		return err
	})
	t := time.NewTimer(d)
	ends := e.now().Add(d)
wait:
	for {
		select {
		case <-t.C:
			break wait
		case more := <-a.extend:
			ends = ends.Add(more)
			t.Reset(time.Until(ends))
			c.log.Info().Str("agent", agentID).Dur("by", more).Msg("wrap-up extended")
		case <-ready:
			break wait
		case <-e.stop:
			break wait
		}
	}
	t.Stop()
	a.mu.Lock()
	if a.wrapup == ready {
		a.wrapup = nil
	}
	select {
	case <-a.extend: // an extension that came too late
	default:
	}
	a.mu.Unlock()
	seg.wrapupEnd = e.now()
	talk := seg.talk()
	if err := e.Store.RecordHandled(ctx, agentID, c.muni.Skill, talk, talk+seg.wrapup()); err != nil {
		c.log.Error().Err(err).Msg("store: record handled")
	}
	e.release(agentID, c.rec.CallID) // or logged out, if its device is gone meanwhile
	c.disengage(agentID)
}

// onCall marks the agent talking on the call in the store: from reserved
// for this call — or, if the store lost that reservation (a Redis
// failover: the promoted replica lacks the last writes) and shows the
// agent available, by claiming it, so that nobody else reserves an agent
// who is talking. Idempotent, so a retry after a lost answer is harmless.
func (c *call) onCall(ctx context.Context, agentID string) error {
	st := c.e.Store
	ok, err := st.AgentStateFrom(ctx, agentID, string(AgentOnCall), c.rec.CallID, queue.From{States: string(AgentReserved), Call: c.rec.CallID})
	if err != nil || ok {
		return err
	}
	info, err := st.Agent(ctx, agentID)
	if err != nil {
		return err
	}
	if info.Call == c.rec.CallID && (AgentState(info.State) == AgentOnCall || AgentState(info.State) == AgentWrapUp) {
		return nil // done already (a retry)
	}
	claimed, err := st.Claim(ctx, agentID, c.rec.CallID)
	if err != nil {
		return err
	}
	if claimed {
		c.log.Warn().Msg("the store had lost this agent's reservation (failover?): claimed for the call it answered")
	} else {
		c.log.Error().Str("agent_state", info.State).Str("agent_call", info.Call).
			Msg("the agent answered this call but the store has it engaged elsewhere")
	}
	return nil
}
