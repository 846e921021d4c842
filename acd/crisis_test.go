package acd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// TestCrisisModeSwitchedWhileCallsWait: three calls wait for Burgdorf;
// crisis mode goes on (audited), two crisis calls arrive and are served
// first (higher priority, FIFO among them); crisis mode goes off and a last
// call queues behind the older ones. Every call is offered once and ends
// with one CDR; nobody is lost or reordered within a priority.
func TestCrisisModeSwitchedWhileCallsWait(t *testing.T) {
	e, d, s := testEngine(t)
	d.legs = make(chan *fakeAgentLeg, 16)
	var legs []*fakeLeg
	call := func(id string) {
		l := newFakeLeg(id, "+495136115")
		legs = append(legs, l)
		go e.HandleCall(l)
		waitCallSettled(t, e, l) // arrivals in this order
	}
	for i := 1; i <= 3; i++ {
		call(fmt.Sprintf("normal-%d", i))
	}
	if err := e.SetCrisis(context.Background(), "burgdorf", true, "Lagezentrum Müller"); err != nil {
		t.Fatal(err)
	}
	call("crisis-1")
	call("crisis-2")
	if err := e.SetCrisis(context.Background(), "burgdorf", false, "Lagezentrum Müller"); err != nil {
		t.Fatal(err)
	}
	call("normal-4")
	if err := e.SetCrisis(context.Background(), "nowhere", true, "x"); err == nil {
		t.Error("crisis for an unknown municipality accepted")
	}

	e.AgentRegistered("a1") // one agent serves them one by one
	want := []string{"crisis-1", "crisis-2", "normal-1", "normal-2", "normal-3", "normal-4"}
	for range want {
		l := connect(t, d)
		l.Hangup() // short call; wrap-up 50 ms
	}
	d.mu.Lock()
	got := append([]string(nil), d.offers...)
	d.mu.Unlock()
	for i, w := range want {
		if i >= len(got) || got[i] != "a1:"+w {
			t.Fatalf("offers %v, want a1 in order %v", got, want)
		}
	}
	for range want {
		if r := waitRec(t, s); r.Disposition != cdr.Answered {
			t.Errorf("cdr %+v", r)
		}
	}
	// The service level counts a call right after its CDR is written.
	var got6 ServiceLevel
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, x := range e.ServiceLevels(context.Background()) {
			if x.Municipality == "burgdorf" {
				got6 = x
			}
		}
		if got6.Offered == 6 {
			break
		}
	}
	if got6.Offered != 6 || got6.Answered != 6 || got6.Crisis {
		t.Errorf("service level %+v", got6)
	}
}

// TestClosedOutsideHours: outside opening hours the caller hears the
// closed announcement and the CDR says rejected_closed.
func TestClosedOutsideHours(t *testing.T) {
	e, _, s := testEngine(t)
	closed, _ := compileHours(Hours{Holidays: "none"}, "") // no weekday open
	e.hours["burgdorf"] = closed
	leg := newFakeLeg("c-closed", "+495136115")
	e.HandleCall(leg)
	if r := waitRec(t, s); r.Disposition != cdr.RejectedClosed || r.HangupBy != "system" {
		t.Errorf("cdr %+v, want rejected_closed", r)
	}
	// In crisis mode the crisis hours apply (default: always open).
	_ = e.SetCrisis(context.Background(), "burgdorf", true, "test")
	leg2 := newFakeLeg("c-crisis-night", "+495136115")
	go e.HandleCall(leg2)
	waitCallSettled(t, e, leg2)
	leg2.end()
	if r := waitRec(t, s); r.Disposition == cdr.RejectedClosed {
		t.Errorf("crisis call at night was closed: %+v", r)
	}
}

