package acd

import (
	"context"
	"errors"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// Lease timing: an instance renews its lease every LeaseRenew (on its own
// Redis connection); others check every ReapEvery and reap it when its lease
// is missing on two checks in a row, so a dead instance's calls get their
// CDRs within LeaseTTL + 2·ReapEvery (9 s). The TTL allows six missed
// renewals, and the second look spares an instance that renews late.
const (
	LeaseRenew = time.Second
	LeaseTTL   = 7 * time.Second
	ReapEvery  = time.Second
)

// Deps are the engine's collaborators, wired by cmd/sc115.
type Deps struct {
	Instance string
	Store    Store
	Dialer   AgentDialer
	CDRs     CDRSink
	Privacy  cdr.Privacy
	// ShortAbandon: abandoned within this time → abandoned_short.
	ShortAbandon time.Duration
	Log          zerolog.Logger
	Registry     prometheus.Registerer
	// Greeting returns the prompt a municipality's callers hear first.
	Greeting func(m *Municipality) string
	// HoldTrack returns the hold track (prompt) of a municipality's
	// waiting callers.
	HoldTrack func(m *Municipality) string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// CPUTime is the CPU time this process has used so far, sampled each
	// second for acd.max_cpu_percent; nil means getrusage.
	CPUTime func() time.Duration
}

// Engine distributes calls to agents. Each call is owned by the goroutine
// that runs HandleCall; agents are guarded one mutex each; the call table is
// a sync.Map; matching happens atomically in the store. Nothing on the call
// path takes a global lock.
type Engine struct {
	Deps
	cfg    Config
	router *Router
	agents map[string]*agent // fixed at start; read-only map
	// agentIDs are the configured agents, sorted (the reconciliation's list).
	agentIDs []string
	calls    sync.Map // call id → *call, calls this instance owns
	m        *metrics
	now      func() time.Time
	log      zerolog.Logger
	active   atomic.Int64 // calls in HandleCall; polled by Drain (a WaitGroup may not Add while waited on)
	drain    atomic.Bool
	// storeDown: the last two lease renewals failed (one slow one under
	// load is no outage); new calls get 503 until one succeeds (issue 13,
	// 4: never 200 OK and silence).
	storeDown     atomic.Bool
	renewFailures atomic.Int32
	stop          chan struct{} // closed when draining time is over: cut calls
	stopped       sync.Once
	prepared      sync.Once

	hours       map[string]*schedule            // municipality → opening hours
	deptHours   map[string]map[string]*schedule // municipality → department → its hours (none: always)
	crisisHours map[string]*schedule            // … in crisis mode (nil: always open)
	sl          map[string]*slCounters          // municipality → service-level counters; read-only map
	slQueue     map[string]*slCounters          // queue (skill) → service-level counters
	fed         *federation
	// skillFigures: per skill, the figures waiting calls share (read-only map).
	skillFigures map[string]*figureCache
	cpuPercent   atomic.Int64 // this process' CPU use over the last second (100 = one core)
	// newCalls meters acd.max_new_calls_per_second (nil: no limit);
	// golang.org/x/time/rate's token bucket, safe without a lock of ours.
	newCalls *rate.Limiter
	// berlin is the wallboard's day and interval clock (Europe/Berlin).
	berlin *time.Location
	// overloadLog samples the refusals' log lines: an overload is no time
	// to write one line per refused call.
	overloadLog zerolog.Logger
}

var errUnknownMunicipality = errors.New("unknown municipality")

// NewEngine builds the engine from a validated config.
func NewEngine(cfg Config, d Deps) *Engine {
	// Defaults a config built in code may lack (Validate fills them too).
	cfg.Callback.validate()
	cfg.Tickets.validate()
	e := &Engine{Deps: d, cfg: cfg, router: NewRouter(&cfg), agents: map[string]*agent{},
		m: newMetrics(d.Registry), now: d.Now, log: d.Log, stop: make(chan struct{})}
	if e.now == nil {
		e.now = time.Now
	}
	if loc, err := time.LoadLocation("Europe/Berlin"); err == nil {
		e.berlin = loc
	} else {
		e.berlin = time.UTC // no time zone data: the hours check reports it at config time
	}
	if e.Greeting == nil {
		e.Greeting = func(m *Municipality) string { return m.Greeting }
	}
	if e.CPUTime == nil {
		e.CPUTime = processCPUTime
	}
	if e.HoldTrack == nil {
		e.HoldTrack = func(m *Municipality) string { return m.HoldTrack }
	}
	for _, a := range cfg.Agents {
		e.agents[a.ID] = newAgent(a)
		e.agentIDs = append(e.agentIDs, a.ID)
	}
	sort.Strings(e.agentIDs)
	e.hours, e.crisisHours, e.sl = map[string]*schedule{}, map[string]*schedule{}, map[string]*slCounters{}
	e.fed = newFederation(cfg.Federation)
	e.overloadLog = e.log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Second})
	if r := cfg.MaxNewCallsPerSecond; r > 0 {
		e.newCalls = rate.NewLimiter(rate.Limit(r), max(1, int(math.Ceil(r))))
	}
	e.skillFigures = newFigureCaches(&cfg)
	e.registerAgentMetrics(d.Registry)
	e.compileDirectories()
	e.slQueue = map[string]*slCounters{}
	def, _ := compileHours(cfg.Hours, "acd.hours") // validated
	keys := make([]string, 0, len(cfg.Municipalities))
	for _, m := range cfg.Municipalities {
		keys = append(keys, m.Key)
	}
	e.m.zeroFor(keys)
	for _, m := range cfg.Municipalities {
		e.hours[m.Key] = def
		if m.Hours != nil {
			e.hours[m.Key], _ = compileHours(*m.Hours, "")
		}
		if m.Crisis.Hours != nil {
			e.crisisHours[m.Key], _ = compileHours(*m.Crisis.Hours, "")
		}
		e.sl[m.Key] = &slCounters{}
		if e.slQueue[m.Skill] == nil {
			e.slQueue[m.Skill] = &slCounters{}
		}
	}
	return e
}

