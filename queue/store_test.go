package queue

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
)

// backends runs f against the embedded store and a real redis-server
// started on a free loopback port: the same scripts must behave the same.
func backends(t *testing.T, f func(t *testing.T, s *Store)) {
	t.Run("embedded", func(t *testing.T) {
		s, err := Open(context.Background(), Config{})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		f(t, s)
	})
	t.Run("redis-server", func(t *testing.T) {
		f(t, RealRedis(t))
	})
}

// RealRedis opens a store on a fresh redis-server for the test.
func RealRedis(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), Config{Redis: interop.RedisServer(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// clock makes the store's time step 1 ms per call, so scores are distinct.
func clock(s *Store) {
	var mu sync.Mutex
	t := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
	s.Now = func() time.Time { mu.Lock(); defer mu.Unlock(); t = t.Add(time.Millisecond); return t }
}

func burgdorf(l int) []Target { return []Target{{Skill: "burgdorf", MinLevel: l}} }

func TestQueueMatching(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		t0 := time.Date(2026, 11, 24, 9, 0, 0, 0, time.UTC)
		// No agent: calls wait, by priority then arrival.
		for _, c := range []struct {
			id   string
			prio int
			at   int
		}{{"c2", 5, 200}, {"c1", 5, 100}, {"c3", 5, 300}, {"crisis", 8, 400}} {
			m, err := s.Enqueue(ctx, c.id, "i1", Score(c.prio, t0.Add(time.Duration(c.at)*time.Millisecond)), burgdorf(1), map[string]string{"municipality": "burgdorf"})
			if err != nil || m != nil {
				t.Fatalf("enqueue %s: %v %v, want waiting", c.id, m, err)
			}
		}
		if n, _ := s.Waiting(ctx, "burgdorf"); n != 4 {
			t.Fatalf("waiting = %d, want 4", n)
		}
		if p, _ := s.Position(ctx, "c3"); p != 4 {
			t.Errorf("c3 position %d, want 4 (behind the crisis call, c1, c2)", p)
		}
		// An agent with the skill gets the highest-priority call, then the oldest.
		for _, want := range []string{"crisis", "c1"} {
			m, err := s.AgentReady(ctx, "1003", "i1", []AgentSkill{{Skill: "burgdorf", Level: 9}, {Skill: "garbsen", Level: 4}})
			if err != nil || m == nil || m.CallID != want || m.Owner != "i1" {
				t.Fatalf("agent ready got %+v %v, want %s", m, err, want)
			}
			if a, _ := s.Agent(ctx, "1003"); a.State != "reserved" || a.Call != want {
				t.Errorf("agent %+v, want reserved for %s", a, want)
			}
			// That call ends at once (logging in never frees an agent
			// from a call that still exists).
			if _, err := s.RemoveCall(ctx, want); err != nil {
				t.Fatal(err)
			}
		}
		if p, _ := s.Position(ctx, "c3"); p != 2 {
			t.Errorf("c3 position %d, want 2", p)
		}
		// The owner learns of both matches on its assignment list.
		for _, want := range []string{"crisis", "c1"} {
			if m, err := s.NextAssignment(ctx, "i1", time.Second); err != nil || m == nil || m.CallID != want || m.AgentID != "1003" {
				t.Errorf("assignment %+v %v, want %s→1003", m, err, want)
			}
		}
		// A removed call is gone; removing twice says so.
		if ok, _ := s.RemoveCall(ctx, "c2"); !ok {
			t.Error("remove c2: want true")
		}
		if ok, _ := s.RemoveCall(ctx, "c2"); ok {
			t.Error("remove c2 twice: want false")
		}
		// An agent without the skill stays available; c3 still waits.
		if m, _ := s.AgentReady(ctx, "1001", "i1", []AgentSkill{{Skill: "hannover", Level: 8}}); m != nil {
			t.Errorf("agent without skill got %+v", m)
		}
		if a, _ := s.Agent(ctx, "1001"); a.State != "available" {
			t.Errorf("1001 %+v, want available", a)
		}
		if m, _ := s.AgentReady(ctx, "1006", "i1", []AgentSkill{{Skill: "burgdorf", Level: 3}}); m == nil || m.CallID != "c3" {
			t.Errorf("agent 1006 got %+v, want c3", m)
		}
		// Logged-out agents get nothing.
		if err := s.AgentState(ctx, "1006", "logged-out", ""); err != nil {
			t.Fatal(err)
		}
		if m, _ := s.Enqueue(ctx, "c6", "i1", Score(5, t0), burgdorf(1), nil); m != nil {
			t.Errorf("c6 went to %+v", m)
		}
		if n, _ := s.LoggedIn(ctx, "burgdorf"); n != 1 {
			t.Errorf("logged in for burgdorf: %d, want 1 (1003)", n)
		}
	})
}