// TestCrisisHotlineAndExtraSkills: a crisis hotline routes only in crisis
// mode, and crisis calls may go to agents of the added skills.
func TestCrisisHotlineAndExtraSkills(t *testing.T) {
	e, d, s := testEngine(t)
	for i := range e.cfg.Municipalities {
		if e.cfg.Municipalities[i].Key == "burgdorf" {
			e.cfg.Municipalities[i].Crisis.Numbers = []string{"+495136999"}
			e.cfg.Municipalities[i].Crisis.AddSkills = []string{"lehrte"}
		}
	}
	e.router = NewRouter(&e.cfg)
	off := newFakeLeg("hotline-off", "+495136999")
	e.HandleCall(off)
	if code := <-off.rejected; code != 404 {
		t.Errorf("hotline outside crisis: %d, want 404", code)
	}
	waitRec(t, s)
	_ = e.SetCrisis(context.Background(), "burgdorf", true, "test")
	e.AgentRegistered("junior") // lehrte only
	on := newFakeLeg("hotline-on", "+495136999")
	go e.HandleCall(on)
	l := connect(t, d)
	if got := d.offers[len(d.offers)-1]; got != "junior:hotline-on" {
		t.Errorf("offer %s, want the lehrte agent (crisis add_skills)", got)
	}
	l.Hangup()
	if r := waitRec(t, s); r.Disposition != cdr.Answered || r.Municipality != "burgdorf" {
		t.Errorf("cdr %+v", r)
	}
}

func TestServiceLevelFormulaAndQueues(t *testing.T) {
	e, _, s := testEngine(t)
	rec := func(d cdr.Disposition, wait int64) {
		r := cdr.Record{Municipality: "burgdorf", Queue: "burgdorf", Disposition: d, WaitMS: wait}
		e.record(&r)
	}
	rec(cdr.Answered, 10_000)
	rec(cdr.Answered, 45_000)
	rec(cdr.AbandonedShort, 2_000)
	rec(cdr.Abandoned, 60_000)
	_ = s
	find := func(muni, q string) ServiceLevel {
		for _, x := range e.ServiceLevels(context.Background()) {
			if x.Municipality == muni && x.Queue == q {
				return x
			}
		}
		t.Fatalf("no service level for %q/%q", muni, q)
		return ServiceLevel{}
	}
	// 1 of 2 answered within 30 s; offered 4 − 1 short abandon = 3 → 1/3.
	if sl := find("burgdorf", ""); sl.Offered != 4 || sl.AnsweredInSL != 1 || sl.Level < 0.333 || sl.Level > 0.334 || sl.Reachability != 2.0/3 {
		t.Errorf("municipality %+v", sl)
	}
	if sl := find("", "burgdorf"); sl.Offered != 4 {
		t.Errorf("queue %+v", sl)
	}
	e.cfg.ServiceLevelFormula = "offered"
	if sl := find("burgdorf", ""); sl.Level != 0.25 {
		t.Errorf("formula offered: %v, want 1/4", sl.Level)
	}
}

func TestUnknownOriginRoutes(t *testing.T) {
	e, _, s := testEngine(t, func(c *Config) { c.UnknownOrigin = "announce" })
	leg := newFakeLeg("c-unknown-ann", "+4940115")
	e.HandleCall(leg)
	select {
	case <-leg.hungUp:
	default:
		t.Error("announce: the call was not answered and hung up")
	}
	if r := waitRec(t, s); r.Disposition != cdr.RejectedUnknown {
		t.Errorf("cdr %+v", r)
	}
	e2, _, s2 := testEngine(t, func(c *Config) { c.UnknownOrigin = "burgdorf" })
	leg2 := newFakeLeg("c-unknown-route", "+4940115")
	go e2.HandleCall(leg2)
	waitCallSettled(t, e2, leg2)
	leg2.end()
	if r := waitRec(t, s2); r.Municipality != "burgdorf" || r.Disposition != cdr.Abandoned {
		t.Errorf("cdr %+v, want the call queued for burgdorf (then abandoned)", r)
	}
	if _, _, err := func() (*Engine, int, error) {
		c := testConfigACD()
		c.UnknownOrigin = "atlantis"
		return nil, 0, c.Validate()
	}(); err == nil {
		t.Error("unknown_origin atlantis accepted")
	}
}