// Run takes part in the shared store until ctx ends: it renews this
// instance's lease, receives the matches for calls it owns, and reaps
// instances whose lease expired. Call it once, in its own goroutine.
func (e *Engine) Run(ctx context.Context) {
	e.Prepare(ctx)
	go e.dispatch(ctx)
	if e.cfg.MaxCPUPercent > 0 {
		go e.sampleCPU(ctx)
	}
	go e.renewLease(ctx)
	go e.reconcileLoop(ctx)
	go e.wakeCallbacks(ctx)
	reap := time.NewTicker(ReapEvery)
	defer reap.Stop()
	suspects := map[string]bool{} // instances whose lease was missing on the last check
	for {
		select {
		case <-ctx.Done():
			return
		case <-reap.C:
			suspects = e.reapDead(ctx, suspects)
		}
	}
}

// renewLease renews this instance's lease every LeaseRenew until ctx ends.
// It has a goroutine (and a Redis connection) of its own: a reaper check
// waiting behind call traffic for the shared pool must never delay it, or
// a live instance's lease runs out and its calls are reaped.
func (e *Engine) renewLease(ctx context.Context) {
	renew := time.NewTicker(LeaseRenew)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-renew.C:
			e.heartbeat(ctx)
		}
	}
}

// Prepare takes the lease and clears what a previous run of this instance
// left in the store. Run calls it; call it first yourself to be sure it is
// done before the first call arrives.
func (e *Engine) Prepare(ctx context.Context) {
	e.prepared.Do(func() {
		ended := e.lastSeen(ctx, e.Instance) // the previous run's last sign of life, before this run's first
		e.heartbeat(ctx)
		e.reapOwn(ctx, ended)
		for _, m := range e.cfg.Municipalities {
			if m.Crisis.Active {
				if err := e.SetCrisis(ctx, m.Key, true, "config"); err != nil {
					e.log.Error().Err(err).Msg("store: crisis from config")
				}
			}
		}
	})
}

