package acd

import (
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

func withOverflow(e *Engine, o OverflowRules) {
	e.fed = newFederation([]FederationTarget{{Name: "nord", URI: "sip:115@127.0.0.1:5071"}, {Name: "sued", URI: "sip:115@127.0.0.1:5072", MaxCalls: 1}})
	for i := range e.cfg.Municipalities {
		if e.cfg.Municipalities[i].Key == "burgdorf" {
			e.cfg.Municipalities[i].Overflow = &o
			e.router = NewRouter(&e.cfg)
		}
	}
}

// TestOverflowNoAgents: nobody is logged in for Burgdorf: the call goes to
// the federation at once; the first target refuses, the second answers;
// the CDR says overflowed and where.
func TestOverflowNoAgents(t *testing.T) {
	e, d, s := testEngine(t)
	withOverflow(e, OverflowRules{NoAgents: true, OnFailure: "queue"})
	d.forwardOK = true
	d.failFirst = true
	leg := newFakeLeg("c-ov", "+495136115")
	go e.HandleCall(leg)
	waitCallState(t, e, "c-ov", StateConnected)
	leg.end()
	r := waitRec(t, s)
	if r.Disposition != cdr.Overflowed || r.OverflowTarget != "sued" || r.HangupBy != "caller" {
		t.Errorf("cdr %+v, want overflowed to sued", r)
	}
	if got := d.forwardList(); len(got) != 2 || got[0] != "sip:115@127.0.0.1:5071" {
		t.Errorf("forwards %v, want nord then sued", got)
	}
}

// TestOverflowNoAgentsWhenAllPaused: "no agents" means nobody logged in
// who is not paused. Burgdorf's only logged-in agent is on a break: the
// call overflows at once. Once the agent is ready again, the next call
// stays here and is answered.
func TestOverflowNoAgentsWhenAllPaused(t *testing.T) {
	e, d, s := testEngine(t)
	withOverflow(e, OverflowRules{NoAgents: true, OnFailure: "queue"})
	d.forwardOK = true
	_ = e.Login("a1")
	if err := e.Pause("a1", "break"); err != nil {
		t.Fatal(err)
	}
	leg := newFakeLeg("c-paused", "+495136115")
	go e.HandleCall(leg)
	waitCallState(t, e, "c-paused", StateConnected)
	leg.end()
	if r := waitRec(t, s); r.Disposition != cdr.Overflowed {
		t.Errorf("cdr %+v, want overflowed (the only agent is paused)", r)
	}
	if err := e.Ready("a1"); err != nil {
		t.Fatal(err)
	}
	waitAgentState(t, e, "a1", AgentAvailable)
	here := newFakeLeg("c-staffed", "+495136115")
	go e.HandleCall(here)
	connect(t, d).Hangup()
	if r := waitRec(t, s); r.Disposition != cdr.Answered || r.Agent != "a1" {
		t.Errorf("cdr %+v, want answered by a1", r)
	}
	if f := d.forwardList(); len(f) != 1 {
		t.Errorf("forwards %v, want only the first call's", f)
	}
}

// TestOverflowAllFailBackToPlace: both centers refuse; the call keeps its
// place here and is answered when an agent logs in.
func TestOverflowAllFailBackToPlace(t *testing.T) {
	e, d, s := testEngine(t)
	withOverflow(e, OverflowRules{NoAgents: true, OnFailure: "queue"})
	leg := newFakeLeg("c-back", "+495136115")
	go e.HandleCall(leg)
	for deadline := time.Now().Add(20 * time.Second); len(d.forwardList()) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("forwards %v, want both targets tried", d.forwardList())
		}
	}
	waitCallState(t, e, "c-back", StateQueued)
	e.AgentRegistered("a1")
	al := connect(t, d)
	al.Hangup()
	r := waitRec(t, s)
	if r.Disposition != cdr.Answered || r.Agent != "a1" {
		t.Errorf("cdr %+v, want answered here after the federation refused", r)
	}
	if got := d.forwardList(); len(got) != 2 {
		t.Errorf("forwards %v, want both targets tried once", got)
	}
}

// TestOverflowAfterMaxWait: an agent is logged in but paused; after
// max_wait the waiting call overflows.
func TestOverflowAfterMaxWait(t *testing.T) {
	e, d, s := testEngine(t)
	withOverflow(e, OverflowRules{MaxWait: 1500 * time.Millisecond, OnFailure: "queue"})
	d.forwardOK = true
	_ = e.Login("a1")
	_ = e.Pause("a1", "lunch")
	leg := newFakeLeg("c-wait", "+495136115")
	start := time.Now()
	go e.HandleCall(leg)
	for len(d.forwardList()) == 0 && time.Since(start) < 30*time.Second {
		time.Sleep(50 * time.Millisecond)
	}
	if w := time.Since(start); w < 1500*time.Millisecond {
		t.Errorf("overflowed after %v, before max_wait", w)
	}
	leg.end()
	if r := waitRec(t, s); r.Disposition != cdr.Overflowed || r.WaitMS < 1500 {
		t.Errorf("cdr %+v", r)
	}
}

