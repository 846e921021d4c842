package acd

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// CallState is a step in the life of a call. The states and their order:
//
//	arrived → routed → queued → offering → connected → wrap-up → done
//	                     ↑  │       │          │  ↑
//	                     │  │       │          │  └─ transfer target failed: back to the agent
//	                     │  │       │          └─ transferring → connected (another agent, a number, a center)
//	                     │  │       │                          → queued (to a queue, or the target failed after the agent left)
//	                     │  │       └─ offer not answered: back to its place
//	                     │  └─ overflowing → connected (to another center) → overflowed
//	                     └──── every federation target failed: back to its place
//
// Exits, each with a CDR: rejected (unknown number, draining), abandoned
// (caller hung up before an agent answered), failed (SIP/media/store error),
// interrupted (cut off by shutdown before an agent answered; a call cut
// after the answer keeps its answered CDR and is billed).
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
	StateOverflowing CallState = "overflowing"
	// StateTransferring: an agent transferred the caller, who hears hold
	// audio while the target rings (transfer.go).
	StateTransferring CallState = "transferring"
	StateOverflowed   CallState = "overflowed"
	StateRejected     CallState = "rejected"
	StateAbandoned    CallState = "abandoned"
	StateFailed       CallState = "failed"
	StateInterrupted  CallState = "interrupted"
)

// call is one caller's call, owned by the goroutine running HandleCall.
type call struct {
	// enqueues counts the call's enqueues: each names its attempt.
	enqueues int
	e        *Engine
	leg      CallerLeg
	log      zerolog.Logger
	state    CallState
	muni     *Municipality
	rec      cdr.Record

	lastPos  int    // position last announced
	priority int    // the municipality's, or its crisis priority
	greeting string // the municipality's greeting, or its crisis greeting
	hold     string // the municipality's hold track (its hold class)
	// noOverflowUntil pauses overflow after every target failed.
	noOverflowUntil time.Time
	pendingOverflow string
	ewtCheckedAt    time.Time // when the overflow check last read the call's estimated wait
	crisis          bool      // the municipality was in crisis mode when the call came
	// Callbacks (callbackrequest.go, callback.go): the offer was heard, the
	// menu's callback option was chosen, the number a callback dials.
	cbOffered     bool
	callbackAsked bool
	cbNumber      string
	// A ticket (tickets.go): its topic and due time.
	ticket bool
	topic  string
	dueAt  time.Time

	mu     sync.Mutex // guards state (read by the API), closed, agent and the hand-over of assignments
	closed bool
	assign chan string
	// commands are supervisors' actions on the waiting call (supervise.go),
	// from any instance through the store.
	commands chan queue.Match
	// agents are the agents engaged with the call — reserved (from the
	// moment its assignment arrives), talking or in wrap-up; more than one
	// after a transfer (the first in wrap-up, the next talking): what the
	// reconciliation asks (heal.go).
	agents map[string]bool

	// Transfers (transfer.go): the agents' parts of the call so far, their
	// wrap-ups running alongside the rest of the call, the hold time of
	// legs that are over, and the queue the call waits in if an agent
	// transferred it to another one.
	segments   []*segment
	wrapups    sync.WaitGroup
	otherHold  time.Duration
	queueSkill string

	// The agent on the line with the caller now (guarded by mu): its leg,
	// whether its phone holds the call, and its consultation call if it
	// placed one (consult.go).
	line      AgentLeg
	lineAgent string
	// lineTransfers takes the line agent's transfers (its REFERs, and its
	// console's: consoletransfer.go).
	lineTransfers chan<- transferDest
	lineHeld      bool
	consulting    *consultation
}

// engagedWith says whether the agent is one of this call's agents now.
func (c *call) engagedWith(agentID string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.agents[agentID]
}

// engage notes an agent engaged with the call (reserved, or claimed for
// a transfer).
func (c *call) engage(agentID string) {
	c.mu.Lock()
	if c.agents == nil {
		c.agents = map[string]bool{}
	}
	c.agents[agentID] = true
	c.mu.Unlock()
}

