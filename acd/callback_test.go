package acd

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// withCallbacks turns virtual hold on, offered whatever the wait, with
// short retries for the test.
func withCallbacks(c *Config) {
	c.Callback = Callback{Enabled: true, OfferAlways: true, Tries: 2, RetryAfter: 300 * time.Millisecond,
		RingTimeout: 5 * time.Second, KeyTimeout: 3 * time.Second, CrisisPause: 300 * time.Millisecond}
}

// press sends the caller's keys.
func press(l *fakeLeg, keys string) {
	for _, k := range keys {
		l.keys <- k
	}
}

// heard is what the caller heard in full, without the test's empty
// greeting.
func heard(l *fakeLeg) []string {
	return slices.DeleteFunc(l.played(), func(p string) bool { return p == "" })
}

// waitHungUp waits until sc115 hung up the caller's leg.
func waitHungUp(t *testing.T, l *fakeLeg) {
	t.Helper()
	select {
	case <-l.hungUp:
	case <-time.After(20 * time.Second):
		t.Fatalf("call %s: sc115 did not hang up", l.id)
	}
}

// bookCallback has a waiting caller press 1 and confirm its own number;
// it returns when sc115 hung up.
func bookCallback(t *testing.T, e *Engine, l *fakeLeg) {
	t.Helper()
	go e.HandleCall(l)
	waitCallState(t, e, l.id, StateQueued)
	press(l, "11") // the offer; then confirm the number read back
	waitHungUp(t, l)
}

// waitFor polls cond until it holds (a generous deadline).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCallbackKeepsThePlace (issue 16, virtual hold): a caller presses 1,
// hears its number read back digit by digit, confirms and is hung up; no
// CDR yet. A caller who arrived later waits behind it. The first agent
// who becomes free is rung for the callback first — "Rückruf Burgdorf,
// wartet seit 0 min" with the number — and only after it answered is the
// citizen dialed through the trunk; the later caller comes next. The CDR
// is the original call's id, answered, with the callback's times.
func TestCallbackKeepsThePlace(t *testing.T) {
	e, d, s := testEngine(t, withCallbacks)
	first := newFakeLeg("first", "+495136115")
	first.keys = make(chan rune, 8)
	bookCallback(t, e, first)
	want := []string{promptCallbackNumber, promptDigitZero, "num-5.wav", "num-1.wav", "num-3.wav", "num-6.wav",
		"num-1.wav", "num-2.wav", "num-3.wav", "num-4.wav", "num-5.wav", "num-6.wav", promptCallbackConfirm, promptCallbackThanks}
	if got := heard(first); !slices.Equal(got, want) {
		t.Fatalf("the caller heard %v, want %v", got, want)
	}
	select {
	case r := <-s.got:
		t.Fatalf("a CDR before the callback ran: %+v", r)
	default:
	}
	cbs, err := e.Callbacks(context.Background())
	if err != nil || len(cbs) != 1 || cbs[0].CallID != "first" || cbs[0].State != "waiting" || cbs[0].Number != "" {
		t.Fatalf("callbacks %+v, %v: want first, waiting, no number shown", cbs, err)
	}

	second := newFakeLeg("second", "+495136115")
	go e.HandleCall(second)
	waitCallState(t, e, "second", StateQueued)

	e.AgentRegistered("a1")
	agent := connect(t, d)
	citizen := <-d.outLegs
	waitCallState(t, e, "first", StateConnected)
	ev := d.eventsSoFar()
	if len(ev) != 2 || ev[0] != "offer a1 Rückruf Burgdorf, wartet seit 0 min 05136123456" || ev[1] != "callout 05136123456" {
		t.Fatalf("dialer did %q, want the agent rung for the callback first, then the citizen", ev)
	}
	if st := callState(e, "second"); st != StateQueued {
		t.Fatalf("the later caller is %q, want still queued behind the callback", st)
	}
	time.Sleep(20 * time.Millisecond) // some talk
	citizen.Hangup()
	r := waitRec(t, s)
	if r.CallID != "first" || r.Disposition != cdr.Answered || r.Agent != "a1" || r.CallbackAttempts != 1 ||
		r.CallbackRequestedAt.IsZero() || r.CallbackAnsweredAt.IsZero() || r.HangupBy != "caller" {
		t.Fatalf("callback CDR %+v", r)
	}
	if r.AnsweredAt.After(r.CallbackAnsweredAt) || r.CallbackRequestedAt.Before(r.ArrivedAt) || r.TalkMS <= 0 || r.WrapupMS <= 0 {
		t.Fatalf("callback CDR times: arrived %v requested %v agent %v citizen %v talk %d wrap-up %d",
			r.ArrivedAt, r.CallbackRequestedAt, r.AnsweredAt, r.CallbackAnsweredAt, r.TalkMS, r.WrapupMS)
	}
	if r.WaitMS != r.AnsweredAt.Sub(r.ArrivedAt).Milliseconds() {
		t.Fatalf("wait %d ms, want arrival to the agent's answer", r.WaitMS)
	}
	_ = agent
	next := connect(t, d) // after wrap-up: the later caller
	waitCallState(t, e, "second", StateConnected)
	next.Hangup()
	waitRec(t, s)
	if cbs, _ := e.Callbacks(context.Background()); len(cbs) != 0 {
		t.Fatalf("callbacks left after it was answered: %+v", cbs)
	}
}

