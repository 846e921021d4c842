package acd

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sc115/sc115/queue"
)

// AgentState is where an agent is in its working day. The store holds the
// truth (several instances share it); this is its vocabulary.
type AgentState string

// Agent states. reserved = a call is being offered (ringing).
const (
	AgentLoggedOut AgentState = "logged-out"
	AgentAvailable AgentState = "available"
	AgentReserved  AgentState = "reserved"
	AgentOnCall    AgentState = "on-call"
	AgentWrapUp    AgentState = "wrap-up"
	AgentPaused    AgentState = "paused"
)

// agent is the in-process part of one configured agent: whether its device
// is registered here, and the channel that ends its wrap-up early. Its
// mutex serialises that agent's transitions on this instance only.
type agent struct {
	cfg    Agent
	skills []string

	mu         sync.Mutex
	registered bool
	wrapup     chan struct{} // non-nil while in wrap-up on this instance; closed to end it
	wrapupCall string        // the call wrapped up
	extend     chan time.Duration
	rest       *time.Timer
	// talking is the call the agent is on the line with on this instance
	// (its consultation calls are for that call); nil when none.
	talking *call
	// writes numbers the agent's store transitions: a retry of an older
	// one gives up when it sees a newer (heal.go).
	writes atomic.Uint64
}

func (a *agent) isRegistered() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.registered
}

// endWrapupHere ends the agent's wrap-up if it runs on this instance (for
// call, if given); it reports whether it did.
func (a *agent) endWrapupHere(call string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wrapup == nil || (call != "" && a.wrapupCall != call) {
		return false
	}
	close(a.wrapup) // the call's goroutine ends wrap-up and makes the agent ready
	a.wrapup = nil
	return true
}

// extendWrapupHere gives the agent's wrap-up on this instance (for call,
// if given) d more; it reports whether one runs here.
func (a *agent) extendWrapupHere(call string, d time.Duration) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.wrapup == nil || (call != "" && a.wrapupCall != call) {
		return false
	}
	select {
	case a.extend <- d:
	default: // an extension is already pending
	}
	return true
}

func newAgent(cfg Agent) *agent {
	a := &agent{cfg: cfg, extend: make(chan time.Duration, 1)}
	for s := range cfg.Skills {
		a.skills = append(a.skills, s)
	}
	sort.Strings(a.skills)
	return a
}

// storeSkills are the agent's skills with level and each queue's strategy.
func (e *Engine) storeSkills(a *agent) []queue.AgentSkill {
	out := make([]queue.AgentSkill, 0, len(a.skills))
	for _, s := range a.skills {
		out = append(out, queue.AgentSkill{Skill: s, Level: a.cfg.Skills[s], Strategy: e.cfg.settings(s).Strategy})
	}
	return out
}

// ErrUnknownAgent is returned for an agent id not in the config.
var ErrUnknownAgent = fmt.Errorf("unknown agent")

func (e *Engine) agent(id string) (*agent, error) {
	a := e.agents[id]
	if a == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownAgent, id)
	}
	return a, nil
}

// AgentRegistered is called by the registrar when an agent's device has a
// live registration here. Registering logs the agent in to all its skills
// (feature codes and the API can log it out and in again).
func (e *Engine) AgentRegistered(agentID string) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	a.mu.Lock()
	first := !a.registered
	a.registered = true
	a.mu.Unlock()
	if !first {
		return
	}
	// A state kept in a shared Redis across a restart (paused, on a call…)
	// stays; only a logged-out agent is logged in by registering.
	ctx := context.Background()
	_ = e.Store.DevicePresent(ctx, agentID)
	if info, err := e.Store.Agent(ctx, agentID); err == nil && AgentState(info.State) != AgentLoggedOut {
		e.log.Info().Str("agent", agentID).Str("state", info.State).Msg("device registered; agent keeps its state")
		return
	}
	if err := e.Login(agentID); err != nil {
		e.log.Error().Err(err).Str("agent", agentID).Msg("login on register")
	}
}

