package acd

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/queue"
)

// tracker checks, as offers happen, that no agent ever rings or talks on
// two calls at once and no call rings two agents at once.
type tracker struct {
	mu        sync.Mutex
	agentBusy map[string]string // agent → call
	callRing  map[string]string // call → agent
	errs      []string
}

func (tr *tracker) ring(agent, call string) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if prev, busy := tr.agentBusy[agent]; busy {
		tr.errs = append(tr.errs, fmt.Sprintf("agent %s offered %s while busy with %s", agent, call, prev))
	}
	if prev, ringing := tr.callRing[call]; ringing {
		tr.errs = append(tr.errs, fmt.Sprintf("call %s rings %s while ringing %s", call, agent, prev))
	}
	tr.agentBusy[agent], tr.callRing[call] = call, agent
}

func (tr *tracker) answered(call string) {
	tr.mu.Lock()
	delete(tr.callRing, call)
	tr.mu.Unlock()
}

func (tr *tracker) free(agent, call string) {
	tr.mu.Lock()
	if tr.agentBusy[agent] == call {
		delete(tr.agentBusy, agent)
	}
	if tr.callRing[call] == agent {
		delete(tr.callRing, call)
	}
	tr.mu.Unlock()
}

// chaosDialer answers, declines or lets ring out at random; answered
// calls last a few ms and either side may hang up.
type chaosDialer struct {
	tr *tracker
}

type chaosLeg struct {
	ended chan struct{}
	once  sync.Once
	done  func()
}

// Hangup frees the agent in the tracker before the leg ends: once it has
// ended the engine may release the agent at once, and another instance
// offer it a call before a later free() ran (a false violation).
func (l *chaosLeg) Hangup()                 { l.once.Do(func() { l.done(); close(l.ended) }) }
func (l *chaosLeg) Ended() <-chan struct{}  { return l.ended }
func (l *chaosLeg) EndReason() string       { return "" }
func (l *chaosLeg) HoldTime() time.Duration { return 0 }

func (d *chaosDialer) Offer(ctx context.Context, o Offer) (AgentLeg, error) {
	d.tr.ring(o.AgentID, o.CallID)
	r := rand.IntN(100)
	switch {
	case r < 4: // declines
		time.Sleep(time.Millisecond)
		d.tr.free(o.AgentID, o.CallID)
		return nil, errors.New("603 Decline")
	case r < 7: // rings until the ring timeout (or the caller hangs up)
		<-ctx.Done()
		d.tr.free(o.AgentID, o.CallID)
		return nil, ctx.Err()
	}
	select {
	case <-time.After(time.Duration(rand.IntN(2000)) * time.Microsecond):
	case <-ctx.Done():
		d.tr.free(o.AgentID, o.CallID)
		return nil, ctx.Err()
	}
	d.tr.answered(o.CallID)
	l := &chaosLeg{ended: make(chan struct{}), done: func() { d.tr.free(o.AgentID, o.CallID) }}
	if rand.IntN(2) == 0 { // the agent hangs up after a short talk
		go func() { time.Sleep(time.Duration(10+rand.IntN(50)) * time.Millisecond); l.Hangup() }()
	}
	return l, nil
}

func (d *chaosDialer) Forward(context.Context, ForwardOffer) (AgentLeg, error) {
	return nil, errors.New("no federation in this test")
}

func (d *chaosDialer) CallOut(context.Context, OutboundOffer) (AgentLeg, error) {
	return nil, errors.New("no trunk out in this test")
}

func (d *chaosDialer) Bridge(c CallerLeg, _ AgentLeg) error {
	if l, ok := c.(*fakeLeg); ok {
		l.connect()
	}
	return nil
}

type collect struct {
	mu   sync.Mutex
	rows map[string][]cdr.Record
}

func (c *collect) Write(r cdr.Record) error {
	c.mu.Lock()
	c.rows[r.CallID] = append(c.rows[r.CallID], r)
	c.mu.Unlock()
	return nil
}

func (c *collect) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.rows)
}