// TestTargetsWithDifferentStrategies: a call waits for its own queue
// (fewest-calls) and, widened by escalation, for another (least-talk).
// Scores of different strategies are never compared: an agent of the
// call's own queue is chosen whenever one is free, however the numbers
// compare (before, 0 ms of talk always beat 3·10¹³ + ms for fewest-calls);
// the other queue's agent takes the call only when none of its own is free.
// Within one strategy, the agents of both targets are compared.
func TestTargetsWithDifferentStrategies(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		t0 := time.Now()
		_ = s.RecordHandled(ctx, "own", "burgdorf", 300*time.Second, 330*time.Second)
		_ = s.RecordHandled(ctx, "own2", "burgdorf", 200*time.Second, 230*time.Second)
		_ = s.RecordHandled(ctx, "own2", "burgdorf", 200*time.Second, 230*time.Second)
		for _, a := range []struct {
			id, skill, strategy string
		}{{"own", "burgdorf", "fewest-calls"}, {"own2", "burgdorf", "fewest-calls"}, {"other", "lehrte", "least-talk"}} {
			if _, err := s.AgentReady(ctx, a.id, "i1", []AgentSkill{{Skill: a.skill, Level: 5, Strategy: a.strategy}}); err != nil {
				t.Fatal(err)
			}
		}
		targets := []Target{{Skill: "burgdorf", MinLevel: 1, Strategy: "fewest-calls"}, {Skill: "lehrte", MinLevel: 1, Strategy: "least-talk"}}
		var got []string
		for i := range 4 {
			m, err := s.Enqueue(ctx, fmt.Sprintf("c%d", i), "i1", Score(5, t0), targets, nil)
			if err != nil {
				t.Fatal(err)
			}
			if m == nil {
				got = append(got, "-")
				continue
			}
			got = append(got, m.AgentID)
		}
		// own (1 call) before own2 (2 calls), then lehrte's agent; the
		// fourth call waits.
		want := []string{"own", "own2", "other", "-"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("agents in order %v, want %v", got, want)
		}
	})
}

// TestStaffedLeavesOutPausedAgents: Staffed counts logged-in agents who
// are not paused (available, ringing, on a call, in wrap-up).
func TestStaffedLeavesOutPausedAgents(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, id := range []string{"a", "b", "c"} {
			if _, err := s.AgentReady(ctx, id, "i1", []AgentSkill{{Skill: "q", Level: 5}}); err != nil {
				t.Fatal(err)
			}
		}
		_ = s.AgentState(ctx, "a", "paused", "break")
		_ = s.AgentState(ctx, "b", "wrap-up", "")
		if n, err := s.Staffed(ctx, "q"); err != nil || n != 2 {
			t.Errorf("staffed %d (%v), want 2: b in wrap-up and c available", n, err)
		}
		_ = s.AgentState(ctx, "c", "paused", "meeting")
		_ = s.AgentState(ctx, "b", "logged-out", "")
		if n, _ := s.Staffed(ctx, "q"); n != 0 {
			t.Errorf("staffed %d, want 0: one paused, one logged out, one paused", n)
		}
		if n, _ := s.LoggedIn(ctx, "q"); n != 2 {
			t.Errorf("logged in %d, want 2 (paused agents stay logged in)", n)
		}
	})
}

