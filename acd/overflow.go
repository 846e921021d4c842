package acd

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/sc115/sc115/cdr"
)

// ForwardOffer is a call sent to another 115 center.
type ForwardOffer struct {
	Target       string // SIP URI
	CallID       string
	CallerNumber string
	Withheld     bool
	Dialed       string
	Municipality string
	Waited       time.Duration
}

// federation holds the targets and their live call counts.
type federation struct {
	targets []FederationTarget
	active  []atomic.Int64
}

func newFederation(ts []FederationTarget) *federation {
	return &federation{targets: ts, active: make([]atomic.Int64, len(ts))}
}

// ewtCheckEvery is how often a waiting call's estimated wait is checked
// against its municipality's overflow.max_ewt.
const ewtCheckEvery = 5 * time.Second

// overflowReason says why the call should leave for the federation now
// ("" = it stays). entry is true on arrival (share and closed are decided
// only then).
func (c *call) overflowReason(ctx context.Context, entry bool) string {
	o := c.muni.Overflow
	e := c.e
	if o == nil || c.noOverflowUntil.After(e.now()) {
		return ""
	}
	if entry && o.Share > 0 && rand.IntN(100) < o.Share {
		return "share"
	}
	if r := e.overload(1); r != "" { // full: the next call would be refused
		return r
	}
	if o.NoAgents || o.QueueLength > 0 {
		f := e.figures(c.muni.Skill)                      // shared by the skill's calls (skillfigures.go)
		if o.NoAgents && f.err == nil && f.staffed == 0 { // nobody logged in who is not paused
			return "no-agents"
		}
		if o.QueueLength > 0 && f.err == nil && f.waiting > int64(o.QueueLength) {
			return "queue-length"
		}
	}
	// A call's own place is read on arrival and every ewtCheckEvery after:
	// a wait estimate changes slowly, and each reading costs round trips.
	if o.MaxEWT > 0 && (entry || e.now().Sub(c.ewtCheckedAt) >= ewtCheckEvery) {
		c.ewtCheckedAt = e.now()
		if pos, ewt, err := e.Position(ctx, c.rec.CallID); err == nil && pos > 0 && ewt > o.MaxEWT {
			return "estimated-wait"
		}
	}
	if o.MaxWait > 0 && e.now().Sub(c.rec.ArrivedAt) > o.MaxWait {
		return "waited"
	}
	return ""
}

var errAllTargetsFailed = errors.New("every federation target failed")

// forward tries the municipality's federation targets in order (skipping
// full ones) and bridges the caller to the first that answers.
func (c *call) forward(ctx context.Context, reason string) (AgentLeg, string, error) {
	var targets []string
	if c.muni.Overflow != nil {
		targets = c.muni.Overflow.Targets
	}
	return c.forwardTo(ctx, reason, targets)
}

// forwardTo is forward to the targets named (all: none named).
func (c *call) forwardTo(ctx context.Context, reason string, names []string) (AgentLeg, string, error) {
	e := c.e
	number, withheld := c.leg.Caller()
	for _, i := range e.fed.order() {
		t := e.fed.targets[i]
		if len(names) > 0 && !contains(names, t.Name) {
			continue
		}
		if t.MaxCalls > 0 && e.fed.active[i].Load() >= int64(t.MaxCalls) {
			c.log.Info().Str("target", t.Name).Msg("overflow target full")
			continue
		}
		e.fed.active[i].Add(1)
		rctx, cancel := context.WithTimeout(ctx, e.cfg.FederationRingTimeout)
		leg, err := e.Dialer.Forward(rctx, ForwardOffer{Target: t.URI, CallID: c.rec.CallID, CallerNumber: number, Withheld: withheld,
			Dialed: c.rec.DialedNumber, Municipality: c.muni.Key, Waited: e.now().Sub(c.rec.ArrivedAt)})
		cancel()
		if err != nil {
			e.fed.active[i].Add(-1)
			c.log.Warn().Err(err).Str("target", t.Name).Str("reason", reason).Msg("overflow target failed; next")
			if ctx.Err() != nil {
				return nil, "", ctx.Err()
			}
			continue
		}
		go func(i int) { <-leg.Ended(); e.fed.active[i].Add(-1) }(i)
		return leg, t.Name, nil
	}
	return nil, "", errAllTargetsFailed
}

