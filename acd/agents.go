package acd

import (
	"context"
	"sort"
	"sync"
	"time"
)

// AgentState is where an agent is in its working day.
type AgentState string

// Agent states. reserved = a call is being offered (ringing).
const (
	AgentLoggedOut AgentState = "logged-out"
	AgentAvailable AgentState = "available"
	AgentReserved  AgentState = "reserved"
	AgentOnCall    AgentState = "on-call"
	AgentWrapUp    AgentState = "wrap-up"
	AgentResting   AgentState = "resting" // after an unanswered offer
)

// agent is the in-process view of one configured agent. Its mutex
// serialises that agent's transitions only; no lock spans agents.
type agent struct {
	cfg    Agent
	skills []string

	mu         sync.Mutex
	state      AgentState
	since      time.Time
	registered bool
}

func newAgent(cfg Agent) *agent {
	a := &agent{cfg: cfg, state: AgentLoggedOut}
	for s := range cfg.Skills {
		a.skills = append(a.skills, s)
	}
	sort.Strings(a.skills)
	return a
}

func (e *Engine) setAgentState(a *agent, s AgentState) {
	a.state, a.since = s, e.now()
	e.log.Info().Str("agent", a.cfg.ID).Str("state", string(s)).Msg("agent state")
}

// AgentRegistered is called by the registrar when an agent's device has a
// live registration. Registering logs the agent in to all its skills (the
// feature codes of the agents issue will make login explicit).
func (e *Engine) AgentRegistered(agentID string) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	a.mu.Lock()
	a.registered = true
	login := a.state == AgentLoggedOut
	a.mu.Unlock()
	if login {
		e.makeReady(a)
	}
}

// AgentUnregistered is called when the agent's last binding is gone. An
// available agent is logged out at once; one on a call after wrap-up.
func (e *Engine) AgentUnregistered(agentID string) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.registered = false
	if a.state == AgentAvailable || a.state == AgentResting {
		if err := e.Store.AgentNotAvailable(context.Background(), a.cfg.ID, string(AgentLoggedOut)); err != nil {
			e.log.Error().Err(err).Str("agent", a.cfg.ID).Msg("store: log out")
		}
		e.setAgentState(a, AgentLoggedOut)
	}
}

// AgentStates returns each agent's state and since-when (for the API).
func (e *Engine) AgentStates() map[string]AgentState {
	out := make(map[string]AgentState, len(e.agents))
	for id, a := range e.agents {
		a.mu.Lock()
		out[id] = a.state
		a.mu.Unlock()
	}
	return out
}

// makeReady makes the agent available, or hands it the longest-waiting call
// of its skills. Repeats while the call it was given has gone meanwhile.
func (e *Engine) makeReady(a *agent) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		if !a.registered {
			_ = e.Store.AgentNotAvailable(context.Background(), a.cfg.ID, string(AgentLoggedOut))
			e.setAgentState(a, AgentLoggedOut)
			return
		}
		callID, err := e.Store.AgentReady(context.Background(), a.cfg.ID, a.skills, e.now().UnixMilli())
		if err != nil {
			e.log.Error().Err(err).Str("agent", a.cfg.ID).Msg("store: agent ready")
			return
		}
		if callID == "" {
			e.setAgentState(a, AgentAvailable)
			return
		}
		e.setAgentState(a, AgentReserved)
		if e.deliver(callID, a.cfg.ID) {
			return
		}
	}
}

// reserve records in memory that the store reserved the agent for a call.
func (e *Engine) reserve(agentID string) {
	if a := e.agents[agentID]; a != nil {
		a.mu.Lock()
		e.setAgentState(a, AgentReserved)
		a.mu.Unlock()
	}
}

// agentBusy moves an agent to on-call or wrap-up in memory and store.
func (e *Engine) agentBusy(agentID string, s AgentState) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := e.Store.AgentNotAvailable(context.Background(), agentID, string(s)); err != nil {
		e.log.Error().Err(err).Str("agent", agentID).Msg("store: agent busy")
	}
	e.setAgentState(a, s)
}

// agentRest keeps an agent who did not answer out of distribution for the
// configured rest, then makes it ready again.
func (e *Engine) agentRest(agentID string) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	e.agentBusy(agentID, AgentResting)
	time.AfterFunc(e.cfg.Queue.NoAnswerRest, func() {
		a.mu.Lock()
		resting := a.state == AgentResting
		a.mu.Unlock()
		if resting {
			e.makeReady(a)
		}
	})
}

// agentFree ends a reservation or wrap-up: the agent is ready for the next call.
func (e *Engine) agentFree(agentID string) {
	if a := e.agents[agentID]; a != nil {
		e.makeReady(a)
	}
}