// AgentUnregistered is called when the agent's last binding is gone: an
// agent not on a call is logged out at once, one on a call after wrap-up.
func (e *Engine) AgentUnregistered(agentID string) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	a.mu.Lock()
	a.registered = false
	a.mu.Unlock()
	if err := e.Store.DeviceGone(context.Background(), agentID); err != nil {
		e.log.Error().Err(err).Str("agent", agentID).Msg("store: device gone")
	}
	info, err := e.Store.Agent(context.Background(), agentID)
	if err != nil {
		e.log.Error().Err(err).Str("agent", agentID).Msg("store: agent")
		return
	}
	switch AgentState(info.State) {
	case AgentAvailable, AgentPaused:
		_ = e.Logout(agentID)
	}
}

// Login makes the agent available for all its skills (or gives it a call).
func (e *Engine) Login(agentID string) error {
	a, err := e.agent(agentID)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rest != nil {
		a.rest.Stop()
		a.rest = nil
	}
	_ = e.Store.ResetNoAnswer(context.Background(), agentID)
	if _, err := e.Store.AgentReady(context.Background(), agentID, e.Instance, e.storeSkills(a)); err != nil {
		return err
	}
	e.log.Info().Str("agent", agentID).Msg("agent logged in")
	return nil
}

// Logout takes the agent out of distribution; a call in progress goes on.
func (e *Engine) Logout(agentID string) error {
	if _, err := e.agent(agentID); err != nil {
		return err
	}
	e.log.Info().Str("agent", agentID).Msg("agent logged out")
	return e.Store.AgentState(context.Background(), agentID, string(AgentLoggedOut), "")
}

// Pause takes an available (or already paused) agent out of distribution
// with a reason — atomically: an agent reserved meanwhile is not paused.
func (e *Engine) Pause(agentID, reason string) error {
	if _, err := e.agent(agentID); err != nil {
		return err
	}
	ok, err := e.Store.AgentStateFrom(context.Background(), agentID, string(AgentPaused), reason,
		queue.From{States: string(AgentAvailable) + "," + string(AgentPaused)})
	if err != nil {
		return err
	}
	if !ok {
		info, _ := e.Store.Agent(context.Background(), agentID)
		return fmt.Errorf("agent %s is %s: only an available agent can pause", agentID, info.State)
	}
	e.log.Info().Str("agent", agentID).Str("reason", reason).Msg("agent paused")
	return nil
}

// Ready ends a pause or the agent's wrap-up early, on whichever instance
// the wrap-up runs (the one that owns the call: the store passes it on).
func (e *Engine) Ready(agentID string) error {
	a, err := e.agent(agentID)
	if err != nil {
		return err
	}
	if a.endWrapupHere("") {
		return nil
	}
	info, err := e.Store.Agent(context.Background(), agentID)
	if err != nil {
		return err
	}
	switch AgentState(info.State) {
	case AgentWrapUp:
		return e.signalWrapup(agentID, queue.SignalReady)
	case AgentAvailable:
		return nil
	case AgentPaused:
		_ = e.Store.ResetNoAnswer(context.Background(), agentID)
		_, err := e.Store.AgentReadyFrom(context.Background(), agentID, queue.From{States: string(AgentPaused)})
		return err
	case AgentLoggedOut:
		return fmt.Errorf("agent %s is logged out: log in first", agentID)
	default:
		return fmt.Errorf("agent %s is %s", agentID, info.State)
	}
}

// signalWrapup passes ready or extend to the instance that runs the
// agent's wrap-up.
func (e *Engine) signalWrapup(agentID, signal string) error {
	ok, err := e.Store.SignalWrapup(context.Background(), agentID, signal)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("agent %s is not in wrap-up", agentID)
	}
	return nil
}

// wrapupSignal acts on a ready or extend another instance passed on for a
// wrap-up that runs here.
func (e *Engine) wrapupSignal(m *queue.Match) {
	a := e.agents[m.AgentID]
	if a == nil {
		return
	}
	var here bool
	switch m.Signal {
	case queue.SignalReady:
		here = a.endWrapupHere(m.CallID)
	case queue.SignalExtend:
		here = a.extendWrapupHere(m.CallID, e.cfg.WrapupExtension)
	}
	if !here {
		e.log.Info().Str("agent", m.AgentID).Str("call_id", m.CallID).Str("signal", m.Signal).Msg("wrap-up signal for a wrap-up that is over")
	}
}

// AgentStatus is an agent's state for the API.
type AgentStatus struct {
	ID     string     `json:"id"`
	Name   string     `json:"name"`
	State  AgentState `json:"state"`
	Reason string     `json:"reason,omitempty"`
	Since  time.Time  `json:"since,omitzero"`
	Call   string     `json:"call,omitempty"`
}