// TestCallbackRetriesThenFails: the citizen's line is busy; the agent is
// free again at once, the callback is parked for retry_after and tried
// again, and after the last try it fails: a callback_failed CDR, and the
// ticket with its number stays for the supervisors until dismissed.
func TestCallbackRetriesThenFails(t *testing.T) {
	e, d, s := testEngine(t, withCallbacks)
	d.outFail = 486
	l := newFakeLeg("c1", "+495136115")
	l.keys = make(chan rune, 8)
	bookCallback(t, e, l)
	e.AgentRegistered("a1")
	for i := 0; i < 2; i++ {
		a := connect(t, d)
		<-a.Ended() // sc115 hangs up the agent: the citizen was not reached
	}
	r := waitRec(t, s)
	if r.CallID != "c1" || r.Disposition != cdr.CallbackFailed || r.CallbackAttempts != 2 || !r.CallbackAnsweredAt.IsZero() {
		t.Fatalf("failed callback CDR %+v", r)
	}
	if got := d.eventsSoFar(); len(got) != 4 || got[1] != "callout 05136123456" || got[3] != "callout 05136123456" {
		t.Fatalf("dialer did %q, want offer, call out, twice", got)
	}
	waitAgentState(t, e, "a1", AgentAvailable)
	cbs, err := e.Callbacks(context.Background())
	if err != nil || len(cbs) != 1 || cbs[0].State != "failed" || cbs[0].Number != "05136123456" || cbs[0].Attempts != 2 || cbs[0].FailedAt == nil {
		t.Fatalf("callbacks %+v, %v: want the failed one with its number", cbs, err)
	}
	if err := e.DismissCallback(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	if err := e.DismissCallback(context.Background(), "c1"); err == nil {
		t.Fatal("dismissed twice")
	}
	if cbs, _ := e.Callbacks(context.Background()); len(cbs) != 0 {
		t.Fatalf("callbacks after dismiss: %+v", cbs)
	}
}

// TestCallbackAgentNoAnswerKeepsThePlace: an agent who lets the callback
// ring out is rested; the callback stays first and goes to the next
// agent; no try of the citizen is counted for it.
func TestCallbackAgentNoAnswerKeepsThePlace(t *testing.T) {
	e, d, s := testEngine(t, withCallbacks)
	d.decline["a1"] = true
	l := newFakeLeg("c1", "+495136115")
	l.keys = make(chan rune, 8)
	bookCallback(t, e, l)
	later := newFakeLeg("later", "+495136115")
	go e.HandleCall(later)
	waitCallState(t, e, "later", StateQueued)
	e.AgentRegistered("a1")
	waitFor(t, "a1's offer", func() bool { return len(offersSoFar(d)) >= 1 })
	e.AgentRegistered("a2")
	a := connect(t, d)
	citizen := <-d.outLegs
	if o := offersSoFar(d); len(o) != 2 || o[0] != "a1:c1" || o[1] != "a2:c1" {
		t.Fatalf("offers %v, want the callback to a1, then to a2", o)
	}
	citizen.Hangup()
	r := waitRec(t, s)
	if r.CallID != "c1" || r.Agent != "a2" || r.CallbackAttempts != 1 || r.Attempts != 2 {
		t.Fatalf("CDR %+v: want a2, one try of the citizen, two offers", r)
	}
	_ = a
	later.end()
}

// TestCallbackDialogAsksAWithheldCaller: a withheld number is never
// called back without asking: the caller types one (# ends it), a premium
// rate number is refused, "2" asks again, and the confirmed number is the
// one dialed.
func TestCallbackDialogAsksAWithheldCaller(t *testing.T) {
	e, d, _ := testEngine(t, withCallbacks)
	l := newFakeLeg("anon", "+495136115")
	l.withheld = true
	l.keys = make(chan rune, 64)
	go e.HandleCall(l)
	waitCallState(t, e, "anon", StateQueued)
	press(l, "1"+"09001234#") // premium: refused
	press(l, "0511123#"+"2")  // read back, then "another number"
	press(l, "05113005#"+"1") // read back, confirmed
	waitHungUp(t, l)
	got := strings.Join(heard(l), " ")
	want := strings.Join([]string{promptCallbackEnter, promptMenuInvalid, promptCallbackEnter,
		promptCallbackNumber, "num-0.wav num-5.wav num-1.wav num-1.wav num-1.wav num-2.wav num-3.wav", promptCallbackConfirm,
		promptCallbackEnter, promptCallbackNumber, "num-0.wav num-5.wav num-1.wav num-1.wav num-3.wav num-0.wav num-0.wav num-5.wav",
		promptCallbackConfirm, promptCallbackThanks}, " ")
	if got != want {
		t.Fatalf("the caller heard\n%s\nwant\n%s", got, want)
	}
	e.AgentRegistered("a1")
	a := connect(t, d)
	<-d.outLegs
	if ev := d.eventsSoFar(); len(ev) != 2 || ev[1] != "callout 05113005" {
		t.Fatalf("dialer did %q, want the typed number dialed", ev)
	}
	a.Hangup()
}

// TestCallbackNotDialedInCrisis: while the municipality is in crisis
// mode a callback whose turn came is parked (crisis_pause) and the agent
// is free for the live lines; once the crisis is over it is dialed.
func TestCallbackNotDialedInCrisis(t *testing.T) {
	e, d, s := testEngine(t, withCallbacks)
	l := newFakeLeg("c1", "+495136115")
	l.keys = make(chan rune, 8)
	bookCallback(t, e, l)
	ctx := context.Background()
	if err := e.SetCrisis(ctx, "burgdorf", true, "test"); err != nil {
		t.Fatal(err)
	}
	e.AgentRegistered("a1")
	waitFor(t, "the callback parked for the crisis", func() bool {
		cbs, _ := e.Callbacks(ctx)
		return len(cbs) == 1 && cbs[0].State == "parked" && cbs[0].ParkedFor == "crisis"
	})
	if o := offersSoFar(d); len(o) != 0 {
		t.Fatalf("offered in crisis mode: %v", o)
	}
	if err := e.SetCrisis(ctx, "burgdorf", false, "test"); err != nil {
		t.Fatal(err)
	}
	a := connect(t, d)
	citizen := <-d.outLegs
	citizen.Hangup()
	if r := waitRec(t, s); r.CallID != "c1" || r.Disposition != cdr.Answered {
		t.Fatalf("CDR %+v", r)
	}
	_ = a
}

// TestCallbackWaitsForOpening: a callback whose turn comes after closing
// time is not dialed; it is parked until the municipality opens.
func TestCallbackWaitsForOpening(t *testing.T) {
	var clock fakeClock
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clock.set(time.Date(2026, 12, 7, 17, 59, 0, 0, berlin)) // a Monday, open until 18:00
	e, d, _ := testEngineDeps(t, func(dp *Deps) { dp.Now = clock.now }, withCallbacks,
		func(c *Config) { c.Hours = DefaultHours() })
	l := newFakeLeg("c1", "+495136115")
	l.keys = make(chan rune, 8)
	bookCallback(t, e, l)
	clock.set(time.Date(2026, 12, 7, 18, 30, 0, 0, berlin)) // closed now
	e.AgentRegistered("a1")
	var cb CallbackTicket
	waitFor(t, "the callback parked until opening", func() bool {
		cbs, _ := e.Callbacks(context.Background())
		if len(cbs) == 1 {
			cb = cbs[0]
		}
		return len(cbs) == 1 && cb.State == "parked"
	})
	opens := time.Date(2026, 12, 8, 8, 0, 0, 0, berlin)
	if cb.ParkedFor != "closed" || cb.Due == nil || !cb.Due.Equal(opens) {
		t.Fatalf("parked %+v, want closed until %v", cb, opens)
	}
	if o := offersSoFar(d); len(o) != 0 {
		t.Fatalf("offered while closed: %v", o)
	}
	waitAgentState(t, e, "a1", AgentAvailable)
}

// TestMenuCallbackOption: a menu key with callback: true takes the caller
// straight into the callback dialog, at its place in the queue.
func TestMenuCallbackOption(t *testing.T) {
	e, _, _ := testEngine(t, withCallbacks, func(c *Config) {
		c.Municipalities[0].Menu = &Menu{Prompt: "menu-burgdorf.wav", Options: map[string]MenuOption{
			"2": {Queue: "burgdorf"}, "9": {Callback: true}}}
		// A long estimated wait is no condition here: the caller chose it.
		c.Callback.OfferAlways = false
	})
	l := newFakeLeg("c1", "+495136115")
	l.keys = make(chan rune, 8)
	go e.HandleCall(l)
	press(l, "91")
	waitHungUp(t, l)
	if p := heard(l); len(p) < 3 || p[0] != "menu-burgdorf.wav" || p[1] != promptCallbackNumber || p[len(p)-1] != promptCallbackThanks {
		t.Fatalf("the caller heard %v", p)
	}
	cbs, err := e.Callbacks(context.Background())
	if err != nil || len(cbs) != 1 || cbs[0].CallID != "c1" {
		t.Fatalf("callbacks %+v, %v", cbs, err)
	}
}

// TestCallbackConfigIsChecked: the menu option needs callbacks on; bad
// values name their field.
func TestCallbackConfigIsChecked(t *testing.T) {
	cfg := testConfigACD()
	cfg.Municipalities[0].Menu = &Menu{Prompt: "menu-burgdorf.wav", Options: map[string]MenuOption{"9": {Callback: true}}}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "menu.options.9.callback") {
		t.Fatalf("got %v, want the option's field named", err)
	}
	cfg = testConfigACD()
	cfg.Callback = Callback{Enabled: true, Tries: 11}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "acd.callback.tries") {
		t.Fatalf("got %v, want acd.callback.tries", err)
	}
}

