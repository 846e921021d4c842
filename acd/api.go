package acd

import (
	"cmp"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"
)

// API mounts the JSON API for supervisors and the coming agent console:
//
//	GET  /api/agents                     every agent's state and since-when
//	GET  /api/agents/{id}                one agent's state (its console)
//	POST /api/agents/{id}/login          log in to all own skills
//	POST /api/agents/{id}/logout
//	POST /api/agents/{id}/pause?reason=R take an available agent out, with a reason
//	POST /api/agents/{id}/ready          end a pause or the wrap-up early
//	POST /api/agents/{id}/extend         more wrap-up time
//	GET  /api/agents/{id}/call           the agent's current call: municipality, caller, wait, directory
//	POST /api/agents/{id}/transfer?target=T  the console transfers the agent's caller (a department, number, agent, queue)
//	POST /api/agents/{id}/outcome?code=C the wrap-up outcome (resolved, forwarded, callback, other) for the CDR
//	POST /api/calls/{call}/overflow        send a waiting call to the federation now (audited)
//	POST /api/calls/{call}/move?queue=Q    move a waiting call to another queue, keeping its place (audited)
//	POST /api/tickets                    an agent books a callback ticket: {municipality, number or call_id, topic}
//	GET  /api/callbacks                  every callback (virtual hold): waiting, parked, running, failed
//	POST /api/callbacks/{call}/retry       try a parked callback now, not at its due time (audited)
//	POST /api/callbacks/{call}/dismiss     forget a failed callback a supervisor dealt with (audited)
//	GET  /api/audit                      the newest 100 supervisor actions: who, when, what, to whom
//	GET  /api/queues                     per skill: waiting, logged in, handling time
//	GET  /api/calls                      this instance's calls: state, position, estimated wait
//	GET  /api/servicelevel               per municipality: offered, answered (within threshold), abandoned, service level
//	POST /api/municipalities/{key}/crisis?on=true&by=NAME   crisis mode on/off, audited
//	GET  /api/municipalities/{key}/directory                 its offices agents transfer to: key, name, number, code, open now
//
// Who may call which route is the guard's to decide (package acd/web:
// users, roles, sessions): each route names the roles it needs, and the
// agent it acts on, which an agent may only be itself. Without a guard
// (nil) every request needs "Authorization: Bearer <acd.api_token>", and
// without a configured token the API answers 403.
func API(mux Mux, e *Engine, guard Guard) {
	if guard == nil {
		guard = tokenGuard{e.cfg.APIToken}
	}
	type handler func(w http.ResponseWriter, r *http.Request, who Caller) (any, error)
	h := func(pattern string, roles []string, f handler) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			who, ok := guard.Authorize(w, r, Rule{Roles: roles, Agent: r.PathValue("id")})
			if !ok {
				return // the guard answered (401, 403)
			}
			v, err := f(w, r, who)
			w.Header().Set("Content-Type", "application/json")
			if err != nil {
				code := http.StatusConflict
				switch {
				case errors.Is(err, ErrUnknownAgent), errors.Is(err, errUnknownMunicipality), errors.Is(err, errNotWaiting):
					code = http.StatusNotFound
				case errors.Is(err, errBadRequest):
					code = http.StatusBadRequest
				}
				w.WriteHeader(code)
				_ = json.NewEncoder(w).Encode(map[string]string{"error": err.Error()})
				return
			}
			_ = json.NewEncoder(w).Encode(v)
		})
	}
	supervisors := []string{RoleSupervisor}
	agents := []string{RoleAgent, RoleSupervisor} // an agent: its own id only (Rule.Agent)
	readers := []string{RoleAgent, RoleSupervisor, RoleBilling}
	h("GET /api/agents", supervisors, func(http.ResponseWriter, *http.Request, Caller) (any, error) { return e.Agents(), nil })
	agentAction := func(f func(id string, r *http.Request) error) handler {
		return func(_ http.ResponseWriter, r *http.Request, who Caller) (any, error) {
			id := r.PathValue("id")
			if err := f(id, r); err != nil {
				return nil, err
			}
			if who.Agent != id { // a supervisor (or a program) acted on the agent: audited
				by := who.User
				if by == "" {
					by = "api-token"
				}
				action := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
				e.Audit(r.Context(), by, "agent-"+action, id, r.URL.Query().Get("reason"))
			}
			info, err := e.Store.Agent(r.Context(), id)
			return agentStatus(id, e.agents[id], info), err
		}
	}
	h("POST /api/agents/{id}/login", agents, agentAction(func(id string, _ *http.Request) error { return e.Login(id) }))
	h("POST /api/agents/{id}/logout", agents, agentAction(func(id string, _ *http.Request) error { return e.Logout(id) }))
	h("POST /api/agents/{id}/ready", agents, agentAction(func(id string, _ *http.Request) error { return e.Ready(id) }))
	h("POST /api/agents/{id}/pause", agents, agentAction(func(id string, r *http.Request) error {
		reason := r.URL.Query().Get("reason")
		if reason == "" {
			reason = "break"
		}
		return e.Pause(id, reason)
	}))
	h("GET /api/agents/{id}", agents, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		id := r.PathValue("id")
		a := e.agents[id]
		if a == nil {
			return nil, ErrUnknownAgent
		}
		info, err := e.Store.Agent(r.Context(), id)
		return agentStatus(id, a, info), err
	})
	h("POST /api/agents/{id}/extend", agents, agentAction(func(id string, _ *http.Request) error { return e.ExtendWrapup(id) }))
	h("GET /api/agents/{id}/call", agents, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		return e.AgentCall(r.Context(), r.PathValue("id"))
	})
	h("POST /api/agents/{id}/transfer", agents, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		return e.TransferFromConsole(r.Context(), r.PathValue("id"), r.URL.Query().Get("target"))
	})
	h("POST /api/agents/{id}/outcome", agents, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		id, outcome := r.PathValue("id"), r.URL.Query().Get("code")
		if err := e.SetOutcome(r.Context(), id, outcome); err != nil {
			return nil, err
		}
		return map[string]string{"agent": id, "outcome": outcome}, nil
	})
	callAction := func(what string, f func(ctx context.Context, id string, r *http.Request) error) handler {
		return func(_ http.ResponseWriter, r *http.Request, who Caller) (any, error) {
			id := r.PathValue("call")
			if err := f(r.Context(), id, r); err != nil {
				return nil, err
			}
			by := who.User
			if by == "" {
				by = "api-token"
			}
			e.Audit(r.Context(), by, what, id, r.URL.Query().Get("queue"))
			return map[string]string{"call_id": id, "done": what}, nil
		}
	}
	h("POST /api/calls/{call}/overflow", supervisors, callAction("call-overflow", func(ctx context.Context, id string, _ *http.Request) error {
		return e.OverflowCall(ctx, id)
	}))
	h("POST /api/calls/{call}/move", supervisors, callAction("call-move", func(ctx context.Context, id string, r *http.Request) error {
		return e.MoveCall(ctx, id, r.URL.Query().Get("queue"))
	}))
	h("POST /api/tickets", agents, func(_ http.ResponseWriter, r *http.Request, who Caller) (any, error) {
		var req TicketRequest
		if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 4096)).Decode(&req); err != nil {
			return nil, fmt.Errorf("%w: %v", errBadRequest, err)
		}
		by := cmp.Or(who.Agent, who.User, "api-token")
		return e.CreateTicket(r.Context(), by, req)
	})
	h("GET /api/callbacks", supervisors, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		return e.Callbacks(r.Context())
	})
	h("POST /api/callbacks/{call}/dismiss", supervisors, callAction("callback-dismiss", func(ctx context.Context, id string, _ *http.Request) error {
		return e.DismissCallback(ctx, id)
	}))
	h("POST /api/callbacks/{call}/retry", supervisors, callAction("callback-retry", func(ctx context.Context, id string, _ *http.Request) error {
		return e.RetryCallbackNow(ctx, id)
	}))
	h("GET /api/audit", supervisors, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		return e.AuditLog(r.Context(), 100)
	})
	h("GET /api/queues", readers, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) { return e.Queues(r.Context()) })
	h("GET /api/calls", supervisors, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) { return e.Calls(r.Context()), nil })
	h("GET /api/servicelevel", readers, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		return e.ServiceLevels(r.Context()), nil
	})
	h("GET /api/municipalities/{key}/directory", agents, func(_ http.ResponseWriter, r *http.Request, _ Caller) (any, error) {
		return e.Directory(r.PathValue("key"))
	})
	h("POST /api/municipalities/{key}/crisis", supervisors, func(_ http.ResponseWriter, r *http.Request, who Caller) (any, error) {
		var on bool
		switch r.URL.Query().Get("on") { // exactly true or false: a typo must never switch crisis mode on
		case "true":
			on = true
		case "false":
		default:
			return nil, fmt.Errorf("%w: on=%q: want on=true or on=false", errBadRequest, r.URL.Query().Get("on"))
		}
		by := who.User // a signed-in user is who switches; the shared token must say
		if by == "" {
			by = r.URL.Query().Get("by")
		}
		if by == "" {
			return nil, fmt.Errorf("%w: say who switches: ?by=<name>", errBadRequest)
		}
		if err := e.SetCrisis(r.Context(), r.PathValue("key"), on, by); err != nil {
			return nil, err
		}
		return map[string]any{"municipality": r.PathValue("key"), "crisis": on, "by": by}, nil
	})
}