func multiConfig(agents int) Config {
	cfg := Defaults()
	skills := []string{"hannover", "burgdorf", "lehrte", "garbsen"}
	for i, s := range skills {
		cfg.Municipalities = append(cfg.Municipalities, Municipality{Key: s, Name: s, Numbers: []string{fmt.Sprintf("+4951%d115", 30+i)}})
	}
	for i := 0; i < agents; i++ {
		sk := map[string]int{skills[i%4]: 1 + i%10}
		if i%3 == 0 {
			sk[skills[(i+1)%4]] = 1 + (i/3)%10
		}
		id := fmt.Sprintf("ag%03d", i)
		cfg.Agents = append(cfg.Agents, Agent{ID: id, SIPUser: id, Password: "x", Skills: sk})
	}
	// Offers the chaos dialer answers do so within 2 ms; the ring timeout
	// is far above that so that a busy machine does not turn answers into
	// ring-outs (a test must not assume how fast goroutines are scheduled).
	cfg.Queue.RingTimeout = 250 * time.Millisecond
	cfg.Queue.Wrapup = 2 * time.Millisecond
	cfg.Queue.NoAnswerRest = 5 * time.Millisecond
	cfg.Queue.MaxNoAnswers = 3
	cfg.Queues = map[string]QueueSettings{"burgdorf": {Strategy: "best-skill"}, "lehrte": {Strategy: "fewest-calls"}, "garbsen": {Strategy: "round-robin"}}
	cfg.DrainTime = time.Second
	cfg.Hours = AlwaysOpen()
	return cfg
}

// TestThreeInstancesShareOneRedis is the queue engine's proof: three
// engines on one redis-server, 10,000 calls over 4 skills, 200 agents with
// mixed skills and levels, random arrivals, callers hanging up while
// waiting, declined and unanswered offers, agents pausing. Afterwards: no
// agent held two calls, no call rang two agents, every call that was
// waiting was served in FIFO order within its skill, every call has exactly
// one CDR, and nothing is left reserved or queued.
func TestThreeInstancesShareOneRedis(t *testing.T) {
	calls := 10000
	if testing.Short() {
		calls = 1000
	}
	url := interop.RedisServer(t)
	cfg := multiConfig(200)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr := &tracker{agentBusy: map[string]string{}, callRing: map[string]string{}}
	sink := &collect{rows: map[string][]cdr.Record{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engines, stores := chaosEngines(ctx, t, url, cfg, 3, "inst", tr, sink, zerolog.ErrorLevel)
	// Agents pause for a moment now and then, and come back.
	var pauses atomic.Int64
	stopPausing := make(chan struct{})
	go func() {
		for {
			select {
			case <-stopPausing:
				return
			case <-time.After(2 * time.Millisecond):
			}
			i := rand.IntN(len(cfg.Agents))
			e, id := engines[i%3], cfg.Agents[i].ID
			if e.Pause(id, "break") == nil {
				pauses.Add(1)
				go func() { time.Sleep(10 * time.Millisecond); _ = e.Ready(id) }()
			}
		}
	}()
	// Agents paused for no-answer come back too.
	go func() {
		for {
			select {
			case <-stopPausing:
				return
			case <-time.After(20 * time.Millisecond):
			}
			for i, a := range cfg.Agents {
				if info, _ := stores[0].Agent(ctx, a.ID); info.Reason == "no-answer" {
					_ = engines[i%3].Ready(a.ID)
				}
			}
		}
	}()

	var wg sync.WaitGroup
	var abandonedEarly atomic.Int64
	for i := 0; i < calls; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			leg := newFakeLeg(fmt.Sprintf("call-%05d", i), fmt.Sprintf("+4951%d115", 30+rand.IntN(4)))
			if rand.IntN(10) == 0 { // hangs up after a short wait
				go func() { time.Sleep(time.Duration(rand.IntN(20)) * time.Millisecond); leg.end(); abandonedEarly.Add(1) }()
			} else {
				go func() { // talks for a moment once connected, then hangs up (if the agent did not)
					select {
					case <-leg.connected:
						time.Sleep(time.Duration(10+rand.IntN(50)) * time.Millisecond)
					case <-leg.ended:
					case <-time.After(5 * time.Minute): // patience: a busy machine answers late, not never
					}
					leg.end()
				}()
			}
			engines[rand.IntN(3)].HandleCall(leg)
		}(i)
		if i%4 == 0 {
			// random arrivals, on average ~4 calls/ms: more than 200 agents
			// talking ~35 ms can take, so queues form and FIFO is tested
			time.Sleep(time.Duration(rand.IntN(1000)) * time.Microsecond)
		}
	}
	wg.Wait()
	if testing.Verbose() {
		states := map[string]int{}
		for _, a := range cfg.Agents {
			info, _ := stores[0].Agent(ctx, a.ID)
			states[info.State+"/"+info.Reason]++
		}
		t.Logf("agent states at the end: %v", states)
	}
	close(stopPausing)
	// The last wrap-ups end and reservations that came after their call
	// ended are released by the dispatchers: wait for it, however busy the
	// machine is.
	busy := func() (n int, example string) {
		for _, a := range cfg.Agents {
			if info, _ := stores[0].Agent(ctx, a.ID); info.State == string(AgentReserved) || info.State == string(AgentOnCall) || info.State == string(AgentWrapUp) {
				n++
				example = a.ID + " " + info.State + " for " + info.Call
			}
		}
		return n, example
	}
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		n, example := busy()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("%d agents still busy a minute after the last call ended, e.g. %s", n, example)
			break
		}
	}

	tr.mu.Lock()
	if len(tr.errs) > 0 {
		t.Errorf("%d invariant violations, first: %v", len(tr.errs), tr.errs[:min(5, len(tr.errs))])
	}
	tr.mu.Unlock()
	if n := sink.count(); n != calls {
		t.Errorf("%d calls have CDRs, want %d", n, calls)
	}
	answered, abandoned := 0, 0
	var longest int64 // the longest wait of an answered call: how far dispatching fell behind
	hist := map[cdr.Disposition]int{}
	sink.mu.Lock()
	for id, rows := range sink.rows {
		if len(rows) != 1 {
			t.Errorf("call %s has %d CDRs", id, len(rows))
		}
		hist[rows[0].Disposition]++
		switch rows[0].Disposition {
		case cdr.Answered:
			answered++
			longest = max(longest, rows[0].WaitMS)
		case cdr.Abandoned:
			abandoned++
		}
	}
	sink.mu.Unlock()
	t.Logf("%d calls: %v; %d pauses; longest wait of an answered call %d ms", calls, hist, pauses.Load(), longest)
	if answered < calls/2 {
		t.Errorf("only %d of %d answered", answered, calls)
	}
	for i := range engines {
		if n, _ := stores[0].OwnedCalls(ctx, fmt.Sprintf("inst-%d", i)); n != 0 {
			t.Errorf("inst-%d still owns %d calls in the store", i, n)
		}
	}
	for _, sk := range []string{"hannover", "burgdorf", "lehrte", "garbsen"} {
		if n, _ := stores[0].Waiting(ctx, sk); n != 0 {
			t.Errorf("%d calls left waiting for %s", n, sk)
		}
	}
	checkFIFO(t, stores[0])
}

