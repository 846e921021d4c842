package acd

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
)

// Deps are the engine's collaborators, wired by cmd/sc115.
type Deps struct {
	Instance string
	Store    Store
	Dialer   AgentDialer
	CDRs     CDRSink
	Privacy  cdr.Privacy
	Log      zerolog.Logger
	Registry prometheus.Registerer
	// Greeting returns the prompt a municipality's callers hear first.
	Greeting func(m *Municipality) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Engine distributes calls to agents. Each call is owned by the goroutine
// that runs HandleCall; agents are guarded one mutex each; the call table is
// a sync.Map. Nothing on the call path takes a global lock.
type Engine struct {
	Deps
	cfg     Config
	router  *Router
	agents  map[string]*agent // fixed at start; read-only map
	byUser  map[string]*agent
	calls   sync.Map // call id → *call
	m       *metrics
	now     func() time.Time
	log     zerolog.Logger
	active  atomic.Int64 // calls in HandleCall; polled by Drain (a WaitGroup may not Add while waited on)
	drain   atomic.Bool
	stop    chan struct{} // closed when draining time is over: cut calls
	stopped sync.Once
}

// NewEngine builds the engine from a validated config.
func NewEngine(cfg Config, d Deps) *Engine {
	e := &Engine{Deps: d, cfg: cfg, router: NewRouter(&cfg), agents: map[string]*agent{}, byUser: map[string]*agent{},
		m: newMetrics(d.Registry), now: d.Now, log: d.Log, stop: make(chan struct{})}
	if e.now == nil {
		e.now = time.Now
	}
	if e.Greeting == nil {
		e.Greeting = func(m *Municipality) string { return m.Greeting }
	}
	for _, a := range cfg.Agents {
		ag := newAgent(a)
		e.agents[a.ID] = ag
		e.byUser[a.SIPUser] = ag
	}
	return e
}

// Router returns the number → municipality table.
func (e *Engine) Router() *Router { return e.router }

// Draining reports whether the engine refuses new calls.
func (e *Engine) Draining() bool { return e.drain.Load() }

// Drain refuses new calls (503), lets active calls finish for up to
// cfg.DrainTime (or until ctx ends), then ends the rest, each with a CDR.
func (e *Engine) Drain(ctx context.Context) {
	e.drain.Store(true)
	e.log.Info().Int64("active_calls", e.active.Load()).Dur("drain_time", e.cfg.DrainTime).Msg("draining: new calls get 503")
	if e.waitIdle(ctx, e.cfg.DrainTime) {
		return
	}
	e.stopped.Do(func() { close(e.stop) })
	if !e.waitIdle(context.Background(), 5*time.Second) {
		e.log.Error().Int64("active_calls", e.active.Load()).Msg("drain: calls still active after cut-off")
	}
}

// waitIdle waits until no call is active, for at most d or until ctx ends.
func (e *Engine) waitIdle(ctx context.Context, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for e.active.Load() > 0 {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// deliver hands an agent reservation to the call that owns it. It returns
// false when the call has gone (the agent must then be freed).
func (e *Engine) deliver(callID, agentID string) bool {
	v, ok := e.calls.Load(callID)
	if !ok {
		return false
	}
	return v.(*call).offerAgent(agentID)
}
