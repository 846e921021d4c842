package acd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/sc115/sc115/cdr"
)

// What the agent console (issue 15) shows and sets: the agent's current
// call, read from the store (whichever instance owns it), and the
// wrap-up outcome the agent gives it, kept on the call in the store until
// the owner writes the CDR (column outcome).

// AgentCallInfo is an agent's current call as its console shows it.
type AgentCallInfo struct {
	CallID           string           `json:"call_id"`
	State            AgentState       `json:"agent_state"`
	Municipality     string           `json:"municipality"`
	MunicipalityName string           `json:"municipality_name"`
	Caller           string           `json:"caller"` // as the privacy policy stores it
	ArrivedAt        time.Time        `json:"arrived_at"`
	AnsweredAt       time.Time        `json:"answered_at,omitzero"`
	WaitSecs         float64          `json:"wait_s"` // how long the caller waited for an agent
	KnowledgeURL     string           `json:"knowledge_url,omitempty"`
	Outcome          string           `json:"outcome,omitempty"`
	Directory        []DirectoryEntry `json:"directory"`
}

// errNoCall: the agent has no call (in talk or wrap-up) now.
var errNoCall = errors.New("the agent has no call now")

// AgentCall returns the agent's current call (talking or in wrap-up), or
// errNoCall.
func (e *Engine) AgentCall(ctx context.Context, agentID string) (AgentCallInfo, error) {
	if e.agents[agentID] == nil {
		return AgentCallInfo{}, ErrUnknownAgent
	}
	info, err := e.Store.Agent(ctx, agentID)
	if err != nil {
		return AgentCallInfo{}, err
	}
	st := AgentState(info.State)
	if info.Call == "" || st != AgentOnCall && st != AgentWrapUp && st != AgentReserved {
		return AgentCallInfo{}, errNoCall
	}
	f, err := e.Store.CallFields(ctx, info.Call)
	if err != nil {
		return AgentCallInfo{}, err
	}
	if len(f) == 0 {
		return AgentCallInfo{}, errNoCall
	}
	ms := func(k string) time.Time {
		n, err := strconv.ParseInt(f[k], 10, 64)
		if err != nil || n == 0 {
			return time.Time{}
		}
		return time.UnixMilli(n)
	}
	out := AgentCallInfo{CallID: info.Call, State: st, Municipality: f["municipality"], Caller: f["caller"],
		ArrivedAt: ms("arrived"), AnsweredAt: ms("answered"), Outcome: f["outcome"]}
	if !out.AnsweredAt.IsZero() {
		out.WaitSecs = out.AnsweredAt.Sub(out.ArrivedAt).Seconds()
	}
	for i := range e.cfg.Municipalities {
		if m := &e.cfg.Municipalities[i]; m.Key == out.Municipality {
			out.MunicipalityName = m.Name
			out.KnowledgeURL = e.knowledgeURL(m, info.Call)
			out.Directory, _ = e.Directory(m.Key)
		}
	}
	if out.Directory == nil {
		out.Directory = []DirectoryEntry{}
	}
	return out, nil
}

// SetOutcome records the agent's wrap-up outcome for its current call (one
// of cdr.Outcomes): it lands in the call's CDR row.
func (e *Engine) SetOutcome(ctx context.Context, agentID, outcome string) error {
	if !cdr.ValidOutcome(outcome) {
		return fmt.Errorf("%w: outcome %q: want one of %v", errBadRequest, outcome, cdr.Outcomes)
	}
	if e.agents[agentID] == nil {
		return ErrUnknownAgent
	}
	info, err := e.Store.Agent(ctx, agentID)
	if err != nil {
		return err
	}
	if st := AgentState(info.State); info.Call == "" || st != AgentOnCall && st != AgentWrapUp {
		return errNoCall
	}
	live, err := e.Store.SetLiveCallField(ctx, info.Call, "outcome", outcome)
	if err != nil {
		return err
	}
	if !live {
		return errNoCall
	}
	e.log.Info().Str("agent", agentID).Str("call_id", info.Call).Str("outcome", outcome).Msg("wrap-up outcome")
	return nil
}

// outcomeOf reads the outcome the agent gave the call (for its CDR); ""
// if none, or if the store does not answer in time (the row is written
// all the same).
func (e *Engine) outcomeOf(callID string) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	f, err := e.Store.CallFields(ctx, callID)
	if err != nil {
		e.log.Warn().Err(err).Str("call_id", callID).Msg("store: the call's outcome could not be read; the row has none")
		return ""
	}
	if o := f["outcome"]; cdr.ValidOutcome(o) {
		return o
	}
	return ""
}