// TestRecordHandledLosesNoUpdate: four instances finish 10 calls each at the
// same time. Each moves the skill's average handling time one fifth of
// the way from 1,000 s towards 0 s, so the result is the same in any
// order — and exact only if no update was lost (read and write used to be
// two round trips).
func TestRecordHandledLosesNoUpdate(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		if err := s.RecordHandled(ctx, "x", "q", 0, 1000*time.Second); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 10 {
					if err := s.RecordHandled(ctx, fmt.Sprintf("a%d", g), "q", time.Millisecond, time.Millisecond); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		want := int64(1_000_000)
		for range 40 {
			want = (4*want + 1) / 5
		}
		if got, _ := s.HandleTime(ctx, "q"); got != time.Duration(want)*time.Millisecond {
			t.Errorf("average handling time %v after 40 updates, want %v", got, time.Duration(want)*time.Millisecond)
		}
	})
}

func TestStrategiesAndLevels(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		t0 := time.Now()
		ready := func(id string, lvl int, strategy string) {
			if m, err := s.AgentReady(ctx, id, "i1", []AgentSkill{{Skill: "q", Level: lvl, Strategy: strategy}}); err != nil || m != nil {
				t.Fatalf("ready %s: %v %v", id, m, err)
			}
		}
		offer := func(call string, min int) string {
			m, err := s.Enqueue(ctx, call, "i1", Score(5, t0), []Target{{Skill: "q", MinLevel: min}}, nil)
			if err != nil || m == nil {
				t.Fatalf("enqueue %s: %v %v", call, m, err)
			}
			_, _ = s.RemoveCall(ctx, call) // the call is over: its agent may log in again
			return m.AgentID
		}
		// longest-idle: the one ready first.
		ready("low", 2, "longest-idle")
		ready("high", 9, "longest-idle")
		if a := offer("x1", 1); a != "low" {
			t.Errorf("longest-idle picked %s, want low", a)
		}
		// A call needing level 5 skips the level-2 agent.
		ready("low", 2, "longest-idle")
		if a := offer("x2", 5); a != "high" {
			t.Errorf("min level 5 picked %s, want high", a)
		}
		// best-skill: the higher level first even if it became idle later.
		ready("low", 2, "best-skill")
		ready("high", 9, "best-skill")
		if a := offer("x3", 1); a != "high" {
			t.Errorf("best-skill picked %s, want high", a)
		}
		_ = s.AgentState(ctx, "low", "logged-out", "")
		// fewest-calls and least-talk read the agents' counters.
		_ = s.RecordHandled(ctx, "a", "q", 300*time.Second, 330*time.Second)
		_ = s.RecordHandled(ctx, "a", "q", 10*time.Second, 40*time.Second)
		_ = s.RecordHandled(ctx, "b", "q", 100*time.Second, 130*time.Second)
		ready("a", 5, "fewest-calls")
		ready("b", 5, "fewest-calls")
		if a := offer("x4", 1); a != "b" {
			t.Errorf("fewest-calls picked %s, want b (1 call vs 2)", a)
		}
		_ = s.AgentState(ctx, "a", "logged-out", "")
		ready("a", 5, "least-talk")
		ready("b", 5, "least-talk")
		if a := offer("x5", 1); a != "b" {
			t.Errorf("least-talk picked %s, want b (100 s vs 310 s)", a)
		}
		if ht, _ := s.HandleTime(ctx, "q"); ht < 130*time.Second || ht > 330*time.Second {
			t.Errorf("average handling time %v", ht)
		}
	})
}

