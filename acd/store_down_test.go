package acd

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sc115/sc115/cdr"
)

// failingStore is the engine's store, failing every read and write while
// down is set, as Redis does when it is gone.
type failingStore struct {
	Store
	down atomic.Bool
}

var errStoreGone = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (f *failingStore) Crisis(ctx context.Context, m string) (bool, error) {
	if f.down.Load() {
		return false, errStoreGone
	}
	return f.Store.Crisis(ctx, m)
}

func (f *failingStore) Arrive(ctx context.Context, id, owner, m string, fields map[string]string) (bool, error) {
	if f.down.Load() {
		return false, errStoreGone
	}
	return f.Store.Arrive(ctx, id, owner, m, fields)
}

func (f *failingStore) Heartbeat(ctx context.Context, instance string, ttl time.Duration) error {
	if f.down.Load() {
		return errStoreGone
	}
	return f.Store.Heartbeat(ctx, instance, ttl)
}

// TestStoreDownRefusesBeforeAnswering (issue 13, 4): with the store gone a
// new call is refused 503 with Retry-After before it is answered — never
// 200 OK, silence and BYE — with a rejected_busy CDR; once the store is
// back the next call is answered and queued again.
func TestStoreDownRefusesBeforeAnswering(t *testing.T) {
	var fs *failingStore
	e, _, s := testEngineDeps(t, func(d *Deps) { fs = &failingStore{Store: d.Store}; d.Store = fs }, func(c *Config) { c.RetryAfter = 20 * time.Second })
	fs.down.Store(true)
	leg := newFakeLeg("c-down", "+495136115")
	go e.HandleCall(leg)
	select {
	case code := <-leg.rejected:
		if code != 503 || leg.retryAfter != 20*time.Second {
			t.Errorf("call while the store is down: %d with Retry-After %v, want 503 with 20s", code, leg.retryAfter)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the call was not refused")
	}
	if r := waitRec(t, s); r.CallID != "c-down" || r.Disposition != cdr.RejectedBusy || r.SIPCode != 503 || !r.AnsweredAt.IsZero() {
		t.Errorf("cdr %+v, want c-down rejected_busy 503, never answered", r)
	}

	fs.down.Store(false)
	for deadline := time.Now().Add(20 * time.Second); e.storeDown.Load(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the engine still thinks the store is down")
		}
	}
	back := newFakeLeg("c-back", "+495136115")
	go e.HandleCall(back)
	waitCallState(t, e, "c-back", StateQueued)
	back.end()
	if r := waitRec(t, s); r.CallID != "c-back" || r.Disposition != cdr.Abandoned {
		t.Errorf("cdr %+v, want c-back queued, then abandoned", r)
	}
}