// disengage notes that the call is done with the agent (freed, resting).
func (c *call) disengage(agentID string) {
	c.mu.Lock()
	delete(c.agents, agentID)
	c.mu.Unlock()
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
		if c.agents == nil {
			c.agents = map[string]bool{}
		}
		c.agents[agentID] = true
		return true
	default:
		return false
	}
}

func (c *call) to(s CallState) {
	c.mu.Lock()
	from := c.state
	c.state = s
	c.mu.Unlock()
	c.log.Info().Str("from", string(from)).Str("to", string(s)).Msg("call state")
}

func (c *call) stateNow() CallState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// HandleCall runs one inbound call from arrival to its CDR. The SIP layer
// calls it in the INVITE's goroutine, which becomes the call's owner.
func (e *Engine) HandleCall(leg CallerLeg) {
	e.active.Add(1)
	defer e.active.Add(-1)
	e.m.active.Inc()
	defer e.m.active.Dec()

	number, withheld := leg.Caller()
	c := &call{e: e, leg: leg, state: StateArrived, assign: make(chan string, 1), commands: make(chan queue.Match, 4)}
	c.rec = cdr.Record{CallID: leg.CallID(), Instance: e.Instance, Caller: e.Privacy.Caller(number, withheld),
		CallerPrivacy: e.Privacy.Kind(withheld), ArrivedAt: e.now()}
	c.log = e.log.With().Str("call_id", c.rec.CallID).Str("caller_number", c.rec.Caller).Logger()

	end := c.run()
	if end == StateCallback {
		// The caller hung up with a callback booked: the call lives on in
		// the store; its CDR is written when the callback is over.
		c.to(end)
		return
	}
	c.conclude(end)
}