// TestCallbackNumbers: which numbers are called back, and how they are
// read.
func TestCallbackNumbers(t *testing.T) {
	for n, ok := range map[string]bool{"05136123456": true, "015112345678": true, "0800123456": true,
		"09001234567": false, "0137123456": false, "0180512345": false, "0049511123": false, "110": false, "051": false, "0511abc123": false} {
		if callbackNumberAllowed(n) != ok {
			t.Errorf("callbackNumberAllowed(%q) = %v, want %v", n, !ok, ok)
		}
	}
	for in, want := range map[string]string{"+495136123456": "05136123456", "+43123456": "0043123456", "05136": "05136"} {
		if got := nationalNumber(in, "49"); got != want {
			t.Errorf("nationalNumber(%q) = %q, want %q", in, got, want)
		}
	}
}

// fakeClock is a settable engine clock (Deps.Now), safe across goroutines.
type fakeClock struct{ ms atomic.Int64 }

func (c *fakeClock) set(t time.Time) { c.ms.Store(t.UnixMilli()) }
func (c *fakeClock) now() time.Time  { return time.UnixMilli(c.ms.Load()) }

// TestTicketIsBookedDueAndRun (issue 16, callback tickets): an agent
// books a ticket on Friday 17:00; it is due after 24 hours of service time
// (Mon–Fri 08–18: Wednesday 11:00), open and then overdue in the service
// level view; an agent of the tickets' queue is rung for it ("Ticket
// Burgdorf: Wohngeld, fällig …"), then the citizen; the CDR is the
// ticket's, in the tickets' queue, and it stays out of the service level.
func TestTicketIsBookedDueAndRun(t *testing.T) {
	var clock fakeClock
	berlin, _ := time.LoadLocation("Europe/Berlin")
	clock.set(time.Date(2026, 12, 4, 17, 0, 0, 0, berlin)) // a Friday
	e, d, s := testEngineDeps(t, func(dp *Deps) { dp.Now = clock.now }, withCallbacks, func(c *Config) {
		c.Hours = DefaultHours()
		c.Tickets = Tickets{Queue: "rueckruf"}
		c.Agents[0].Skills["rueckruf"] = 5
	})
	ctx := context.Background()
	if _, err := e.CreateTicket(ctx, "a2", TicketRequest{Municipality: "burgdorf", Number: "0900 123456", Topic: "Wohngeld"}); err == nil {
		t.Fatal("a premium-rate number was booked")
	}
	tk, err := e.CreateTicket(ctx, "a2", TicketRequest{Municipality: "burgdorf", Number: "+49 5136 987654", Topic: "Wohngeld"})
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 9, 11, 0, 0, 0, berlin); !tk.Due.Equal(want) {
		t.Fatalf("due %v, want %v (24 service hours after Friday 17:00)", tk.Due.In(berlin), want)
	}
	tickets := func() (int64, int64) {
		for _, l := range e.ServiceLevels(ctx) {
			if l.Municipality == "burgdorf" {
				return l.TicketsOpen, l.TicketsOverdue
			}
		}
		return -1, -1
	}
	if o, late := tickets(); o != 1 || late != 0 {
		t.Fatalf("tickets open %d overdue %d, want 1, 0", o, late)
	}
	clock.set(time.Date(2026, 12, 9, 12, 0, 0, 0, berlin))
	if o, late := tickets(); o != 1 || late != 1 {
		t.Fatalf("after its due time: tickets open %d overdue %d, want 1, 1", o, late)
	}
	e.AgentRegistered("a1")
	connect(t, d)
	citizen := <-d.outLegs
	if ev := d.eventsSoFar(); len(ev) != 2 || ev[0] != "offer a1 Ticket Burgdorf: Wohngeld, fällig 09.12. 11:00 05136987654" || ev[1] != "callout 05136987654" {
		t.Fatalf("dialer did %q", ev)
	}
	citizen.Hangup()
	r := waitRec(t, s)
	if r.CallID != tk.ID || !strings.HasPrefix(r.CallID, "ticket-") || r.Disposition != cdr.Answered || r.Queue != "rueckruf" || r.Agent != "a1" {
		t.Fatalf("ticket CDR %+v", r)
	}
	waitFor(t, "the ticket closed", func() bool { o, late := tickets(); return o == 0 && late == 0 })
	for _, l := range e.ServiceLevels(ctx) {
		if l.Offered != 0 {
			t.Fatalf("a ticket counted in the service level: %+v", l)
		}
	}
}