func (e *Engine) heartbeat(ctx context.Context) {
	err := e.Store.Heartbeat(ctx, e.Instance, LeaseTTL)
	if err != nil && ctx.Err() == nil {
		e.log.Error().Err(err).Msg("store: lease renewal failed")
	}
	switch {
	case err == nil:
		e.renewFailures.Store(0)
		if e.storeDown.Swap(false) {
			e.log.Info().Msg("store: back; taking new calls again")
		}
	case ctx.Err() == nil && e.renewFailures.Add(1) >= 2:
		e.storeDown.Store(true)
	}
}

// dispatch hands each match for a call of this instance to that call.
func (e *Engine) dispatch(ctx context.Context) {
	for ctx.Err() == nil {
		next := e.Store.NextAssignment
		if e.Draining() {
			next = e.Store.NextOwnAssignment // a draining instance starts no callback
		}
		m, err := next(ctx, e.Instance, time.Second)
		if err != nil {
			if ctx.Err() == nil {
				e.log.Error().Err(err).Msg("store: assignments")
				time.Sleep(100 * time.Millisecond)
			}
			continue
		}
		if m != nil && m.Owner == queue.CallbackOwner && m.Signal == "" {
			if ctx.Err() != nil || e.Draining() {
				// Stopping: not the moment to start a callback; another
				// instance (or this one's next run) takes it.
				e.requeueCallback(m.CallID)
				e.release(m.AgentID, m.CallID)
				continue
			}
			e.takeCallback(m)
			continue
		}
		if m != nil && m.Signal == queue.SignalTransfer {
			e.consoleTransfer(m)
			continue
		}
		if m != nil && (m.Signal == queue.SignalOverflow || m.Signal == queue.SignalMove) {
			e.callSignal(m)
			continue
		}
		if m != nil && m.Signal != "" {
			e.wrapupSignal(m)
			continue
		}
		if m != nil && !e.deliver(m.CallID, m.AgentID) {
			// The call ended meanwhile: the agent goes back to work.
			e.release(m.AgentID, m.CallID)
		}
	}
}

// reapOwn writes the CDRs (reapedRecord) of the calls a previous run of this
// instance left in a shared Redis (it crashed or was killed): they died
// with it. Its agents keep their states (a paused agent stays paused).
func (e *Engine) reapOwn(ctx context.Context, ended time.Time) {
	calls, err := e.Store.ReapOwn(ctx, e.Instance)
	if err != nil {
		e.log.Error().Err(err).Msg("store: clear the previous run's calls")
		return
	}
	calls = e.notWrittenYet(calls)
	if len(calls) > 0 {
		e.log.Warn().Int("calls", len(calls)).Msg("calls of the previous run of this instance ended with it")
	}
	for _, f := range calls {
		if err := e.CDRs.Write(reapedRecord(f, ended)); err != nil {
			e.log.Error().Err(err).Str("call_id", f["id"]).Msg("cdr write failed")
		}
	}
}

// writtenSink is a CDR sink that can say which calls have a row already
// (cdr.Writer does).
type writtenSink interface {
	Written(ids []string, since time.Time) (map[string]bool, error)
}

// notWrittenYet drops the calls of the previous run whose row that run
// wrote before it could remove them from the store (the store was down,
// then the process stopped): one row per call.
func (e *Engine) notWrittenYet(calls []map[string]string) []map[string]string {
	ws, ok := e.CDRs.(writtenSink)
	if !ok || len(calls) == 0 {
		return calls
	}
	ids := make([]string, 0, len(calls))
	since := e.now()
	for _, f := range calls {
		ids = append(ids, f["id"])
		if ms, err := strconv.ParseInt(f["arrived"], 10, 64); err == nil && ms > 0 && time.UnixMilli(ms).Before(since) {
			since = time.UnixMilli(ms)
		}
	}
	written, err := ws.Written(ids, since.Add(-time.Hour))
	if err != nil {
		e.log.Error().Err(err).Msg("cdr: which calls have rows already")
	}
	out := calls[:0]
	for _, f := range calls {
		if written[f["id"]] {
			e.log.Info().Str("call_id", f["id"]).Msg("the previous run wrote this call's row already; not again")
			continue
		}
		out = append(out, f)
	}
	return out
}