// TestWidenKeepsPlace: escalation lowers the required level; the call keeps
// its original place relative to later calls.
func TestWidenKeepsPlace(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		t0 := time.Now()
		_, _ = s.Enqueue(ctx, "old", "i1", Score(5, t0), burgdorf(8), nil)
		_, _ = s.Enqueue(ctx, "new", "i1", Score(5, t0.Add(time.Second)), burgdorf(1), nil)
		if m, _ := s.Widen(ctx, "old", burgdorf(1)); m != nil {
			t.Fatalf("widen matched %+v with no agent", m)
		}
		if m, _ := s.AgentReady(ctx, "junior", "i1", []AgentSkill{{Skill: "burgdorf", Level: 2}}); m == nil || m.CallID != "old" {
			t.Errorf("after widening, junior got %+v, want the older call", m)
		}
		if _, err := s.Widen(ctx, "old", burgdorf(1)); err != nil {
			t.Errorf("widen of a reserved call: %v", err)
		}
	})
}

func TestReapDeadInstance(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		t0 := time.Now()
		_ = s.Heartbeat(ctx, "dead", 50*time.Millisecond)
		_ = s.Heartbeat(ctx, "alive", time.Minute)
		_, _ = s.Enqueue(ctx, "w1", "dead", Score(5, t0), burgdorf(1), map[string]string{"municipality": "burgdorf", "caller": "+495136123xxx"})
		_, _ = s.AgentReady(ctx, "talking", "alive", []AgentSkill{{Skill: "hannover", Level: 5}})
		_, _ = s.Enqueue(ctx, "r1", "dead", Score(5, t0), []Target{{Skill: "hannover", MinLevel: 1}}, nil)
		_, _ = s.AgentReady(ctx, "deadagent", "dead", []AgentSkill{{Skill: "burgdorf", Level: 5}}) // takes w1
		time.Sleep(100 * time.Millisecond)
		if s.embedded != nil {
			s.embedded.FastForward(100 * time.Millisecond) // miniredis expires keys only when told
		}
		dead, _ := s.DeadInstances(ctx)
		if len(dead) != 1 || dead[0] != "dead" {
			t.Fatalf("dead instances %v", dead)
		}
		calls, err := s.Reap(ctx, "dead")
		if err != nil || len(calls) != 2 {
			t.Fatalf("reaped %v %v, want 2 calls", calls, err)
		}
		if again, _ := s.Reap(ctx, "dead"); len(again) != 0 {
			t.Errorf("second reaper got %v", again)
		}
		if a, _ := s.Agent(ctx, "talking"); a.State != "available" {
			t.Errorf("agent reserved for a dead call: %+v, want available", a)
		}
		if a, _ := s.Agent(ctx, "deadagent"); a.State != "logged-out" {
			t.Errorf("agent of the dead instance: %+v, want logged-out", a)
		}
		if n, _ := s.Waiting(ctx, "burgdorf"); n != 0 {
			t.Errorf("%d calls still waiting", n)
		}
	})
}

// TestMatchingIsAtomic: many calls and agents arriving at once from many
// goroutines (as from several instances): every agent gets at most one
// call and every call at most one agent.
func TestMatchingIsAtomic(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 200
		var mu sync.Mutex
		callOf := map[string]string{} // agent → call
		agentOf := map[string]string{}
		record := func(m *Match) {
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := callOf[m.AgentID]; dup {
				t.Errorf("agent %s got %s and %s", m.AgentID, prev, m.CallID)
			}
			if prev, dup := agentOf[m.CallID]; dup {
				t.Errorf("call %s got %s and %s", m.CallID, prev, m.AgentID)
			}
			callOf[m.AgentID], agentOf[m.CallID] = m.CallID, m.AgentID
		}
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(2)
			go func(i int) {
				defer wg.Done()
				if m, err := s.Enqueue(ctx, fmt.Sprintf("call-%d", i), fmt.Sprintf("i%d", i%3), int64(i), []Target{{Skill: "q", MinLevel: 1}}, nil); err != nil {
					t.Error(err)
				} else if m != nil {
					record(m)
				}
			}(i)
			go func(i int) {
				defer wg.Done()
				if m, err := s.AgentReady(ctx, fmt.Sprintf("agent-%d", i), "i0", []AgentSkill{{Skill: "q", Level: 1 + i%10}}); err != nil {
					t.Error(err)
				} else if m != nil {
					record(m)
				}
			}(i)
		}
		wg.Wait()
		if len(callOf) != n {
			t.Errorf("%d of %d calls matched; with equal numbers every call must find an agent", len(callOf), n)
		}
	})
}

