package acd

import (
	"context"
	"strconv"
	"time"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// The part of a call's life after an agent answered: bridged talk, the
// agent's wrap-up, and the agent's states in the store meanwhile.

// connected bridges caller and agent until either hangs up, then runs the
// agent's wrap-up; the CDR is written after wrap-up.
func (c *call) connected(agentID string, agentLeg AgentLeg) CallState {
	e := c.e
	ctx := context.Background()
	e.agentWrite(agentID, "on-call", func(ctx context.Context) error { return c.onCall(ctx, agentID) })
	_ = e.Store.ResetNoAnswer(ctx, agentID)
	c.rec.Agent = agentID
	c.rec.AnsweredAt = e.now()
	c.rec.WaitMS = c.rec.AnsweredAt.Sub(c.rec.ArrivedAt).Milliseconds()
	// The answer time bills the call if this instance dies: retried.
	answered := map[string]string{"answered": strconv.FormatInt(c.rec.AnsweredAt.UnixMilli(), 10), "agent": agentID}
	e.storeWrite("call-answered", c.rec.CallID, nil, func(ctx context.Context) error { return e.Store.SetCallFields(ctx, c.rec.CallID, answered) })
	e.m.answered.WithLabelValues(c.muni.Key).Inc()
	c.log = c.log.With().Str("agent", agentID).Logger()
	c.to(StateConnected)
	if err := e.Dialer.Bridge(c.leg, agentLeg); err != nil {
		c.log.Error().Err(err).Msg("bridge failed")
		agentLeg.Hangup()
		c.leg.Hangup()
		e.release(agentID, c.rec.CallID)
		c.disengage()
		c.rec.EndedAt = e.now()
		return c.finish(cdr.Failed, StateFailed, c.muni.Key)
	}
	final := StateDone
	if c.talk(agentLeg, "agent") {
		final = StateInterrupted
	}
	c.rec.Disposition = cdr.Answered
	c.wrapUp(agentID)
	return final
}

// talk waits until the caller or the other leg (an agent, or another
// center: side says which) hangs up, or shutdown cuts the call; it hangs up
// the rest and records the end, talk and hold time. It reports whether
// shutdown cut the call.
func (c *call) talk(other AgentLeg, side string) (cut bool) {
	select {
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
	c.rec.TalkMS = c.rec.EndedAt.Sub(c.rec.AnsweredAt).Milliseconds()
	c.rec.HoldMS = (c.leg.HoldTime() + other.HoldTime()).Milliseconds()
	return cut
}

// wrapUp runs the agent's after-call work: until the queue's (or the
// agent's own) wrap-up time is over, the agent says ready, or shutdown.
// Then the agent is ready for the next call (or logged out if its device
// is gone: the store knows, whichever instance registered it).
func (c *call) wrapUp(agentID string) {
	e := c.e
	ctx := context.Background()
	c.to(StateWrapUp)
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
			c.log.Info().Dur("by", more).Msg("wrap-up extended")
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
	c.rec.WrapupEndedAt = e.now()
	c.rec.WrapupMS = c.rec.WrapupEndedAt.Sub(c.rec.EndedAt).Milliseconds()
	talk := time.Duration(c.rec.TalkMS) * time.Millisecond
	if err := e.Store.RecordHandled(ctx, agentID, c.muni.Skill, talk, talk+time.Duration(c.rec.WrapupMS)*time.Millisecond); err != nil {
		c.log.Error().Err(err).Msg("store: record handled")
	}
	e.release(agentID, c.rec.CallID) // or logged out, if its device is gone meanwhile
	c.disengage()
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