// order is the order to try the targets in: as listed, or, when weights
// are set, a weighted random permutation (each next pick proportional to
// the remaining targets' weights).
func (f *federation) order() []int {
	idx := make([]int, len(f.targets))
	total := 0
	for i, t := range f.targets {
		idx[i] = i
		total += max(t.Weight, 0)
	}
	if total == 0 {
		return idx
	}
	out := make([]int, 0, len(idx))
	left := append([]int(nil), idx...)
	for len(left) > 0 {
		sum := 0
		for _, i := range left {
			sum += max(f.targets[i].Weight, 0)
		}
		pick := 0
		if sum > 0 {
			r := rand.IntN(sum)
			for k, i := range left {
				if r -= max(f.targets[i].Weight, 0); r < 0 {
					pick = k
					break
				}
			}
		}
		out = append(out, left[pick])
		left = append(left[:pick], left[pick+1:]...)
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// overflowed runs an overflow: out of the queue (if queued), to the
// federation, and either bridged until the end (CDR overflowed) or, if
// every target failed, the busy announcement or back to its place (queued
// again here). done says the call is over, in final state st; otherwise it
// waits (again), or an agent reserved meanwhile is on its way to it.
func (c *call) overflowed(ctx context.Context, reason string, queued bool) (st CallState, done bool) {
	e := c.e
	if queued {
		// Out of the queues, but still in the store: a reaper bills it if
		// this instance dies while the other center talks.
		if still, err := e.Store.Unqueue(context.Background(), c.rec.CallID, string(StateOverflowing)); err != nil || !still {
			return "", false // an agent was reserved meanwhile: its assignment is on the way
		}
	}
	c.to(StateOverflowing)
	c.log.Info().Str("reason", reason).Msg("overflow to the 115 federation")
	leg, target, err := c.forward(ctx, reason)
	if err != nil {
		if ctx.Err() != nil {
			return c.endUnanswered(), true
		}
		if c.muni.Overflow != nil && c.muni.Overflow.OnFailure == "busy" {
			c.leg.PlayOnce([]string{promptBusy})
			c.leg.Hangup()
			c.rec.HangupBy = "system"
			return c.finish(cdr.RejectedBusy, StateRejected, c.muni.Key), true
		}
		c.noOverflowUntil = e.now().Add(time.Minute) // do not hammer failing centers
		c.log.Warn().Msg("every overflow target failed: back to its place")
		if queued {
			if err := c.enqueue(); err != nil {
				return c.storeFailed(err), true
			}
		}
		return "", false
	}
	c.rec.OverflowTarget = target
	c.rec.AnsweredAt = e.now()
	overflow := map[string]string{"answered": strconv.FormatInt(c.rec.AnsweredAt.UnixMilli(), 10), "overflow": target}
	e.storeWrite("call-overflowed", c.rec.CallID, nil, func(ctx context.Context) error { return e.Store.SetCallFields(ctx, c.rec.CallID, overflow) })
	c.rec.WaitMS = c.rec.AnsweredAt.Sub(c.rec.ArrivedAt).Milliseconds()
	e.m.overflowed.WithLabelValues(c.muni.Key).Inc()
	if err := e.Dialer.Bridge(c.leg, leg); err != nil {
		leg.Hangup()
		c.leg.Hangup()
		return c.finish(cdr.Failed, StateFailed, c.muni.Key), true
	}
	c.to(StateConnected)
	c.talk(leg, "federation", nil)
	c.rec.TalkMS = c.rec.EndedAt.Sub(c.rec.AnsweredAt).Milliseconds()
	c.rec.Disposition = cdr.Overflowed
	return StateOverflowed, true
}