// reapDead writes a CDR (reapedRecord) for every call of an instance whose
// lease is missing now and was missing on the previous check (suspects);
// the store frees its agents (one reaper wins). It returns the new suspects.
func (e *Engine) reapDead(ctx context.Context, suspects map[string]bool) map[string]bool {
	dead, err := e.Store.DeadInstances(ctx)
	if err != nil {
		return suspects
	}
	now := map[string]bool{}
	for _, inst := range dead {
		if inst == e.Instance {
			continue
		}
		now[inst] = true
		if !suspects[inst] {
			continue // look again next time before taking over
		}
		ended := e.lastSeen(ctx, inst)
		calls, err := e.Store.Reap(ctx, inst)
		if err != nil {
			e.log.Error().Err(err).Str("dead_instance", inst).Msg("store: reap")
			continue
		}
		if len(calls) > 0 {
			e.log.Warn().Str("dead_instance", inst).Int("calls", len(calls)).Msg("reaped the calls of an instance whose lease expired")
		}
		for _, f := range calls {
			if err := e.CDRs.Write(reapedRecord(f, ended)); err != nil {
				e.log.Error().Err(err).Str("call_id", f["id"]).Msg("cdr write failed")
			}
		}
	}
	return now
}

// Close gives up the lease at once after a clean shutdown, so nobody reaps
// calls that already have their CDRs.
func (e *Engine) Close() {
	if err := e.Store.Release(context.Background(), e.Instance); err != nil {
		e.log.Error().Err(err).Msg("store: release lease")
	}
}

// overload says why the instance is over its limits ("" = it is not):
// with extra more calls, more than acd.max_calls ("instance-overloaded"),
// or more CPU than acd.max_cpu_percent ("instance-cpu"). A new call is
// counted in active already, so admission asks with extra 0.
func (e *Engine) overload(extra int64) string {
	if e.cfg.MaxCalls > 0 && e.active.Load()+extra > int64(e.cfg.MaxCalls) {
		return "instance-overloaded"
	}
	if e.cfg.MaxCPUPercent > 0 && e.cpuPercent.Load() > int64(e.cfg.MaxCPUPercent) {
		return "instance-cpu"
	}
	return ""
}

// admit says why a new call is refused before anything is stored or
// answered ("" = it is taken): over acd.max_new_calls_per_second
// ("instance-rate"), or overloaded (see overload). A refused call takes no
// token.
func (e *Engine) admit() string {
	if r := e.overload(0); r != "" {
		return r
	}
	if e.newCalls != nil && !e.newCalls.Allow() {
		return "instance-rate"
	}
	return ""
}

// Router returns the number → municipality table.
func (e *Engine) Router() *Router { return e.router }

// Refusing says why the engine would refuse a new call right now
// (draining, instance-overloaded, instance-cpu, store-unavailable), or ""
// when it takes calls: what a front proxy probing with OPTIONS must know.
func (e *Engine) Refusing() string {
	switch {
	case e.Draining():
		return "draining"
	case e.storeDown.Load():
		return "store-unavailable"
	}
	return e.overload(0)
}

// Draining reports whether the engine refuses new calls.
func (e *Engine) Draining() bool { return e.drain.Load() }

// cutCallsWait is how long Drain waits for the calls it cut to write
// their CDRs: two BYE timeouts and a margin (deploy/systemd's
// TimeoutStopSec allows drain_time plus this).
const cutCallsWait = 12 * time.Second

// Drain refuses new calls (503), lets active calls finish for up to
// cfg.DrainTime (or until ctx ends), then ends the rest, each with a CDR.
func (e *Engine) Drain(ctx context.Context) {
	e.drain.Store(true)
	e.log.Info().Int64("active_calls", e.active.Load()).Dur("drain_time", e.cfg.DrainTime).Msg("draining: new calls get 503")
	if e.waitIdle(ctx, e.cfg.DrainTime) {
		return
	}
	e.stopped.Do(func() { close(e.stop) })
	// Cut calls end by BYEs that may wait for a dead phone (5 s each, two
	// legs): long enough for that, so their CDRs are written before exit.
	if !e.waitIdle(context.Background(), cutCallsWait) {
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