// TestSentinelURL: a redis-sentinel:// URL finds the master through a real
// sentinel (redis-server --sentinel) and the scripts run there.
func TestSentinelURL(t *testing.T) {
	master := interop.RedisServer(t) // redis://127.0.0.1:P/0
	bin := interop.Require(t, "redis-server", "redis-server")
	port := interop.FreePort(t, "tcp")
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	addr := strings.TrimSuffix(strings.TrimPrefix(master, "redis://"), "/0")
	host, mport, _ := strings.Cut(addr, ":")
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor sc115 %s %s 1\n", port, host, mport)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var s *Store
	var err error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); { // however long the sentinel takes to start
		if s, err = Open(context.Background(), Config{Redis: fmt.Sprintf("redis-sentinel://sc115@127.0.0.1:%d/0", port)}); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("open via sentinel: %v", err)
	}
	defer s.Close()
	if !strings.Contains(s.Addr(), "sentinel") {
		t.Errorf("addr %q", s.Addr())
	}
	if _, err := s.AgentReady(context.Background(), "a", "i", []AgentSkill{{Skill: "q", Level: 1}}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Enqueue(context.Background(), "c", "i", 1, []Target{{Skill: "q", MinLevel: 1}}, nil); err != nil || m == nil || m.AgentID != "a" {
		t.Errorf("match through sentinel: %+v %v", m, err)
	}
	// The data is on the master.
	direct, err := Open(context.Background(), Config{Redis: master})
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if info, _ := direct.Agent(context.Background(), "a"); info.State != "reserved" {
		t.Errorf("agent on the master: %+v", info)
	}
}

// TestUseNonceIsOncePerCount (issue 12, 4): a digest nonce count is taken
// once across all instances sharing the store; a higher one later works,
// the same or a lower one never, and the record expires with the nonce.
func TestUseNonceIsOncePerCount(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		for _, step := range []struct {
			nonce string
			nc    int
			want  bool
		}{{"n1", 1, true}, {"n1", 1, false}, {"n1", 2, true}, {"n1", 1, false}, {"n2", 1, true}} {
			got, err := s.UseNonce(ctx, step.nonce, step.nc, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if got != step.want {
				t.Errorf("UseNonce(%s, %d) = %v, want %v", step.nonce, step.nc, got, step.want)
			}
		}
		ttl, err := s.rdb.PTTL(ctx, "{sc}:nc:n1").Result()
		if err != nil || ttl <= 0 || ttl > time.Minute {
			t.Errorf("nonce record TTL %v (%v), want ≤ 1 min", ttl, err)
		}
	})
}