// AgentStates returns every configured agent's state from the store.
func (e *Engine) AgentStates() map[string]AgentState {
	out := make(map[string]AgentState, len(e.agents))
	for _, st := range e.Agents() {
		out[st.ID] = st.State
	}
	return out
}

func agentStatus(id string, a *agent, info queue.AgentInfo) AgentStatus {
	return AgentStatus{ID: id, Name: a.cfg.Name, State: AgentState(info.State), Reason: info.Reason, Since: info.Since, Call: info.Call}
}

// Agents returns every configured agent's status, sorted by id.
// One pipelined read for all of them: the wallboard and /metrics ask each
// second, and 200 round trips in a burst would delay the calls' own.
func (e *Engine) Agents() []AgentStatus {
	infos, err := e.Store.Agents(context.Background(), e.agentIDs)
	if err != nil {
		e.log.Error().Err(err).Msg("store: agents")
		return nil
	}
	out := make([]AgentStatus, 0, len(e.agentIDs))
	for i, id := range e.agentIDs { // sorted
		out = append(out, agentStatus(id, e.agents[id], infos[i]))
	}
	return out
}

// release makes an agent ready again — only if it is still in state for
// callID (a reservation that came to nothing, the end of wrap-up): a late
// release must never free an agent already reserved for another call.
//
// From whichever engaged state: an earlier transition of the same call
// that the store missed (heal.go) must not keep the agent.
func (e *Engine) release(agentID, callID string) {
	e.agentWrite(agentID, "release", func(ctx context.Context) error {
		_, err := e.Store.AgentReadyFrom(ctx, agentID, queue.From{States: engagedStates, Call: callID})
		return err
	})
}

// unknownAgent takes an agent the store reserved for callID but this
// instance's config does not have out of distribution: paused with a reason
// that names this instance, so it neither stays reserved forever nor is
// reserved for the same call again at once. Supervisors see the reason; the
// fix is the same agent list on every instance.
func (e *Engine) unknownAgent(agentID, callID string) {
	reason := "not-configured-on-" + e.Instance
	e.log.Error().Str("agent", agentID).Str("call_id", callID).Str("reason", reason).
		Msg("the store offered an agent this instance's config does not have: agent paused; give every instance the same agents")
	e.agentWrite(agentID, "pause-unknown", func(ctx context.Context) error {
		_, err := e.Store.AgentStateFrom(ctx, agentID, string(AgentPaused), reason, queue.From{States: string(AgentReserved), Call: callID})
		return err
	})
}

// noAnswer handles an offer the agent let ring out or declined: a short
// rest, or a pause (reason no-answer) after MaxNoAnswers in a row.
func (e *Engine) noAnswer(agentID, callID string, q QueueSettings) {
	a := e.agents[agentID]
	if a == nil {
		return
	}
	ctx := context.Background()
	n, err := e.Store.NoAnswer(ctx, agentID)
	if err != nil {
		e.log.Error().Err(err).Str("agent", agentID).Msg("store: no-answer")
	}
	from := queue.From{States: string(AgentReserved), Call: callID}
	if n >= int64(q.MaxNoAnswers) {
		e.log.Warn().Str("agent", agentID).Int64("in_a_row", n).Msg("agent paused: no answer")
		e.agentWrite(agentID, "pause-no-answer", func(ctx context.Context) error {
			_, err := e.Store.AgentStateFrom(ctx, agentID, string(AgentPaused), "no-answer", from)
			return err
		})
		return
	}
	rest := func(ctx context.Context) (bool, error) {
		return e.Store.AgentStateFrom(ctx, agentID, string(AgentPaused), "no-answer-rest", from)
	}
	if ok, err := rest(ctx); err != nil {
		// Retried; the rest's end follows in any case (it only ends a rest).
		e.agentWrite(agentID, "no-answer-rest", func(ctx context.Context) error { _, err := rest(ctx); return err })
	} else if !ok {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.rest != nil {
		a.rest.Stop()
	}
	a.rest = time.AfterFunc(q.NoAnswerRest, func() {
		e.agentWrite(agentID, "end-no-answer-rest", func(ctx context.Context) error {
			_, err := e.Store.AgentReadyFrom(ctx, agentID, queue.From{States: string(AgentPaused), Reason: "no-answer-rest"})
			return err
		})
	})
}
