package acd

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sc115/sc115/queue"
)

// Supervisors' actions on waiting calls (issue 15): send one to the 115
// federation now, or move it to another queue, keeping its place (its
// priority and arrival). The action may come to any instance; the store
// passes it to the call's owner (Store.SignalCall), whose call goroutine
// carries it out between two waits.

// OverflowCall sends a waiting call to the federation now.
func (e *Engine) OverflowCall(ctx context.Context, callID string) error {
	if len(e.fed.targets) == 0 {
		return fmt.Errorf("%w: no federation targets configured", errBadRequest)
	}
	return e.signalCall(ctx, callID, queue.SignalOverflow, "-")
}

// MoveCall moves a waiting call to the queue of skill, keeping its place.
func (e *Engine) MoveCall(ctx context.Context, callID, skill string) error {
	if !e.knownSkill(skill) {
		return fmt.Errorf("%w: no queue %q", errBadRequest, skill)
	}
	return e.signalCall(ctx, callID, queue.SignalMove, skill)
}

// errNotWaiting: the call waits in no queue (answered, over, unknown).
var errNotWaiting = errors.New("the call is not waiting in a queue")

func (e *Engine) signalCall(ctx context.Context, callID, signal, arg string) error {
	ok, err := e.Store.SignalCall(ctx, callID, signal, arg)
	if err != nil {
		return err
	}
	if !ok {
		return errNotWaiting
	}
	return nil
}

// callSignal hands a supervisor's action to the call it is for.
func (e *Engine) callSignal(m *queue.Match) {
	v, ok := e.calls.Load(m.CallID)
	if !ok {
		return // over meanwhile
	}
	select {
	case v.(*call).commands <- *m:
	default:
		e.log.Warn().Str("call_id", m.CallID).Str("signal", m.Signal).Msg("supervisor action dropped: the call has several pending")
	}
}

// command carries out a supervisor's action while the call waits; true
// means: overflow now (c.pendingOverflow says why).
func (c *call) command(ctx context.Context, m queue.Match) bool {
	e := c.e
	switch m.Signal {
	case queue.SignalOverflow:
		c.log.Info().Msg("supervisor: overflow now")
		c.pendingOverflow = "supervisor"
		return true
	case queue.SignalMove:
		skill := m.AgentID
		if !e.knownSkill(skill) {
			return false
		}
		c.queueSkill = skill
		ts, _ := c.targets(e.now().Sub(c.rec.ArrivedAt))
		c.log.Info().Str("queue", skill).Msg("supervisor: moved to another queue, keeping its place")
		if _, err := e.Store.Widen(ctx, c.rec.CallID, ts); err != nil {
			c.log.Error().Err(err).Msg("store: move to another queue")
		}
	}
	return false
}

// BoardWaitingCall is a waiting call on the supervisor view.
type BoardWaitingCall struct {
	CallID       string  `json:"call_id"`
	Municipality string  `json:"municipality"`
	Queue        string  `json:"queue"`
	Priority     int     `json:"priority"`
	WaitedSecs   float64 `json:"waited_s"`
	// Callback: the caller hung up to be called back at this place (no
	// overflow or move: see the callbacks).
	Callback bool `json:"callback"`
}

// waitingCalls lists the calls waiting in every municipality's queue, in
// queue order per queue, at most 50 per queue.
func (e *Engine) waitingCalls(ctx context.Context, now time.Time) ([]BoardWaitingCall, error) {
	seen := map[string]bool{}
	var out []BoardWaitingCall
	for _, skill := range e.boardSkills() {
		ws, err := e.Store.WaitingCalls(ctx, skill, 50)
		if err != nil {
			return out, err
		}
		for _, w := range ws {
			if seen[w.CallID] {
				continue
			}
			seen[w.CallID] = true
			out = append(out, BoardWaitingCall{CallID: w.CallID, Municipality: w.Municipality, Queue: skill, Priority: w.Priority,
				WaitedSecs: max(0, now.Sub(w.Arrived).Seconds()), Callback: w.Callback})
		}
	}
	return out, nil
}

// boardSkills are the municipalities' queues and the configured ones.
func (e *Engine) boardSkills() []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range e.cfg.Municipalities {
		if !seen[m.Skill] {
			seen[m.Skill] = true
			out = append(out, m.Skill)
		}
	}
	for q := range e.cfg.Queues {
		if !seen[q] {
			seen[q] = true
			out = append(out, q)
		}
	}
	return out
}