// TestReapKeepsAnAgentTalkingForALiveInstance (issue 13, 2): an agent
// whose phone was registered at the dead instance but who talks on a call
// a live instance owns is not logged out by the reaper — its phone's next
// REGISTER would log it in and give it a second call. The live instance
// takes it over; after its call, the agent is logged out (its device is
// gone) unless the phone registered again meanwhile.
func TestReapKeepsAnAgentTalkingForALiveInstance(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		clock(s)
		ctx := context.Background()
		_ = s.Heartbeat(ctx, "dead", 50*time.Millisecond)
		_ = s.Heartbeat(ctx, "alive", time.Minute)
		for _, agent := range []string{"crossed", "returns"} {
			if _, err := s.AgentReady(ctx, agent, "dead", []AgentSkill{{Skill: "hannover", Level: 5}}); err != nil {
				t.Fatal(err)
			}
			call := "call-" + agent
			m, err := s.Enqueue(ctx, call, "alive", Score(5, time.Now()), []Target{{Skill: "hannover", MinLevel: 1}}, nil)
			if err != nil || m == nil || m.AgentID != agent {
				t.Fatalf("%s: match %+v %v", agent, m, err)
			}
			if ok, err := s.AgentStateFrom(ctx, agent, "on-call", call, From{States: "reserved", Call: call}); !ok || err != nil {
				t.Fatalf("%s on-call: %v %v", agent, ok, err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		if s.embedded != nil {
			s.embedded.FastForward(100 * time.Millisecond)
		}
		if _, err := s.Reap(ctx, "dead"); err != nil {
			t.Fatal(err)
		}
		for _, agent := range []string{"crossed", "returns"} {
			if a, _ := s.Agent(ctx, agent); a.State != "on-call" {
				t.Errorf("%s after the reap: %+v, want still on-call (its call lives on)", agent, a)
			}
		}
		_ = s.DevicePresent(ctx, "returns") // its phone registered again, at the live instance
		for _, agent := range []string{"crossed", "returns"} {
			call := "call-" + agent
			_, _ = s.AgentStateFrom(ctx, agent, "wrap-up", call, From{States: "on-call", Call: call})
			_, _ = s.AgentReadyFrom(ctx, agent, From{States: "wrap-up", Call: call})
		}
		if a, _ := s.Agent(ctx, "crossed"); a.State != "logged-out" || a.Reason != "device-gone" {
			t.Errorf("crossed after its call: %+v, want logged-out (device-gone)", a)
		}
		if a, _ := s.Agent(ctx, "returns"); a.State != "available" {
			t.Errorf("returns after its call: %+v, want available (its phone is back)", a)
		}
	})
}

// TestDayStatsAndOldestWaiting: counters add up per day and interval for
// every subject; the oldest waiting call is found across priority bands
// (a high-priority newcomer is not the longest waiting).
func TestDayStatsAndOldestWaiting(t *testing.T) {
	s, err := Open(context.Background(), Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if err := s.CountCall(ctx, "2026-12-02", 40, []string{"m:burgdorf", "q:burgdorf"}, map[string]int64{"offered": 1, "answered": int64(i % 2)}); err != nil {
			t.Fatal(err)
		}
	}
	_ = s.CountCall(ctx, "2026-12-02", 41, []string{"m:burgdorf"}, map[string]int64{"offered": 1})
	days, err := s.DayStats(ctx, "2026-12-02", []string{"m:burgdorf", "q:burgdorf", "m:nobody"})
	if err != nil || len(days) != 3 {
		t.Fatalf("%d days, err %v", len(days), err)
	}
	total, slots := days[0].Total, days[0].Slots
	if total["offered"] != 4 || total["answered"] != 1 || slots[40]["offered"] != 3 || slots[41]["offered"] != 1 || len(slots[0]) != 0 || len(slots) != DaySlots {
		t.Errorf("day %v, slot 40 %v, 41 %v", total, slots[40], slots[41])
	}
	if q := days[1].Total; q["offered"] != 3 || len(q) != 2 {
		t.Errorf("queue day %v", q)
	}
	if n := days[2]; len(n.Total) != 0 || len(n.Slots) != DaySlots || len(n.Slots[40]) != 0 {
		t.Errorf("a subject without calls: %+v", n.Total)
	}
	if at, err := s.OldestWaiting(ctx, "burgdorf"); err != nil || !at.IsZero() {
		t.Errorf("nobody waits: %v %v", at, err)
	}
	old := time.UnixMilli(1_780_000_000_000)
	targets := burgdorf(1)
	if _, err := s.Enqueue(ctx, "c-old", "i1", Score(0, old), targets, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Enqueue(ctx, "c-new", "i1", Score(9, old.Add(time.Minute)), targets, nil); err != nil {
		t.Fatal(err)
	}
	if at, err := s.OldestWaiting(ctx, "burgdorf"); err != nil || !at.Equal(old) {
		t.Errorf("oldest waiting %v %v, want %v", at, err, old)
	}
}