func orDefaultString(s, d string) string {
	if s == "" {
		return d
	}
	return s
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
		leg.Refuse(e.cfg.RetryAfter)
		c.rec.SIPCode, c.rec.HangupBy = 503, "system"
		return c.finish(cdr.RejectedBusy, StateRejected, "unknown")
	}
	m, dialed := e.router.Route(leg.DialedNumbers())
	if m == nil {
		switch e.cfg.UnknownOrigin {
		case "reject":
			c.log.Warn().Strs("dialed", leg.DialedNumbers()).Msg("no municipality for dialed number: 404")
			leg.Reject(404, "Not Found")
			c.rec.SIPCode, c.rec.HangupBy = 404, "system"
			return c.finish(cdr.RejectedUnknown, StateRejected, "unknown")
		case "announce":
			c.log.Warn().Strs("dialed", leg.DialedNumbers()).Msg("no municipality for dialed number: region not connected announcement")
			if err := leg.Answer(context.Background()); err == nil {
				leg.PlayOnce([]string{promptUnknownOrigin})
				leg.Hangup()
			}
			c.rec.HangupBy = "system"
			return c.finish(cdr.RejectedUnknown, StateRejected, "unknown")
		default: // the unknown-origin municipality's queue takes it
			for i := range e.cfg.Municipalities {
				if e.cfg.Municipalities[i].Key == e.cfg.UnknownOrigin {
					m = &e.cfg.Municipalities[i]
				}
			}
			if ds := leg.DialedNumbers(); len(ds) > 0 {
				dialed = ds[0]
			}
			c.log.Warn().Strs("dialed", leg.DialedNumbers()).Str("route", m.Key).Msg("no municipality for dialed number: unknown-origin route")
		}
	}
	c.muni = m
	c.rec.Municipality, c.rec.DialedNumber, c.rec.Queue = m.Key, dialed, m.Skill
	c.log = c.log.With().Str("municipality", m.Key).Logger()
	e.m.offered.WithLabelValues(m.Key).Inc()
	c.to(StateRouted)
	sched := e.hours[m.Key]
	c.priority, c.greeting, c.hold = m.Priority, e.Greeting(m), e.HoldTrack(m)
	if r := e.admit(); r != "" {
		// Whatever the overflow rules say: an overloaded instance takes no
		// new call, so the PBX (or Kamailio) can route it elsewhere or try
		// again — decided before the store is asked anything, so overload
		// costs Redis nothing.
		e.overloadLog.Warn().Str("call_id", c.rec.CallID).Str("reason", r).Int64("active_calls", e.active.Load()).
			Int64("cpu_percent", e.cpuPercent.Load()).Msg("instance overloaded: 503 (logged at most 5 a second)")
		e.m.overloaded.WithLabelValues(r).Inc()
		leg.Refuse(e.cfg.RetryAfter)
		c.rec.SIPCode, c.rec.HangupBy = 503, "system"
		return c.finish(cdr.RejectedBusy, StateRejected, m.Key)
	}
	// The call is in the store before anything answers it: if this
	// instance dies from the 200 OK on, the reaper writes its row.
	crisis, err := e.Store.Arrive(context.Background(), c.rec.CallID, e.Instance, m.Key, c.callFields())
	if err != nil || e.storeDown.Load() {
		// Without the store the call could be answered but never queued:
		// refuse it before answering, so the PBX can send it elsewhere.
		c.log.Error().Err(err).Msg("store unavailable: 503")
		e.m.overloaded.WithLabelValues("store-unavailable").Inc()
		leg.Refuse(e.cfg.RetryAfter)
		c.rec.SIPCode, c.rec.HangupBy = 503, "system"
		return c.finish(cdr.RejectedBusy, StateRejected, m.Key)
	}
	if crisis {
		sched, c.priority, c.greeting, c.crisis = e.crisisHours[m.Key], m.Crisis.Priority, m.Crisis.Greeting, true
		c.log = c.log.With().Bool("crisis", true).Logger()
	} else if e.router.CrisisOnly(dialed) {
		c.log.Warn().Str("dialed", dialed).Msg("crisis hotline while crisis mode is off: 404")
		leg.Reject(404, "Not Found")
		c.rec.SIPCode, c.rec.HangupBy = 404, "system"
		return c.finish(cdr.RejectedUnknown, StateRejected, m.Key)
	}
	closed := sched != nil && !sched.isOpen(e.now())

	ctx, cancel := c.whileOnLine(context.Background())
	defer cancel()
	if err := leg.Answer(ctx); err != nil {
		if ctx.Err() != nil {
			c.rec.SIPCode, c.rec.HangupBy = 487, "caller"
			return c.finish(cdr.Abandoned, StateAbandoned, m.Key)
		}
		c.log.Warn().Err(err).Msg("answer failed")
		c.rec.HangupBy = "system"
		var rejected interface{ SIPCode() int }
		if errors.As(err, &rejected) { // e.g. 503: no RTP port free
			c.rec.SIPCode = rejected.SIPCode()
			return c.finish(cdr.RejectedBusy, StateRejected, m.Key)
		}
		return c.finish(cdr.Failed, StateFailed, m.Key)
	}
	if closed && m.Overflow != nil && m.Overflow.WhenClosed {
		e.calls.Store(c.rec.CallID, c)
		defer c.close()
		if st, done := c.overflowed(ctx, "closed", false); done {
			return st
		}
	}
	if closed {
		c.log.Info().Msg("outside opening hours: closed announcement")
		leg.PlayOnce([]string{m.ClosedPrompt})
		leg.Hangup()
		c.rec.HangupBy = "system"
		return c.finish(cdr.RejectedClosed, StateRejected, m.Key)
	}
	e.calls.Store(c.rec.CallID, c)
	defer c.close()
	return c.queueAndConnect(ctx)
}

// errUnknownAgent: the store reserved an agent this instance's config does
// not have (instances sharing a store with different agent lists).
var errUnknownAgent = errors.New("agent not in this instance's config")

