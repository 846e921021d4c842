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
	active  sync.WaitGroup
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
	done := make(chan struct{})
	go func() { e.active.Wait(); close(done) }()
	t := time.NewTimer(e.cfg.DrainTime)
	defer t.Stop()
	select {
	case <-done:
		return
	case <-t.C:
	case <-ctx.Done():
	}
	e.stopped.Do(func() { close(e.stop) })
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		e.log.Error().Msg("drain: calls still active after cut-off")
	}
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