// TestOverflowRulesEachTrigger: every remaining rule sends a call to the
// federation on its own.
func TestOverflowRulesEachTrigger(t *testing.T) {
	cases := []struct {
		name  string
		rules OverflowRules
		setup func(e *Engine, call func(string))
		edit  func(*Config)
	}{
		{"share 100 %", OverflowRules{Share: 100}, func(e *Engine, _ func(string)) { _ = e.Login("a1"); _ = e.Pause("a1", "x") }, nil},
		{"queue length", OverflowRules{QueueLength: 1}, func(e *Engine, call func(string)) {
			_ = e.Login("a1")
			_ = e.Pause("a1", "x")
			call("waiting-1")
			call("waiting-2") // the second waiting call: 2 > 1
		}, nil},
		{"estimated wait", OverflowRules{MaxEWT: time.Minute}, func(e *Engine, _ func(string)) {
			_ = e.Login("a1")
			_ = e.Pause("a1", "x") // one agent, 3 min default handling time: EWT 3 min > 1 min
		}, nil},
		{"closed", OverflowRules{WhenClosed: true}, func(e *Engine, _ func(string)) {
			closed, _ := compileHours(Hours{Holidays: "none"}, "")
			e.hours["burgdorf"] = closed
		}, nil},
		// The instance is full (max_calls 2 reached): waiting calls leave to
		// make room; a third call would be refused with 503.
		{"instance overloaded", OverflowRules{}, func(e *Engine, call func(string)) {
			_ = e.Login("a1")
			_ = e.Pause("a1", "x")
			call("first")
		}, func(c *Config) { c.MaxCalls = 2 }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var edits []func(*Config)
			if c.edit != nil {
				edits = append(edits, c.edit)
			}
			e, d, s := testEngine(t, edits...)
			withOverflow(e, c.rules)
			d.forwardOK = true
			var legs []*fakeLeg
			call := func(id string) {
				l := newFakeLeg(id, "+495136115")
				legs = append(legs, l)
				go e.HandleCall(l)
				waitCallSettled(t, e, l)
			}
			c.setup(e, call)
			call("the-one")
			deadline := time.Now().Add(30 * time.Second)
			for len(d.forwardList()) == 0 && time.Now().Before(deadline) {
				time.Sleep(20 * time.Millisecond)
			}
			for _, l := range legs {
				l.end()
			}
			var over int
			for range legs {
				if r := waitRec(t, s); r.Disposition == cdr.Overflowed {
					over++
				}
			}
			if over == 0 {
				t.Errorf("no call overflowed (forwards %v)", d.forwardList())
			}
		})
	}
}

// TestOverflowWhenCPUOverloaded: a waiting call leaves for the federation
// once the instance's CPU goes over acd.max_cpu_percent (a new call would
// now be refused with 503).
func TestOverflowWhenCPUOverloaded(t *testing.T) {
	cpu := &busyCPU{}
	e, d, s := testEngineDeps(t, func(d *Deps) { d.CPUTime = cpu.used }, func(c *Config) { c.MaxCPUPercent = 150 })
	withOverflow(e, OverflowRules{})
	d.forwardOK = true
	_ = e.Login("a1")
	_ = e.Pause("a1", "x")
	leg := newFakeLeg("c-waiting", "+495136115")
	go e.HandleCall(leg)
	waitCallState(t, e, "c-waiting", StateQueued)
	cpu.set(true)
	waitCallState(t, e, "c-waiting", StateConnected)
	leg.end()
	if r := waitRec(t, s); r.Disposition != cdr.Overflowed {
		t.Errorf("cdr %+v, want overflowed", r)
	}
}

// TestWeightedTargets: with weights 3:1 the first target is tried first in
// about three calls of four; without weights the listed order holds.
func TestWeightedTargets(t *testing.T) {
	f := newFederation([]FederationTarget{{Name: "a", Weight: 3}, {Name: "b", Weight: 1}})
	first := 0
	for i := 0; i < 4000; i++ {
		o := f.order()
		if len(o) != 2 || o[0] == o[1] {
			t.Fatalf("order %v", o)
		}
		if o[0] == 0 {
			first++
		}
	}
	if first < 2800 || first > 3200 {
		t.Errorf("a first in %d of 4000, want about 3000", first)
	}
	plain := newFederation([]FederationTarget{{Name: "a"}, {Name: "b"}, {Name: "c"}})
	if o := plain.order(); o[0] != 0 || o[1] != 1 || o[2] != 2 {
		t.Errorf("unweighted order %v", o)
	}
}