// targets are the queues the call waits in after waiting w: the
// municipality's skill at its level, widened by the queue's escalation.
func (c *call) targets(w time.Duration) ([]queue.Target, time.Duration) {
	cfg := &c.e.cfg
	skill, level := c.muni.Skill, c.muni.MinLevel
	if c.queueSkill != "" { // transferred to another queue: any agent of it
		skill, level = c.queueSkill, 1
	}
	q := cfg.settings(skill)
	ts := []queue.Target{{Skill: skill, MinLevel: level, Strategy: q.Strategy}}
	next := time.Duration(0)
	if c.crisis {
		for _, s := range c.muni.Crisis.AddSkills {
			ts = append(ts, queue.Target{Skill: s, MinLevel: 1, Strategy: cfg.settings(s).Strategy})
		}
	}
	for _, st := range q.Escalation {
		if w < st.After {
			next = st.After
			break
		}
		if st.MinLevel > 0 {
			for i := range ts {
				ts[i].MinLevel = min(ts[i].MinLevel, st.MinLevel)
			}
		}
		for _, s := range st.AddSkills {
			ts = append(ts, queue.Target{Skill: s, MinLevel: max(1, st.MinLevel), Strategy: cfg.settings(s).Strategy})
		}
	}
	return ts, next
}

// enqueue puts the call into the store at its place (its score never
// changes: a call back from an unanswered offer or a failed overflow keeps
// its place), or matches it at once. Store calls run to completion even if
// the caller hangs up meanwhile (a cancelled request may still have been
// executed by Redis); the hang-up is noticed right after.
//
// A failed enqueue is retried for up to enqueueRetryFor (while the caller
// is on the line) with the same attempt name, so a try that Redis ran but
// whose reply was lost is not run twice: a store timeout does not drop the
// caller.
func (c *call) enqueue() error {
	e := c.e
	ts, _ := c.targets(e.now().Sub(c.rec.ArrivedAt))
	c.enqueues++
	attempt := e.Instance + "#" + strconv.Itoa(c.enqueues)
	score, fields := queue.Score(c.priority, c.rec.ArrivedAt), c.callFields()
	try := func() error {
		_, err := e.Store.EnqueueAttempt(context.Background(), attempt, c.rec.CallID, e.Instance, score, ts, fields)
		return err
	}
	err := try()
	if err == nil {
		return nil
	}
	e.m.storeRetries.WithLabelValues("enqueue").Inc()
	c.log.Warn().Err(err).Msg("store: enqueue failed; retrying")
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.MaxInterval = 50*time.Millisecond, time.Second
	ctx, cancel := c.whileOnLine(context.Background())
	defer cancel()
	_, err = backoff.Retry(ctx, func() (struct{}, error) { return struct{}{}, try() },
		backoff.WithBackOff(b), backoff.WithMaxElapsedTime(enqueueRetryFor))
	return err
}

// legContext is a leg that also tells its end as a context (sip's legs
// do): waiting on it costs no goroutine.
type legContext interface {
	OverContext() context.Context
}

