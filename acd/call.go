package acd

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
)

// CallState is a step in the life of a call. The states and their order:
//
//	arrived → routed → queued → offering → connected → wrap-up → done
//	                     ↑          │
//	                     └──────────┘  offer not answered: back to its place
//
// Exits, each with a CDR: rejected (unknown number, draining), abandoned
// (caller hung up before an agent answered), failed (SIP/media/store error),
// interrupted (cut off by shutdown).
type CallState string

// Call states; see CallState.
const (
	StateArrived     CallState = "arrived"
	StateRouted      CallState = "routed"
	StateQueued      CallState = "queued"
	StateOffering    CallState = "offering"
	StateConnected   CallState = "connected"
	StateWrapUp      CallState = "wrap-up"
	StateDone        CallState = "done"
	StateRejected    CallState = "rejected"
	StateAbandoned   CallState = "abandoned"
	StateFailed      CallState = "failed"
	StateInterrupted CallState = "interrupted"
)

// call is one caller's call, owned by the goroutine running HandleCall.
type call struct {
	e     *Engine
	leg   CallerLeg
	log   zerolog.Logger
	state CallState
	muni  *Municipality
	rec   cdr.Record

	mu     sync.Mutex // guards closed and the hand-over of assignments
	closed bool
	assign chan string
}

// offerAgent is called from other goroutines when the store reserved an
// agent for this call.
func (c *call) offerAgent(agentID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	select {
	case c.assign <- agentID:
		return true
	default:
		return false
	}
}

func (c *call) to(s CallState) {
	c.log.Info().Str("from", string(c.state)).Str("to", string(s)).Msg("call state")
	c.state = s
}

// HandleCall runs one inbound call from arrival to its CDR. The SIP layer
// calls it in the INVITE's goroutine, which becomes the call's owner.
func (e *Engine) HandleCall(leg CallerLeg) {
	e.active.Add(1)
	defer e.active.Add(-1)
	e.m.active.Inc()
	defer e.m.active.Dec()

	number, withheld := leg.Caller()
	c := &call{e: e, leg: leg, state: StateArrived, assign: make(chan string, 1)}
	c.rec = cdr.Record{CallID: leg.CallID(), Instance: e.Instance, Caller: e.Privacy.Caller(number, withheld), ArrivedAt: e.now()}
	c.log = e.log.With().Str("call_id", c.rec.CallID).Str("caller_number", c.rec.Caller).Logger()

	end := c.run()
	c.to(end)
	c.rec.EndedAt = orNow(c.rec.EndedAt, e.now())
	if c.rec.AnsweredAt.IsZero() {
		c.rec.WaitMS = c.rec.EndedAt.Sub(c.rec.ArrivedAt).Milliseconds()
	}
	if err := e.CDRs.Write(c.rec); err != nil {
		c.log.Error().Err(err).Msg("cdr write failed")
	}
}

func orNow(t, now time.Time) time.Time {
	if t.IsZero() {
		return now
	}
	return t
}

// run walks the state machine and returns the final state.
func (c *call) run() CallState {
	e, leg := c.e, c.leg
	if e.Draining() {
		leg.Reject(503, "Service Unavailable")
		return c.finish(cdr.Rejected, StateRejected, "unknown")
	}
	m, dialed := e.router.Route(leg.DialedNumbers())
	if m == nil {
		c.log.Warn().Strs("dialed", leg.DialedNumbers()).Msg("no municipality for dialed number: 404")
		leg.Reject(404, "Not Found")
		return c.finish(cdr.Rejected, StateRejected, "unknown")
	}
	c.muni = m
	c.rec.Municipality, c.rec.DialedNumber = m.Key, dialed
	c.log = c.log.With().Str("municipality", m.Key).Logger()
	e.m.offered.WithLabelValues(m.Key).Inc()
	c.to(StateRouted)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-leg.Ended():
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := leg.Answer(ctx); err != nil {
		if ctx.Err() != nil {
			return c.finish(cdr.Abandoned, StateAbandoned, m.Key)
		}
		c.log.Warn().Err(err).Msg("answer failed")
		return c.finish(cdr.Failed, StateFailed, m.Key)
	}
	leg.Play([]string{e.Greeting(m)}, true)

	e.calls.Store(c.rec.CallID, c)
	defer c.close()
	return c.queueAndConnect(ctx)
}

// finish records the disposition and counts it.
func (c *call) finish(d cdr.Disposition, s CallState, label string) CallState {
	c.rec.Disposition = d
	switch d {
	case cdr.Rejected:
		c.e.m.rejected.WithLabelValues(label).Inc()
	case cdr.Abandoned:
		c.e.m.abandoned.WithLabelValues(label).Inc()
	}
	return s
}

