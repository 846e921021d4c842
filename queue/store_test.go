package queue

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
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
		s := realRedis(t)
		f(t, s)
	})
}

func realRedis(t *testing.T) *Store {
	bin := interop.Require(t, "redis-server", "redis-server")
	port := interop.FreePort(t, "tcp")
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var s *Store
	var err error
	for i := 0; i < 100; i++ {
		if s, err = Open(context.Background(), Config{Redis: fmt.Sprintf("redis://127.0.0.1:%d/0", port)}); err == nil {
			t.Cleanup(s.Close)
			return s
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("redis-server did not come up: %v", err)
	return nil
}

func TestQueueMatching(t *testing.T) {
	backends(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// No agent: calls wait, oldest first.
		for i, id := range []string{"c2", "c1", "c3"} {
			score := map[string]int64{"c1": 100, "c2": 200, "c3": 300}[id]
			if a, err := s.Enqueue(ctx, id, "burgdorf", score); err != nil || a != "" {
				t.Fatalf("enqueue %d: agent %q err %v, want waiting", i, a, err)
			}
		}
		if n, _ := s.Waiting(ctx, "burgdorf"); n != 3 {
			t.Fatalf("waiting = %d, want 3", n)
		}
		// An agent with the skill gets the longest-waiting call.
		if c, err := s.AgentReady(ctx, "1003", []string{"burgdorf", "garbsen"}, 1); err != nil || c != "c1" {
			t.Fatalf("agent ready got %q %v, want c1", c, err)
		}
		if st, _ := s.AgentState(ctx, "1003"); st != "reserved" {
			t.Errorf("agent state %q, want reserved", st)
		}
		// A removed call is gone; removing twice says so.
		if ok, _ := s.RemoveCall(ctx, "c2"); !ok {
			t.Error("remove c2: want true")
		}
		if ok, _ := s.RemoveCall(ctx, "c2"); ok {
			t.Error("remove c2 twice: want false")
		}
		// Agent 1001 without the skill stays available; c3 still waits.
		if c, _ := s.AgentReady(ctx, "1001", []string{"hannover"}, 2); c != "" {
			t.Errorf("agent without skill got %q", c)
		}
		if c, _ := s.AgentReady(ctx, "1006", []string{"burgdorf"}, 3); c != "c3" {
			t.Errorf("agent 1006 got %q, want c3", c)
		}
		// A new call goes straight to the longest-idle available agent.
		if _, err := s.AgentReady(ctx, "1003", []string{"burgdorf"}, 50); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AgentReady(ctx, "1006", []string{"burgdorf"}, 10); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Enqueue(ctx, "c4", "burgdorf", 400); a != "1006" {
			t.Errorf("c4 went to %q, want longest idle 1006", a)
		}
		if a, _ := s.Enqueue(ctx, "c5", "burgdorf", 500); a != "1003" {
			t.Errorf("c5 went to %q, want 1003", a)
		}
		// Logged-out agents get nothing.
		if _, err := s.AgentReady(ctx, "1003", []string{"burgdorf"}, 60); err != nil {
			t.Fatal(err)
		}
		if err := s.AgentNotAvailable(ctx, "1003", "logged-out"); err != nil {
			t.Fatal(err)
		}
		if a, _ := s.Enqueue(ctx, "c6", "burgdorf", 600); a != "" {
			t.Errorf("c6 went to logged-out agent %q", a)
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
		record := func(agent, call string) {
			mu.Lock()
			defer mu.Unlock()
			if prev, dup := callOf[agent]; dup {
				t.Errorf("agent %s got %s and %s", agent, prev, call)
			}
			if prev, dup := agentOf[call]; dup {
				t.Errorf("call %s got %s and %s", call, prev, agent)
			}
			callOf[agent], agentOf[call] = call, agent
		}
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(2)
			go func(i int) {
				defer wg.Done()
				call := fmt.Sprintf("call-%d", i)
				if a, err := s.Enqueue(ctx, call, "q", int64(i)); err != nil {
					t.Error(err)
				} else if a != "" {
					record(a, call)
				}
			}(i)
			go func(i int) {
				defer wg.Done()
				agent := fmt.Sprintf("agent-%d", i)
				if c, err := s.AgentReady(ctx, agent, []string{"q"}, int64(i)); err != nil {
					t.Error(err)
				} else if c != "" {
					record(agent, c)
				}
			}(i)
		}
		wg.Wait()
		if len(callOf) != n {
			t.Errorf("%d of %d calls matched; with equal numbers every call must find an agent", len(callOf), n)
		}
	})
}