// TestCallbacksInFlightNeverExceedReservedAgents: three callbacks wait and
// two agents are free; while the citizens' phones ring (their answers
// held back), exactly two are dialed — one per reserved agent — and the
// third waits at its place until an agent is free again.
func TestCallbacksInFlightNeverExceedReservedAgents(t *testing.T) {
	e, d, s := testEngine(t, withCallbacks)
	d.outGate = make(chan struct{})
	for _, id := range []string{"cb-1", "cb-2", "cb-3"} {
		l := newFakeLeg(id, "+495136115")
		l.keys = make(chan rune, 8)
		bookCallback(t, e, l)
	}
	e.AgentRegistered("a1")
	e.AgentRegistered("a2")
	dialed := func() int {
		n := 0
		for _, ev := range d.eventsSoFar() {
			if strings.HasPrefix(ev, "callout ") {
				n++
			}
		}
		return n
	}
	waitFor(t, "two citizens dialed", func() bool { return dialed() == 2 })
	time.Sleep(300 * time.Millisecond) // a bounded look: a slow machine can only make this pass
	if n := dialed(); n != 2 {
		t.Fatalf("%d callbacks dialed with two agents", n)
	}
	cbs, _ := e.Callbacks(context.Background())
	states := map[string]string{}
	for _, c := range cbs {
		states[c.CallID] = c.State
	}
	if states["cb-1"] != "running" || states["cb-2"] != "running" || states["cb-3"] != "waiting" {
		t.Fatalf("callback states %v, want the first two running, the third waiting", states)
	}
	close(d.outGate) // the citizens answer
	for i := 0; i < 3; i++ {
		(<-d.outLegs).Hangup()
		if r := waitRec(t, s); r.Disposition != cdr.Answered {
			t.Fatalf("CDR %+v", r)
		}
	}
}

// TestTicketFromACallbackNotYetAnswered: an agent rung for a callback
// (the citizen not dialed yet) who books a ticket from its console with
// the callback's call id gets a clear error, not the citizen's number by
// a leg that does not exist yet, and nothing panics.
func TestTicketFromACallbackNotYetAnswered(t *testing.T) {
	e, d, _ := testEngine(t, withCallbacks, func(c *Config) {
		c.Tickets = Tickets{Queue: "rueckruf"}
		c.Agents[0].Skills["rueckruf"] = 5
	})
	d.outGate = make(chan struct{}) // the citizen's phone rings and rings
	l := newFakeLeg("cb", "+495136115")
	l.keys = make(chan rune, 8)
	bookCallback(t, e, l)
	e.AgentRegistered("a1")
	connect(t, d)
	waitFor(t, "the citizen dialed", func() bool { return len(d.eventsSoFar()) == 2 })
	if _, err := e.CreateTicket(context.Background(), "a1", TicketRequest{Municipality: "burgdorf", CallID: "cb", Topic: "x"}); err == nil {
		t.Fatal("a ticket booked without a number")
	}
	close(d.outGate)
}