// Mux is where routes are mounted (an *http.ServeMux; a test may list
// them instead, to hold them against the OpenAPI document).
type Mux interface {
	HandleFunc(pattern string, handler func(http.ResponseWriter, *http.Request))
}

// errBadRequest marks an API request that is malformed (400).
var errBadRequest = errors.New("bad request")

// Roles a Guard checks (package acd/web defines the users who have
// them). An admin may do everything.
const (
	RoleAgent      = "agent"
	RoleSupervisor = "supervisor"
	RoleBilling    = "billing"
	RoleAdmin      = "admin"
)

// Rule is what a route needs: one of Roles (an admin passes any), and,
// for routes acting on an agent, that agent's id: a caller with only the
// agent role may act on its own agent alone.
type Rule struct {
	Roles []string
	Agent string
}

// Guard decides whether a request may use a route: it returns who calls
// and true, or answers the request itself (401 without credentials, 403
// without the role or, for a session, without its CSRF token on a state
// change) and returns false.
type Guard interface {
	Authorize(w http.ResponseWriter, r *http.Request, rule Rule) (who Caller, ok bool)
}

// Caller is who uses a route: the user's name ("" for the shared token)
// and the agent it is, if any.
type Caller struct {
	User  string
	Agent string
}

// tokenGuard is the API's guard without users: the one shared bearer
// token (acd.api_token) may do everything.
type tokenGuard struct{ token string }

