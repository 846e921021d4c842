package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// TestRedisDownRefusesNewCalls (issue 13, 4) with a real redis-server:
// while it is stopped, a new call gets 503 with Retry-After instead of
// 200 OK and silence; once it runs again, calls are answered again
// without restarting sc115.
func TestRedisDownRefusesNewCalls(t *testing.T) {
	redis := interop.StartRedis(t)
	cfg := testConfig(t)
	cfg.Queue.Redis = redis.URL
	s := startTest(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	caller, err := testphone.New("+495136123456", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	defer caller.Close()
	dial := func() (int, string, error) {
		call, err := caller.Dial(ctx, s.sip.Addr().String(), "05136115", []string{"8 PCMA/8000"})
		if err == nil {
			_ = call.Bye(ctx)
			return 200, "", nil
		}
		var re *sipgo.ErrDialogResponse
		if errors.As(err, &re) {
			retry := ""
			if h := re.Res.GetHeader("Retry-After"); h != nil {
				retry = h.Value()
			}
			return re.Res.StatusCode, retry, nil
		}
		return 0, "", err
	}
	if code, _, err := dial(); code != 200 {
		t.Fatalf("with Redis up: %d %v", code, err)
	}

	redis.Stop()
	code, retry, err := dial()
	if code != 503 || retry == "" {
		t.Errorf("with Redis stopped: %d (Retry-After %q) %v, want 503 with Retry-After", code, retry, err)
	}

	redis.Start()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		code, _, err := dial()
		if code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a minute after Redis returned calls still get %d %v", code, err)
		}
	}
}

// TestRedisRestartHealsAgents (issue 13, 1) with a real redis-server, kept
// (append-only file) or empty after its restart: an agent talks, Redis
// dies, the caller hangs up — the wrap-up and the release cannot be
// written — and Redis comes back. Within 10 s the agent takes calls again
// without a restart or a new REGISTER, and the call that ended during the
// outage has exactly one row.
func TestRedisRestartHealsAgents(t *testing.T) {
	for _, persist := range []bool{true, false} {
		name := map[bool]string{true: "persistent", false: "empty-after-restart"}[persist]
		t.Run(name, func(t *testing.T) {
			var redis *interop.Redis
			if persist {
				redis = interop.StartPersistentRedis(t)
			} else {
				redis = interop.StartRedis(t)
			}
			cfg := testConfig(t)
			cfg.Queue.Redis = redis.URL
			s := startTest(t, cfg)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			target := s.sip.Addr().String()
			agent := agentPhone(ctx, t, target, "1003")
			agent.OnOffer(func(*sip.Request) (int, time.Duration, []string) { return 200, 0, []string{"0 PCMU/8000"} })
			caller, call := burgdorfCaller(ctx, t, target)
			defer caller.Close()
			if _, err := agent.NextIncoming(ctx); err != nil {
				t.Fatal(err)
			}
			waitAgent(t, s, "1003", acd.AgentOnCall)

			redis.Stop()
			if err := call.Bye(ctx); err != nil {
				t.Fatal(err)
			}
			row := waitCDR(t, cfg.CDR.Dir, call.CallID, 20*time.Second)
			if row["disposition"] != "answered" || row["agent"] != "1003" {
				t.Errorf("row of the call that ended during the outage: %v", row)
			}
			time.Sleep(2 * time.Second) // the agent's wrap-up (300 ms) ends while Redis is away
			redis.Start()
			back := time.Now()

			// The agent takes the next call; calls get 503 until the
			// instance sees the store again, then they queue.
			var second *testphone.Call
			for deadline := time.Now().Add(time.Minute); second == nil; time.Sleep(200 * time.Millisecond) {
				c, err := caller.Dial(ctx, target, "05136115", []string{"8 PCMA/8000"})
				if err == nil {
					second = c
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("a minute after Redis returned calls still fail: %v", err)
				}
			}
			if _, err := agent.NextIncoming(ctx); err != nil {
				t.Fatalf("the agent never got a call after Redis returned: %v", err)
			}
			took := time.Since(back)
			t.Logf("agent on a call again %v after Redis returned", took.Round(100*time.Millisecond))
			if took > 10*time.Second {
				t.Errorf("the agent took a call only %v after Redis returned, want within 10 s", took)
			}
			_ = second.Bye(ctx)
			waitCDR(t, cfg.CDR.Dir, second.CallID, 20*time.Second)
			n := 0
			for _, r := range readCDRs(t, cfg.CDR.Dir) {
				if r["call_id"] == call.CallID {
					n++
				}
			}
			if n != 1 {
				t.Errorf("the call that ended during the outage has %d rows, want 1", n)
			}
		})
	}
}
