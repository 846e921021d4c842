package acd

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/queue"
)

// fakeLeg is a caller leg driven by the test.
type fakeLeg struct {
	id        string
	dialed    []string
	rejected  chan int
	ended     chan struct{}
	once      sync.Once
	hungUp    chan struct{}
	connected chan struct{} // closed when bridged to an agent
	conOnce   sync.Once
	// answerErr is what Answer returns (nil: the call is answered).
	answerErr error
	// retryAfter is what Refuse was given.
	retryAfter time.Duration
	// ack, if set, is the ACK Answer waits for after its 200 OK.
	ack chan struct{}
	// keys are the caller's DTMF keys (nil: none).
	keys chan rune
	// intros are the prompts played in full with PlayIntro, in order.
	playMu sync.Mutex
	intros []string
	// greeting, if set, is what PlayIntro returns: closed when the test
	// says the greeting has been heard (nil: at once).
	greeting chan struct{}
	// withheld: the caller withheld its number.
	withheld bool
}

func (l *fakeLeg) connect() { l.conOnce.Do(func() { close(l.connected) }) }

func newFakeLeg(id, dialed string) *fakeLeg {
	return &fakeLeg{id: id, dialed: []string{dialed}, rejected: make(chan int, 1), ended: make(chan struct{}), hungUp: make(chan struct{}), connected: make(chan struct{})}
}
func (l *fakeLeg) CallID() string            { return l.id }
func (l *fakeLeg) DialedNumbers() []string   { return l.dialed }
func (l *fakeLeg) Caller() (string, bool)    { return "+495136123456", l.withheld }
func (l *fakeLeg) Reject(code int, _ string) { l.rejected <- code; l.end() }
func (l *fakeLeg) Refuse(after time.Duration) {
	l.retryAfter = after
	l.Reject(503, "Service Unavailable")
}
func (l *fakeLeg) Answer(ctx context.Context) error {
	if l.answerErr != nil {
		return l.answerErr
	}
	if l.ack != nil {
		select {
		case <-l.ack:
		case <-ctx.Done():
		}
	}
	return ctx.Err()
}
func (l *fakeLeg) PlayOnce([]string)     {}
func (l *fakeLeg) Play([]string, string) {}
func (l *fakeLeg) PlayIntro(prompts []string, _ string) <-chan struct{} {
	l.playMu.Lock()
	l.intros = append(l.intros, prompts...)
	l.playMu.Unlock()
	if l.greeting != nil {
		return l.greeting
	}
	done := make(chan struct{})
	close(done)
	return done
}
func (l *fakeLeg) Hangup()                 { close(l.hungUp); l.end() }
func (l *fakeLeg) EndReason() string       { return "" }
func (l *fakeLeg) HoldTime() time.Duration { return 0 }
func (l *fakeLeg) DTMF() <-chan rune       { return l.keys }
func (l *fakeLeg) Ended() <-chan struct{}  { return l.ended }
func (l *fakeLeg) end()                    { l.once.Do(func() { close(l.ended) }) }

type fakeAgentLeg struct {
	ended chan struct{}
	once  sync.Once

	mu       sync.Mutex
	transfer func(target, replaces string) (int, string) // set by the engine (Transferable)
	notified []int                                       // NOTIFY statuses the phone was sent
}

func (a *fakeAgentLeg) OnTransfer(h func(string, string) (int, string)) {
	a.mu.Lock()
	a.transfer = h
	a.mu.Unlock()
}

func (a *fakeAgentLeg) NotifyTransfer(code int, _ string) {
	a.mu.Lock()
	a.notified = append(a.notified, code)
	a.mu.Unlock()
}

// refer is the agent's phone sending REFER to target: the answer code.
func (a *fakeAgentLeg) refer(target string) int { return a.referReplacing(target, "") }

// referReplacing is the agent's phone completing an attended transfer:
// REFER with Replaces naming its consultation call.
func (a *fakeAgentLeg) referReplacing(target, consultation string) int {
	a.mu.Lock()
	h := a.transfer
	a.mu.Unlock()
	if h == nil {
		return 403
	}
	code, _ := h(target, consultation)
	return code
}