// close stops assignments to this call and frees an agent reserved for it
// in the meantime.
func (c *call) close() {
	c.e.calls.Delete(c.rec.CallID)
	c.mu.Lock()
	c.closed = true
	var pending string
	select {
	case pending = <-c.assign:
	default:
	}
	c.mu.Unlock()
	if pending != "" {
		c.e.agentFree(pending)
	}
}

var errNoAnswer = errors.New("agent did not answer")

// queueAndConnect waits for an agent, offers, bridges, and runs wrap-up.
func (c *call) queueAndConnect(ctx context.Context) CallState {
	e, key := c.e, c.muni.Key
	c.rec.WaitMS = 0
	waiting := e.m.waiting.WithLabelValues(key)
	for {
		agentID, err := e.Store.Enqueue(ctx, c.rec.CallID, c.muni.Skill, c.rec.ArrivedAt.UnixMilli())
		if err != nil {
			c.log.Error().Err(err).Msg("store: enqueue")
			c.leg.Hangup()
			return c.finish(cdr.Failed, StateFailed, key)
		}
		if agentID != "" {
			e.reserve(agentID)
		} else {
			c.to(StateQueued)
			waiting.Inc()
			select {
			case agentID = <-c.assign:
			case <-c.leg.Ended():
			case <-e.stop:
			}
			waiting.Dec()
			if agentID == "" {
				if _, err := e.Store.RemoveCall(context.Background(), c.rec.CallID); err != nil {
					c.log.Error().Err(err).Msg("store: remove call")
				}
				return c.endUnanswered()
			}
		}
		c.to(StateOffering)
		agentLeg, err := c.offer(ctx, agentID)
		if err != nil {
			if ctx.Err() != nil || isStopped(e.stop) {
				e.agentFree(agentID)
				return c.endUnanswered()
			}
			c.log.Info().Err(err).Str("agent", agentID).Msg("offer not answered; back to its place")
			e.agentRest(agentID)
			continue
		}
		return c.connected(agentID, agentLeg)
	}
}

func isStopped(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// endUnanswered is the exit for a call that ends before any agent answered.
func (c *call) endUnanswered() CallState {
	select {
	case <-c.leg.Ended():
		return c.finish(cdr.Abandoned, StateAbandoned, c.muni.Key)
	default:
		c.leg.Hangup()
		return c.finish(cdr.Interrupted, StateInterrupted, c.muni.Key)
	}
}

func (c *call) offer(ctx context.Context, agentID string) (AgentLeg, error) {
	a := c.e.agents[agentID]
	if a == nil {
		return nil, errNoAnswer
	}
	ringCtx, cancel := context.WithTimeout(ctx, c.e.cfg.Queue.RingTimeout)
	defer cancel()
	number, withheld := c.leg.Caller()
	if withheld {
		number = "anonymous"
	}
	return c.e.Dialer.Offer(ringCtx, Offer{CallID: c.rec.CallID, AgentID: agentID, SIPUser: a.cfg.SIPUser,
		DisplayName: "115 " + c.muni.Name, MunicipalityKey: c.muni.Key, CallerNumber: number})
}

// connected bridges caller and agent until either hangs up, then runs the
// agent's wrap-up; the CDR is written after wrap-up.
func (c *call) connected(agentID string, agentLeg AgentLeg) CallState {
	e := c.e
	e.agentBusy(agentID, AgentOnCall)
	c.rec.Agent = agentID
	c.rec.AnsweredAt = e.now()
	c.rec.WaitMS = c.rec.AnsweredAt.Sub(c.rec.ArrivedAt).Milliseconds()
	e.m.answered.WithLabelValues(c.muni.Key).Inc()
	c.log = c.log.With().Str("agent", agentID).Logger()
	c.to(StateConnected)
	if err := e.Dialer.Bridge(c.leg, agentLeg); err != nil {
		c.log.Error().Err(err).Msg("bridge failed")
		agentLeg.Hangup()
		c.leg.Hangup()
		e.agentFree(agentID)
		c.rec.EndedAt = e.now()
		return c.finish(cdr.Failed, StateFailed, c.muni.Key)
	}
	final := StateDone
	select {
	case <-c.leg.Ended():
		agentLeg.Hangup()
	case <-agentLeg.Ended():
		c.leg.Hangup()
	case <-e.stop:
		agentLeg.Hangup()
		c.leg.Hangup()
		final = StateInterrupted
	}
	c.rec.EndedAt = e.now()
	c.rec.TalkMS = c.rec.EndedAt.Sub(c.rec.AnsweredAt).Milliseconds()
	c.rec.Disposition = cdr.Answered

	c.to(StateWrapUp)
	e.agentBusy(agentID, AgentWrapUp)
	t := time.NewTimer(e.cfg.Queue.Wrapup)
	select {
	case <-t.C:
	case <-e.stop:
		t.Stop()
	}
	c.rec.WrapupMS = e.now().Sub(c.rec.EndedAt).Milliseconds()
	e.agentFree(agentID)
	return final
}
