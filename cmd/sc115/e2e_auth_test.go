package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
)

// TestReplayedRegisterIsRefused (issue 12, 4): an agent's authenticated
// REGISTER, captured and sent again unchanged from another address — once
// to add the attacker's phone as a binding, once to log the agent out
// with Contact: * — is challenged anew (401 stale) both times; the agent
// keeps exactly its own binding and stays available.
func TestReplayedRegisterIsRefused(t *testing.T) {
	cfg := testConfig(t)
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent := agentPhone(ctx, t, target, "1003")
	waitAgent(t, s, "1003", acd.AgentAvailable)
	captured := agent.LastAuthorization()
	if captured == "" {
		t.Fatal("no Authorization captured")
	}

	attacker := newRawPeer(t, "127.0.0.2", target)
	to := "<sip:1003@" + target + ">"
	replay := func(name string, extra ...string) {
		t.Helper()
		got := attacker.send("REGISTER", "sip:"+target, to+";tag=evil", to, "replay-"+name+"@127.0.0.2", 7, append(extra, "Authorization: "+captured), "")
		if !strings.HasPrefix(got, "SIP/2.0 401") {
			t.Errorf("replayed REGISTER (%s): %q, want 401 (a fresh challenge)", name, got)
		}
	}
	replay("add-binding", "Contact: <sip:1003@127.0.0.2:5099>", "Expires: 300")
	replay("log-out", "Contact: *", "Expires: 0")
	if n := s.sip.BindingCount("1003"); n != 1 {
		t.Errorf("1003 has %d bindings after the replays, want its own 1", n)
	}
	if st := s.engine.AgentStates()["1003"]; st != acd.AgentAvailable {
		t.Errorf("1003 is %s after the replays, want available", st)
	}
	// The real phone goes on registering as usual.
	if res, err := agent.Register(ctx, target, "demo1003", 300); err != nil || res.StatusCode != 200 {
		t.Errorf("the real phone's next REGISTER: %v %v", res, err)
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	if line := metricLine(body, "sc115_sip_auth_replays_total"); line != "sc115_sip_auth_replays_total 2" {
		t.Errorf("replay metric: %q", line)
	}
}

// TestLockoutLocksTheGuesserNotTheAgent (issue 12, 5), against the real
// server: six wrong passwords for 1003 from 127.0.0.3 lock that address
// out, not the agent, whose phone on 127.0.0.1 registers right after;
// single wrong guesses from five more addresses do not lock anyone, and
// the agent can still unregister and register. Slow guessing reaches the
// daily limit (12 here): from then on even the right password from a new
// address gets 403 — the same answer as a wrong one — while the agent's
// own phone, which logged in before, keeps working.
func TestLockoutLocksTheGuesserNotTheAgent(t *testing.T) {
	cfg := testConfig(t)
	cfg.SIP.LockoutDailyFailures = 12
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	target := s.sip.Addr().String()
	agent := agentPhone(ctx, t, target, "1003")
	phoneAt := func(ip string) *testphone.Phone {
		ph, err := testphone.New("1003", ip)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ph.Close)
		return ph
	}
	register := func(ph *testphone.Phone, password string, expires int) int {
		t.Helper()
		res, err := ph.Register(ctx, target, password, expires)
		if err != nil {
			t.Fatalf("register: %v", err)
		}
		return res.StatusCode
	}

	guesser := phoneAt("127.0.0.3")
	for i := 0; i < 6; i++ { // 5 failures lock 127.0.0.3 for 1003; the 6th is refused as locked
		if code := register(guesser, fmt.Sprintf("guess%d", i), 300); code != 403 {
			t.Fatalf("wrong password %d: %d, want 403", i, code)
		}
	}
	if code := register(agent, "demo1003", 300); code != 200 {
		t.Fatalf("the real phone after another address guessed: %d, want 200", code)
	}
	for i := 4; i <= 8; i++ { // 5 more failures, one per address
		if code := register(phoneAt(fmt.Sprintf("127.0.0.%d", i)), "wrong", 300); code != 403 {
			t.Fatalf("guess from 127.0.0.%d: %d, want 403", i, code)
		}
	}
	if code := register(agent, "demo1003", 0); code != 200 || s.sip.BindingCount("1003") != 0 {
		t.Fatalf("unregistering after guesses from five addresses: %d, %d bindings", code, s.sip.BindingCount("1003"))
	}
	if code := register(agent, "demo1003", 300); code != 200 {
		t.Fatalf("registering again: %d", code)
	}

	// Two more slow guesses make 12 failures today: the daily lock.
	for i := 9; i <= 10; i++ {
		if code := register(phoneAt(fmt.Sprintf("127.0.0.%d", i)), "wrong", 300); code != 403 {
			t.Fatalf("guess from 127.0.0.%d: %d, want 403", i, code)
		}
	}
	if code := register(phoneAt("127.0.0.11"), "demo1003", 300); code != 403 {
		t.Errorf("the right password from a new address under the daily lock: %d, want 403", code)
	}
	if code := register(agent, "demo1003", 300); code != 200 {
		t.Errorf("the agent's own phone under the daily lock: %d, want 200", code)
	}
	_, body := httpGet(t, "http://"+s.httpLn.Addr().String()+"/metrics")
	for _, want := range []string{`sc115_sip_lockouts_total{scope="source_user"} 1`, `sc115_sip_lockouts_total{scope="user_daily"} 1`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}
