package acd

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/internal/interop"
)

// TestSentinelFailover (issue 13) with real redis-servers: a master, a
// replica and three sentinels; two instances take a steady stream of
// calls. The master is killed. Calls are answered by agents again within
// 5 s of its death (sentinels notice after 1 s, then elect and promote);
// afterwards no agent is left on a call, none ever had two, and every
// call — refused during the failover, abandoned or answered — has exactly
// one CDR.
func TestSentinelFailover(t *testing.T) {
	group := interop.StartSentinels(t)
	cfg := multiConfig(20)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	tr := &tracker{agentBusy: map[string]string{}, callRing: map[string]string{}}
	rows := &collect{rows: map[string][]cdr.Record{}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	engines, stores := chaosEngines(ctx, t, group.URL, cfg, 2, "sent", tr, rows, zerolog.Disabled)

	var mu sync.Mutex
	var killedAt, firstAfter time.Time
	// connected notes when a call that arrived after the master's death
	// was first answered by an agent.
	connected := func(arrived, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		if !killedAt.IsZero() && arrived.After(killedAt) && (firstAfter.IsZero() || at.Before(firstAfter)) {
			firstAfter = at
		}
	}
	var wg sync.WaitGroup
	n := 0
	call := func() {
		n++
		wg.Add(1)
		leg := newFakeLeg(fmt.Sprintf("sent-%05d", n), fmt.Sprintf("+4951%d115", 30+rand.IntN(4)))
		arrived := time.Now()
		go func() {
			defer wg.Done()
			go func() {
				select {
				case <-leg.connected:
					connected(arrived, time.Now())
					time.Sleep(time.Duration(20+rand.IntN(200)) * time.Millisecond)
				case <-time.After(3 * time.Second):
				}
				leg.end()
			}()
			engines[rand.IntN(2)].HandleCall(leg)
		}()
	}
	for start := time.Now(); time.Since(start) < 3*time.Second; time.Sleep(10 * time.Millisecond) {
		call()
	}
	mu.Lock()
	killedAt = time.Now()
	mu.Unlock()
	group.Master.Stop()
	for ; time.Since(killedAt) < 12*time.Second; time.Sleep(10 * time.Millisecond) {
		call()
	}
	wg.Wait()
	mu.Lock()
	if firstAfter.IsZero() {
		t.Fatal("no call that came after the master died was answered")
	}
	back := firstAfter.Sub(killedAt)
	mu.Unlock()
	t.Logf("%d calls; the first answer after the master's death came %v after it", n, back.Round(100*time.Millisecond))
	if back > 5*time.Second {
		t.Errorf("calls were answered again only %v after the master died, want within 5 s", back)
	}
	checkHealed(t, stores[0], engines[0].agentIDs, tr, rows, n, "sent-0", "sent-1")
}