func (g tokenGuard) Authorize(w http.ResponseWriter, r *http.Request, _ Rule) (Caller, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if g.token == "" || !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(g.token)) != 1 {
		http.Error(w, `{"error":"missing or wrong bearer token"}`, http.StatusForbidden)
		return Caller{}, false
	}
	return Caller{}, true
}

// QueueStatus is one skill's queue for the API and the wallboard.
type QueueStatus struct {
	Skill          string  `json:"skill"`
	Waiting        int64   `json:"waiting"`
	LoggedIn       int64   `json:"logged_in"`
	HandleTimeSecs float64 `json:"handle_time_s"`
}

// Queues returns every skill's queue.
func (e *Engine) Queues(ctx context.Context) ([]QueueStatus, error) {
	seen := map[string]bool{}
	var out []QueueStatus
	for _, m := range e.cfg.Municipalities {
		if seen[m.Skill] {
			continue
		}
		seen[m.Skill] = true
		w, err := e.Store.Waiting(ctx, m.Skill)
		if err != nil {
			return nil, err
		}
		n, _ := e.Store.LoggedIn(ctx, m.Skill)
		ht, _ := e.handleTime(ctx, m.Skill)
		out = append(out, QueueStatus{Skill: m.Skill, Waiting: w, LoggedIn: n, HandleTimeSecs: ht.Seconds()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Skill < out[j].Skill })
	return out, nil
}

func (e *Engine) handleTime(ctx context.Context, skill string) (time.Duration, error) {
	ht, err := e.Store.HandleTime(ctx, skill)
	if ht <= 0 {
		ht = e.cfg.DefaultHandleTime
	}
	return ht, err
}

// CallStatus is one of this instance's calls for the API.
type CallStatus struct {
	CallID       string    `json:"call_id"`
	Municipality string    `json:"municipality"`
	State        CallState `json:"state"`
	Position     int       `json:"position,omitempty"`
	WaitSecs     float64   `json:"estimated_wait_s,omitempty"`
}

// Calls lists the calls this instance owns, with position and estimated
// wait for waiting ones.
func (e *Engine) Calls(ctx context.Context) []CallStatus {
	var out []CallStatus
	e.calls.Range(func(k, v any) bool {
		c := v.(*call)
		st := CallStatus{CallID: c.rec.CallID, Municipality: c.rec.Municipality, State: c.stateNow()}
		if pos, ewt, err := e.Position(ctx, c.rec.CallID); err == nil && pos > 0 {
			st.Position, st.WaitSecs = pos, ewt.Seconds()
		}
		out = append(out, st)
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CallID < out[j].CallID })
	return out
}

// Position returns a waiting call's place in its queue and its estimated
// wait: the rounds of agents it must wait for (its position over the agents
// logged in for the skill, rounded up) times the skill's handling time
// including wrap-up. Position 0: not waiting.
func (e *Engine) Position(ctx context.Context, callID string) (int, time.Duration, error) {
	v, ok := e.calls.Load(callID)
	if !ok {
		return 0, 0, errors.New("no such call here")
	}
	c := v.(*call)
	pos, err := e.Store.Position(ctx, callID)
	if err != nil || pos == 0 {
		return 0, 0, err
	}
	f := e.figures(c.muni.Skill)
	if f.err != nil {
		return pos, 0, f.err
	}
	rounds := math.Ceil(float64(pos) / float64(max(f.loggedIn, 1)))
	return pos, time.Duration(rounds) * f.handle, nil
}