// notifies are the NOTIFY statuses so far.
func (a *fakeAgentLeg) notifies() []int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int(nil), a.notified...)
}

func (a *fakeAgentLeg) Hangup()                 { a.once.Do(func() { close(a.ended) }) }
func (a *fakeAgentLeg) Ended() <-chan struct{}  { return a.ended }
func (a *fakeAgentLeg) EndReason() string       { return "" }
func (a *fakeAgentLeg) HoldTime() time.Duration { return 0 }

// fakeDialer answers or declines per agent as the test says and records offers.
type fakeDialer struct {
	mu        sync.Mutex
	decline   map[string]bool
	offers    []string
	forwards  []string
	forwardOK bool
	failFirst bool // the first forward attempt is refused
	legs      chan *fakeAgentLeg
	// Calls out through the trunk (transfers): the numbers dialed, the
	// answered legs, and the status to refuse them with (0: answer).
	callouts []string
	outLegs  chan *fakeAgentLeg
	outFail  int
	outGate  chan struct{} // if set, a call out waits for it (or ctx) before its answer
	// events are offers ("offer agent display caller") and calls out
	// ("callout number") in order; outLegs get the call-out legs.
	events []string
}

// eventsSoFar is what the dialer did, in order.
func (d *fakeDialer) eventsSoFar() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.events...)
}

// codedErr is a refusal with a SIP status, as the SIP layer returns it.
type codedErr int

func (c codedErr) Error() string { return "refused " + strconv.Itoa(int(c)) }
func (c codedErr) SIPCode() int  { return int(c) }

func (d *fakeDialer) CallOut(ctx context.Context, o OutboundOffer) (AgentLeg, error) {
	d.mu.Lock()
	d.callouts = append(d.callouts, o.Number)
	d.events = append(d.events, "callout "+o.Number)
	fail, gate := d.outFail, d.outGate
	d.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if fail != 0 {
		return nil, codedErr(fail)
	}
	l := &fakeAgentLeg{ended: make(chan struct{})}
	if d.outLegs != nil {
		d.outLegs <- l
	}
	return l, nil
}

func (d *fakeDialer) Offer(ctx context.Context, o Offer) (AgentLeg, error) {
	d.mu.Lock()
	d.offers = append(d.offers, o.AgentID+":"+o.CallID)
	d.events = append(d.events, "offer "+o.AgentID+" "+o.DisplayName+" "+o.CallerNumber)
	decline := d.decline[o.AgentID]
	d.mu.Unlock()
	if decline {
		return nil, errors.New("486 Busy Here")
	}
	l := &fakeAgentLeg{ended: make(chan struct{})}
	d.legs <- l
	return l, nil
}
func (d *fakeDialer) Bridge(CallerLeg, AgentLeg) error { return nil }

// Forward answers when forwardOK is set, else refuses (503).
func (d *fakeDialer) Forward(ctx context.Context, f ForwardOffer) (AgentLeg, error) {
	d.mu.Lock()
	d.forwards = append(d.forwards, f.Target)
	ok := d.forwardOK && !(d.failFirst && len(d.forwards) == 1)
	d.mu.Unlock()
	if !ok {
		return nil, errors.New("503 Service Unavailable")
	}
	return &fakeAgentLeg{ended: make(chan struct{})}, nil
}

type sink struct {
	mu   sync.Mutex
	recs []cdr.Record
	got  chan cdr.Record
}

func (s *sink) Write(r cdr.Record) error {
	s.mu.Lock()
	s.recs = append(s.recs, r)
	s.mu.Unlock()
	s.got <- r
	return nil
}

