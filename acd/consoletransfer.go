package acd

import (
	"context"
	"fmt"

	"github.com/sc115/sc115/queue"
)

// One-click transfers from the agent console (issue 15): the agent picks
// a department of the directory (or any target it could dial) and sc115
// transfers the caller as if the phone had sent REFER — blind, with the
// same targets, CDR columns and fallbacks — without the phone being
// asked or told (no NOTIFY: it subscribed to nothing). The console may
// be served by any instance: the target is checked there against the
// call's municipality, and the store passes it to the call's owner.

// ConsoleTransfer is what a console's transfer was resolved to.
type ConsoleTransfer struct {
	CallID string `json:"call_id"`
	Kind   string `json:"kind"`
	Target string `json:"target"`
}

// TransferFromConsole transfers the caller the agent talks with to target.
func (e *Engine) TransferFromConsole(ctx context.Context, agentID, target string) (ConsoleTransfer, error) {
	if e.agents[agentID] == nil {
		return ConsoleTransfer{}, ErrUnknownAgent
	}
	info, err := e.Store.Agent(ctx, agentID)
	if err != nil {
		return ConsoleTransfer{}, err
	}
	if AgentState(info.State) != AgentOnCall || info.Call == "" {
		return ConsoleTransfer{}, errNoCall
	}
	f, err := e.Store.CallFields(ctx, info.Call)
	if err != nil {
		return ConsoleTransfer{}, err
	}
	var muni *Municipality
	for i := range e.cfg.Municipalities {
		if e.cfg.Municipalities[i].Key == f["municipality"] {
			muni = &e.cfg.Municipalities[i]
		}
	}
	if muni == nil {
		return ConsoleTransfer{}, errNoCall
	}
	probe := &call{e: e, muni: muni} // resolveTransfer reads only the configuration
	d, code, reason := probe.resolveTransfer(agentID, target)
	if code != 202 {
		return ConsoleTransfer{}, fmt.Errorf("%w: %d %s", errBadRequest, code, reason)
	}
	ok, err := e.Store.SignalLiveCall(ctx, info.Call, queue.SignalTransfer, target)
	if err != nil {
		return ConsoleTransfer{}, err
	}
	if !ok {
		return ConsoleTransfer{}, errNoCall
	}
	return ConsoleTransfer{CallID: info.Call, Kind: d.kind, Target: d.target}, nil
}

// consoleTransfer starts a console's transfer on the call's owner (here).
func (e *Engine) consoleTransfer(m *queue.Match) {
	v, ok := e.calls.Load(m.CallID)
	if !ok {
		return
	}
	c := v.(*call)
	c.mu.Lock()
	ch, agentID := c.lineTransfers, c.lineAgent
	c.mu.Unlock()
	if ch == nil {
		c.log.Info().Msg("console transfer: the agent is no longer on the line")
		return
	}
	d, code, reason := c.resolveTransfer(agentID, m.AgentID)
	if code != 202 {
		c.log.Info().Int("code", code).Str("reason", reason).Msg("console transfer refused")
		return
	}
	d.fromConsole = true
	select {
	case ch <- d:
	default:
		c.log.Info().Msg("console transfer: a transfer is under way already")
	}
}

// silentPhone stands for the agent's phone in a console's transfer: it
// is told nothing.
type silentPhone struct{}

func (silentPhone) OnTransfer(func(target, replaces string) (int, string)) {}
func (silentPhone) NotifyTransfer(int, string)                             {}
