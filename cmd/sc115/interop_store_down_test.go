package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/emiago/sipgo"

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