// chaosEngines starts n engines (instances prefix-0 …) on one Redis, each
// with its own store client, ringing agents through the chaos dialer, and
// registers the agents round-robin with them; they stop with ctx.
func chaosEngines(ctx context.Context, t *testing.T, url string, cfg Config, n int, prefix string, tr *tracker, sink CDRSink, lvl zerolog.Level) ([]*Engine, []*queue.Store) {
	t.Helper()
	var engines []*Engine
	var stores []*queue.Store
	for i := 0; i < n; i++ {
		st, err := queue.Open(ctx, queue.Config{Redis: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(st.Close)
		stores = append(stores, st)
		e := NewEngine(cfg, Deps{Instance: fmt.Sprintf("%s-%d", prefix, i), Store: st, Dialer: &chaosDialer{tr: tr}, CDRs: sink,
			Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.New(os.Stderr).Level(lvl)})
		e.Prepare(ctx)
		go e.Run(ctx)
		engines = append(engines, e)
	}
	for i, a := range cfg.Agents {
		engines[i%n].AgentRegistered(a.ID)
	}
	return engines, stores
}

// checkFIFO replays the store's call events (in Redis order): whenever a
// waiting call is reserved, it must be the oldest call waiting in its queue.
func checkFIFO(t *testing.T, st *queue.Store) {
	t.Helper()
	evs, err := st.CallEvents(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	waiting := map[string]map[string]int64{} // queue → call → score
	checked := 0
	for _, ev := range evs {
		q := ev.Queued
		switch ev.Event {
		case "queued":
			if waiting[q] == nil {
				waiting[q] = map[string]int64{}
			}
			waiting[q][ev.Call] = ev.Score
		case "removed":
			delete(waiting[q], ev.Call)
		case "reserved":
			if q == "" {
				continue // matched on arrival: it never waited
			}
			for other, sc := range waiting[q] {
				if sc < ev.Score {
					t.Errorf("FIFO: %s reserved from %s while older %s waited", ev.Call, q, other)
					return
				}
			}
			delete(waiting[q], ev.Call)
			checked++
		}
	}
	if checked == 0 {
		t.Error("no call ever waited: the FIFO check checked nothing")
	}
	t.Logf("FIFO held for %d reservations of waiting calls (%d events)", checked, len(evs))
}