func testConfigACD() Config {
	cfg := Defaults()
	cfg.Municipalities = []Municipality{{Key: "burgdorf", Name: "Burgdorf", Numbers: []string{"+495136115"}},
		{Key: "lehrte", Name: "Lehrte", Numbers: []string{"+495132115"}, MinLevel: 8}}
	cfg.Agents = []Agent{
		{ID: "a1", SIPUser: "a1", Password: "x", Skills: map[string]int{"burgdorf": 5}},
		{ID: "a2", SIPUser: "a2", Password: "x", Skills: map[string]int{"burgdorf": 5}},
		{ID: "junior", SIPUser: "junior", Password: "x", Skills: map[string]int{"lehrte": 2}},
	}
	cfg.Queue.Wrapup = 50 * time.Millisecond
	cfg.Queue.NoAnswerRest = time.Hour
	cfg.Queue.MaxNoAnswers = 2
	cfg.Queues = map[string]QueueSettings{"lehrte": {Escalation: []EscalationStep{{After: 300 * time.Millisecond, MinLevel: 1}}}}
	cfg.DrainTime = 200 * time.Millisecond
	cfg.Hours = AlwaysOpen()
	cfg.APIToken = "secret"
	return cfg
}

func testEngine(t *testing.T, edits ...func(*Config)) (*Engine, *fakeDialer, *sink) {
	t.Helper()
	return testEngineDeps(t, nil, edits...)
}

// testEngineDeps is testEngine with a change to the engine's collaborators
// (e.g. a fake CPU clock) before it runs.
func testEngineDeps(t *testing.T, deps func(*Deps), edits ...func(*Config)) (*Engine, *fakeDialer, *sink) {
	t.Helper()
	st, err := queue.Open(context.Background(), queue.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	cfg := testConfigACD()
	for _, edit := range edits {
		edit(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	d := &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8), outLegs: make(chan *fakeAgentLeg, 8)}
	s := &sink{got: make(chan cdr.Record, 8)}
	dp := Deps{Instance: "t", Store: st, Dialer: d, CDRs: s, Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.Nop()}
	if deps != nil {
		deps(&dp)
	}
	e := NewEngine(cfg, dp)
	ctx, cancel := context.WithCancel(context.Background())
	e.Prepare(ctx)
	go e.Run(ctx)
	t.Cleanup(cancel)
	return e, d, s
}

func waitRec(t *testing.T, s *sink) cdr.Record {
	t.Helper()
	select {
	case r := <-s.got:
		return r
	case <-time.After(20 * time.Second):
		t.Fatal("no CDR")
		return cdr.Record{}
	}
}

func TestDeclinedOfferGoesToNextAgentAndKeepsPlace(t *testing.T) {
	e, d, s := testEngine(t)
	d.decline["a1"] = true
	e.AgentRegistered("a1") // longest idle: offered first
	time.Sleep(5 * time.Millisecond)
	e.AgentRegistered("a2")
	leg := newFakeLeg("call-1", "05136115")
	go e.HandleCall(leg)
	var al *fakeAgentLeg
	select {
	case al = <-d.legs:
	case <-time.After(5 * time.Second):
		t.Fatal("call never connected")
	}
	waitAgentState(t, e, "a2", AgentOnCall)
	if got := e.AgentStates(); got["a1"] != AgentPaused {
		t.Errorf("agent states %v, want a1 paused (resting after declining)", got)
	}
	al.Hangup() // the agent hangs up
	<-leg.hungUp
	r := waitRec(t, s)
	if r.Disposition != cdr.Answered || r.Agent != "a2" || r.Municipality != "burgdorf" || r.WrapupMS < 50 {
		t.Errorf("cdr %+v", r)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.offers) != 2 || d.offers[0] != "a1:call-1" || d.offers[1] != "a2:call-1" {
		t.Errorf("offers %v, want a1 then a2", d.offers)
	}
	waitAgentState(t, e, "a2", AgentAvailable)
}

func TestUnknownNumberAndDraining(t *testing.T) {
	e, _, s := testEngine(t)
	leg := newFakeLeg("c-unknown", "+4940115")
	e.HandleCall(leg)
	if code := <-leg.rejected; code != 404 {
		t.Errorf("unknown number: %d, want 404", code)
	}
	if r := waitRec(t, s); r.Disposition != cdr.RejectedUnknown {
		t.Errorf("cdr %+v, want rejected", r)
	}

	// A call waits; draining refuses new calls with 503 and, after the
	// drain time, cuts the waiting call with an interrupted CDR.
	waiting := newFakeLeg("c-wait", "+495136115")
	go e.HandleCall(waiting)
	waitCallState(t, e, "c-wait", StateQueued)
	done := make(chan struct{})
	go func() { e.Drain(context.Background()); close(done) }()
	for deadline := time.Now().Add(20 * time.Second); !e.Draining(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the engine never started draining")
		}
	}
	late := newFakeLeg("c-late", "+495136115")
	e.HandleCall(late)
	if code := <-late.rejected; code != 503 {
		t.Errorf("while draining: %d, want 503", code)
	}
	<-done
	recs := map[string]cdr.Disposition{}
	for i := 0; i < 2; i++ {
		r := waitRec(t, s)
		recs[r.CallID] = r.Disposition
	}
	if recs["c-late"] != cdr.RejectedBusy || recs["c-wait"] != cdr.Interrupted {
		t.Errorf("dispositions %v, want c-late rejected, c-wait interrupted", recs)
	}
}