// whileOnLine is a context of parent that also ends when the caller hangs
// up (cancel it when done: for a leg without OverContext it holds a
// goroutine until then).
func (c *call) whileOnLine(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(parent)
	if l, ok := c.leg.(legContext); ok {
		stop := context.AfterFunc(l.OverContext(), cancel)
		return ctx, func() { stop(); cancel() }
	}
	go func() {
		select {
		case <-c.leg.Ended():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// enqueueRetryFor is how long a caller waits (hearing nothing yet) for a
// store that failed to take the call before the call fails.
const enqueueRetryFor = 10 * time.Second

// storeFailed ends a call the store could not take (back): hung up, CDR
// failed.
func (c *call) storeFailed(err error) CallState {
	c.log.Error().Err(err).Msg("store: enqueue")
	c.leg.Hangup()
	c.rec.HangupBy = "system"
	return c.finish(cdr.Failed, StateFailed, c.muni.Key)
}

// queueAndConnect waits for an agent, offers, bridges, and runs wrap-up.
func (c *call) queueAndConnect(ctx context.Context) CallState {
	e := c.e
	greeting, st, done := c.greetBeforeQueue(ctx)
	if done {
		return st
	}
	if err := c.enqueue(); err != nil {
		return c.storeFailed(err)
	}
	c.rec.QueuedAt = e.now()
	if reason := c.overflowReason(ctx, true); reason != "" {
		c.leg.Play(greeting, c.hold) // the caller hears something while other centers ring
		if st, done := c.overflowed(ctx, reason, true); done {
			return st
		}
	}
	// The greeting (unless heard already), then (if the call waits) its
	// position and wait, then hold.
	c.leg.Play(append(greeting, c.announce()...), c.hold)
	return c.waitAndConnect(ctx)
}

// requeueAndConnect puts a call that is on the line (a called-back
// citizen an agent transferred to a queue) back into its queue, at the
// front, and waits for an agent.
func (c *call) requeueAndConnect() CallState {
	ctx, cancel := c.whileOnLine(context.Background())
	defer cancel()
	if err := c.enqueue(); err != nil {
		return c.storeFailed(err)
	}
	c.leg.Play(nil, c.hold)
	return c.waitAndConnect(ctx)
}

// waitAndConnect waits for an agent (or an overflow), offers, bridges and
// runs wrap-up, until the call is over.
func (c *call) waitAndConnect(ctx context.Context) CallState {
	e := c.e
	waiting := e.m.waiting.WithLabelValues(c.muni.Key)
	for {
		c.to(StateQueued)
		agentID, st := c.wait(ctx, waiting)
		if st == stateOverflowCheck {
			if st, done := c.overflowed(ctx, c.pendingOverflow, true); done {
				return st
			}
			continue
		}
		if st != "" {
			return st
		}
		c.to(StateOffering)
		c.rec.Attempts++
		ringStart := e.now()
		agentLeg, err := c.offer(ctx, agentID)
		c.rec.RingMS += e.now().Sub(ringStart).Milliseconds()
		if err != nil {
			if ctx.Err() != nil || isStopped(e.stop) {
				e.release(agentID, c.rec.CallID)
				c.disengage(agentID)
				return c.endUnanswered()
			}
			c.offerFailed(agentID, err)
			if err := c.enqueue(); err != nil {
				return c.storeFailed(err)
			}
			continue
		}
		st, requeue := c.connected(agentID, agentLeg)
		if !requeue {
			return st
		}
		// An agent transferred the caller to a queue (or a transfer failed
		// after the agent left): back to the front, hearing hold audio.
		c.priority = frontPriority
		if err := c.enqueue(); err != nil {
			return c.storeFailed(err)
		}
		c.leg.Play(nil, c.hold)
	}
}

// offerFailed takes the agent of an offer that was not answered out of
// distribution — a rest, or a pause if the store offered an agent this
// instance does not know — before the call goes back to its place (so the
// same agent is not offered it again at once).
func (c *call) offerFailed(agentID string, err error) {
	e := c.e
	if errors.Is(err, errUnknownAgent) {
		e.unknownAgent(agentID, c.rec.CallID)
	} else {
		c.log.Info().Err(err).Str("agent", agentID).Msg("offer not answered; back to its place")
		e.noAnswer(agentID, c.rec.CallID, e.cfg.settings(c.muni.Skill))
	}
	c.disengage(agentID)
}

// wait blocks until an agent is reserved for the call (its id), or the
// call ends (a final state). Escalation steps widen the call's targets as
// their time comes.
func (c *call) wait(ctx context.Context, waiting prometheus.Gauge) (string, CallState) {
	e := c.e
	waiting.Inc()
	defer waiting.Dec()
	var check <-chan time.Time
	if c.muni.Overflow != nil {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		check = t.C
	}
	var every <-chan time.Time
	if e.cfg.Announce.Every > 0 && (e.cfg.Announce.Position || e.cfg.Announce.Wait) {
		t := time.NewTicker(e.cfg.Announce.Every)
		defer t.Stop()
		every = t.C
	}
	// One escalation timer for the whole wait, re-armed for each step
	// (a timer per loop turn would pile up one more every second).
	escalation := time.NewTimer(time.Hour)
	escalation.Stop()
	defer escalation.Stop()
	armed := time.Duration(0) // the step the timer is set for
	if c.callbackAsked {      // the menu's callback option
		c.callbackAsked = false
		if agentID, st, done := c.requestCallback(ctx); agentID != "" || done {
			return agentID, st
		}
	}
	for {
		_, next := c.targets(e.now().Sub(c.rec.ArrivedAt))
		var escalate <-chan time.Time
		if next > 0 {
			if next != armed {
				escalation.Reset(next - e.now().Sub(c.rec.ArrivedAt))
				armed = next
			}
			escalate = escalation.C
		}
		select {
		case agentID := <-c.assign:
			return agentID, ""
		case <-check:
			if r := c.overflowReason(ctx, false); r != "" {
				c.pendingOverflow = r
				return "", stateOverflowCheck
			}
		case cmd := <-c.commands:
			if c.command(ctx, cmd) {
				return "", stateOverflowCheck
			}
		case d := <-c.leg.DTMF():
			if d == '1' && c.cbOffered {
				if agentID, st, done := c.requestCallback(ctx); agentID != "" || done {
					return agentID, st
				}
				continue
			}
			c.log.Info().Str("dtmf", string(d)).Msg("caller pressed a key while waiting")
		case <-every:
			if p := c.announce(); len(p) > 0 {
				c.leg.Play(p, c.hold)
			}
		case <-escalate:
			ts, _ := c.targets(e.now().Sub(c.rec.ArrivedAt))
			c.log.Info().Interface("targets", ts).Msg("escalation: call widened")
			if _, err := e.Store.Widen(context.Background(), c.rec.CallID, ts); err != nil {
				c.log.Error().Err(err).Msg("store: widen")
			}
		case <-c.leg.Ended():
			return "", c.endUnanswered()
		case <-e.stop:
			return "", c.endUnanswered()
		}
	}
}

// stateOverflowCheck is wait's signal that an overflow rule holds (not a
// state of the call).
const stateOverflowCheck CallState = "overflow-check"

func isStopped(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// announce returns the prompts telling a waiting caller its position and
// estimated wait (nothing if it does not wait), and remembers the position.
func (c *call) announce() []string {
	pos, ewt, err := c.e.Position(context.Background(), c.rec.CallID)
	if err != nil || pos == 0 {
		return nil
	}
	p := announcement(c.e.cfg.Announce, pos, ewt, c.lastPos)
	if c.e.cfg.Announce.Position && len(p) > 0 && p[0] == promptPosition {
		c.lastPos = pos
	}
	return append(p, c.callbackOffer(ewt)...)
}

// endUnanswered is the exit for a call that ends before any agent answered.
func (c *call) endUnanswered() CallState {
	select {
	case <-c.leg.Ended():
		if r := c.leg.EndReason(); r != "" {
			// The caller's media died (no RTP): not a caller who gave up.
			c.rec.HangupBy = r
			return c.finish(cdr.Failed, StateFailed, c.muni.Key)
		}
		c.rec.HangupBy = "caller"
		return c.finish(cdr.Abandoned, StateAbandoned, c.muni.Key)
	default:
		c.leg.Hangup()
		c.rec.HangupBy = "system"
		return c.finish(cdr.Interrupted, StateInterrupted, c.muni.Key)
	}
}

func (c *call) offer(ctx context.Context, agentID string) (AgentLeg, error) {
	a := c.e.agents[agentID]
	if a == nil {
		return nil, errUnknownAgent
	}
	ring := c.e.cfg.settings(c.muni.Skill).RingTimeout
	if a.cfg.RingTimeout > 0 {
		ring = a.cfg.RingTimeout
	}
	ringCtx, cancel := context.WithTimeout(ctx, ring)
	defer cancel()
	number, withheld := c.leg.Caller()
	if withheld {
		number = "anonymous"
	}
	return c.e.Dialer.Offer(ringCtx, Offer{CallID: c.rec.CallID, AgentID: agentID, SIPUser: a.cfg.SIPUser,
		DisplayName: "115 " + c.muni.Name, MunicipalityKey: c.muni.Key, CallerNumber: number,
		KnowledgeURL: c.e.knowledgeURL(c.muni, c.rec.CallID), AutoAnswer: a.cfg.AutoAnswer})
}

// knowledgeURL fills the knowledge-base link template for a call.
func (e *Engine) knowledgeURL(m *Municipality, callID string) string {
	if e.cfg.KnowledgeBaseURL == "" {
		return ""
	}
	return strings.NewReplacer("{municipality}", url.QueryEscape(m.Key), "{name}", url.QueryEscape(m.Name),
		"{call_id}", url.QueryEscape(callID)).Replace(e.cfg.KnowledgeBaseURL)
}
