package acd

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/sc115/sc115/queue"
)

// Agent state that heals (issue 13, 1). Two mechanisms, because a store
// write can fail in two ways:
//
//   - It fails and the instance knows (connection refused, timeout): the
//     transition is retried with exponential backoff (cenkalti/backoff:
//     jittered, capped, bounded in time — no hand-written retry loop) until
//     it succeeds or a newer transition of the same agent supersedes it.
//     Every transition is conditional on the call it belongs to, so a late
//     retry can never undo a newer state.
//   - It is lost without a trace (the instance died, a failover dropped
//     it, the retries gave up): every ReconcileEvery each instance compares
//     the agents the store shows on a call with the calls that exist. An
//     agent engaged with a call nobody owns any more, or with a call of
//     this instance that does not have it, is freed on the second look
//     (a wrap-up after its time is over) — atomically, only if nothing
//     changed meanwhile and no assignment is on its way.

// ReconcileEvery is how often an instance looks for stuck agents; a stuck
// agent is freed within two to three periods.
const ReconcileEvery = 2 * time.Second

// retryFor bounds the retries of one failed write; the reconciliation
// repairs what is still wrong after it.
const retryFor = 2 * time.Minute

// engagedStates are the states of an agent busy with a call.
var engagedStates = string(AgentReserved) + "," + string(AgentOnCall) + "," + string(AgentWrapUp)

var errSuperseded = errors.New("superseded by a newer transition")

// agentWrite makes one transition of an agent in the store, retried in the
// background if the store fails (see above). A newer agentWrite for the
// same agent supersedes a retry still pending.
func (e *Engine) agentWrite(agentID, what string, write func(context.Context) error) {
	a := e.agents[agentID]
	if a == nil {
		e.storeWrite(what, agentID, nil, write)
		return
	}
	gen := a.writes.Add(1)
	e.storeWrite(what, agentID, func() bool { return a.writes.Load() != gen }, write)
}

// storeWrite runs write once now and, if the store failed, again with
// backoff until it succeeds, superseded (if given) says so, or retryFor.
func (e *Engine) storeWrite(what, subject string, superseded func() bool, write func(context.Context) error) {
	err := write(context.Background())
	if err == nil {
		return
	}
	e.m.storeRetries.WithLabelValues(what).Inc()
	e.log.Warn().Err(err).Str("write", what).Str("for", subject).Msg("store: write failed; retrying")
	go func() {
		b := backoff.NewExponentialBackOff()
		b.InitialInterval, b.MaxInterval = 100*time.Millisecond, 2*time.Second
		_, err := backoff.Retry(context.Background(), func() (struct{}, error) {
			if superseded != nil && superseded() {
				return struct{}{}, backoff.Permanent(errSuperseded)
			}
			return struct{}{}, write(context.Background())
		}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(retryFor))
		switch {
		case err == nil:
			e.log.Info().Str("write", what).Str("for", subject).Msg("store: write done on retry")
		case errors.Is(err, errSuperseded):
		default:
			e.log.Error().Err(err).Str("write", what).Str("for", subject).Msg("store: write given up; reconciliation will repair")
		}
	}()
}

// reconcileLoop runs reconcile every ReconcileEvery until ctx ends.
func (e *Engine) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(ReconcileEvery)
	defer t.Stop()
	suspects := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			suspects = e.reconcile(ctx, suspects)
		}
	}
}

// reconcile frees the agents stuck on a call now and on the previous look
// (suspects: agent → "state call since"), logs in again the agents registered
// here whose state the store lost, and returns the new suspects.
func (e *Engine) reconcile(ctx context.Context, suspects map[string]string) map[string]string {
	engaged, err := e.Store.EngagedAgents(ctx, e.agentIDs)
	if err != nil {
		return suspects // the store is away: look again next time
	}
	next := map[string]string{}
	for _, g := range engaged {
		a := e.agents[g.Agent]
		if g.Missing {
			// The store lost this agent (a Redis restart without persistence):
			// its phone is registered here, so it is logged in again.
			if a != nil && a.isRegistered() {
				e.log.Warn().Str("agent", g.Agent).Msg("the store lost a registered agent's state: logged in again")
				if err := e.Login(g.Agent); err != nil {
					e.log.Error().Err(err).Str("agent", g.Agent).Msg("login after store loss")
				}
			}
			continue
		}
		if !e.stuck(g) {
			continue
		}
		key := g.State + " " + g.Call + " " + strconv.FormatInt(g.Since, 10)
		next[g.Agent] = key
		if suspects[g.Agent] != key {
			continue // look again before repairing
		}
		if AgentState(g.State) == AgentWrapUp && a != nil && e.now().Before(time.UnixMilli(g.Since).Add(e.wrapupOf(a))) {
			continue // its wrap-up time is not over
		}
		_, ok, err := e.Store.ReleaseStuck(ctx, g.Agent, g.Call, g.Since, g.State)
		if err != nil {
			e.log.Error().Err(err).Str("agent", g.Agent).Msg("store: release stuck agent")
			continue
		}
		if ok && g.CallOwner == queue.CallbackOwner {
			// A callback's match nobody took (its instance died between
			// taking the match and claiming it): back to its place.
			e.requeueCallback(g.Call)
		}
		if ok {
			delete(next, g.Agent)
			e.m.agentRepairs.WithLabelValues(g.State).Inc()
			e.log.Warn().Str("agent", g.Agent).Str("state", g.State).Str("call_id", g.Call).Str("call_owner", g.CallOwner).
				Msg("agent was stuck on a call nobody has: ready again")
		}
	}
	return next
}

// stuck says whether an engagement has nobody to end it: its call is not
// in the store any more, or it is this instance's call and that call does
// not have the agent — and no assignment of it waits to be delivered. Another live instance's calls are that instance's
// business (a dead instance's are the reaper's).
func (e *Engine) stuck(g queue.Engaged) bool {
	if g.Pending {
		return false // its assignment is on the owner's list: not delivered yet
	}
	switch g.CallOwner {
	case "", queue.CallbackOwner: // a callback's match nobody claimed
		return true
	case e.Instance:
		v, ok := e.calls.Load(g.Call)
		return !ok || !v.(*call).engagedWith(g.Agent)
	}
	return false
}

// wrapupOf is the agent's own wrap-up time, or the default queue's.
func (e *Engine) wrapupOf(a *agent) time.Duration {
	if a.cfg.Wrapup > 0 {
		return a.cfg.Wrapup
	}
	return e.cfg.Queue.Wrapup
}