func TestAbandonWhileWaiting(t *testing.T) {
	e, _, s := testEngine(t)
	leg := newFakeLeg("c-ab", "+495136115")
	go e.HandleCall(leg)
	waitCallState(t, e, "c-ab", StateQueued)
	time.Sleep(100 * time.Millisecond) // it waits at least this long
	leg.end()                          // caller hangs up
	r := waitRec(t, s)
	if r.Disposition != cdr.Abandoned || r.WaitMS < 100 || r.Caller != "+495136123xxx" {
		t.Errorf("cdr %+v, want abandoned after ≥100 ms, caller shortened", r)
	}
	// A later agent does not get the abandoned call.
	e.AgentRegistered("a1")
	waitAgentState(t, e, "a1", AgentAvailable)
}

// waitAgentState waits until the agent reaches state (transitions happen
// on the call's goroutine, after the fakes return).
func waitAgentState(t *testing.T, e *Engine, agent string, want AgentState) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for e.AgentStates()[agent] != want {
		if time.Now().After(deadline) {
			t.Fatalf("agent %s is %s, want %s", agent, e.AgentStates()[agent], want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// callState is the state of a call this engine owns ("" once it ended).
func callState(e *Engine, id string) CallState {
	if v, ok := e.calls.Load(id); ok {
		return v.(*call).stateNow()
	}
	return ""
}

// waitCallState waits until the call reaches state: a test waits for the
// event, never for an assumed speed.
func waitCallState(t *testing.T, e *Engine, id string, want CallState) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for callState(e, id) != want {
		if time.Now().After(deadline) {
			t.Fatalf("call %s is %q, want %q", id, callState(e, id), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCallSettled waits until a new call is past routing: waiting,
// overflowing, talking, or already ended.
func waitCallSettled(t *testing.T, e *Engine, l *fakeLeg) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		switch callState(e, l.id) {
		case StateQueued, StateOffering, StateOverflowing, StateConnected:
			return
		}
		select {
		case <-l.ended:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("call %s is still %q", l.id, callState(e, l.id))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// busyCPU is a process CPU clock that runs nine times as fast as the wall
// clock once on is set: the engine's sampler then measures 900 %.
type busyCPU struct {
	mu    sync.Mutex
	on    bool
	at    time.Time
	spent time.Duration
}

func (b *busyCPU) set(on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	b.on = on
}

func (b *busyCPU) advance() {
	now := time.Now()
	if b.on {
		b.spent += 9 * now.Sub(b.at)
	}
	b.at = now
}

func (b *busyCPU) used() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.advance()
	return b.spent
}

func (d *fakeDialer) forwardList() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.forwards...)
}
