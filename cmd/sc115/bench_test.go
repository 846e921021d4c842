package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"

	"github.com/emiago/sipgo/sip"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/acd"
	"github.com/sc115/sc115/internal/testphone"
)

// BenchmarkCallsThroughAgent measures complete calls per second through
// sc115 on loopback: INVITE from the trunk, 200 + greeting, queue, offer to
// a free agent (INVITE/200/ACK), bridge, 1 s of talk, BYE on both legs
// and the CDR. 500 agents and 500 callers in parallel (a closed loop: at
// most 500 calls/s), wrap-up 0. Callers and agents are sipgo phones in the
// same process, so they share the 2 cores with sc115: the number is a floor
// for sc115 alone. %answered below 100 means calls waited longer than the
// talk time for an agent, i.e. sc115 fell behind.
func BenchmarkCallsThroughAgent(b *testing.B) {
	b.Run("store=redis-server", func(b *testing.B) { benchCalls(b, interop.RedisServer(b)) })
	b.Run("store=embedded", func(b *testing.B) { benchCalls(b, "") })
}

func benchCalls(b *testing.B, redisURL string) {
	const agents, parallel, talk = 500, 500, 1000 * time.Millisecond
	cfg := testConfigB(b)
	cfg.Queue.Redis = redisURL
	cfg.ACD.Queue.Wrapup = 0
	s := startWithAgents(b, cfg, agents)
	target := s.sip.Addr().String()
	ctx := context.Background()
	var err error
	callers := make([]*testphone.Phone, 10)
	for i := range callers {
		if callers[i], err = testphone.New(fmt.Sprintf("+49513612%04d", i), "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
		defer callers[i].Close()
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < parallel; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				c, err := callers[w%len(callers)].Dial(ctx, target, "+495136115", []string{"8 PCMA/8000"})
				if err != nil {
					failed.Add(1)
					continue
				}
				time.Sleep(talk)
				if err := c.Bye(ctx); err != nil {
					failed.Add(1)
				}
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	// Count CDRs (each written after its legs are down): a call whose
	// caller hung up before an agent answered is "abandoned".
	var answered, rows int
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		answered, rows = 0, 0
		for _, r := range readCDRs(b, cfg.CDR.Dir) {
			rows++
			if r["disposition"] == "answered" {
				answered++
			}
		}
		if rows+int(failed.Load()) >= b.N {
			break
		}
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(100*float64(answered)/float64(b.N), "%answered")
	b.ReportMetric(float64(failed.Load()), "failed")
}

// startBench validates cfg's ACD section and starts sc115 on it, without
// logs, until the benchmark ends.
func startBench(b *testing.B, cfg Config) *service {
	b.Helper()
	if err := cfg.ACD.Validate(); err != nil {
		b.Fatal(err)
	}
	s, err := start(cfg, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.shutdown(true) })
	return s
}

// startWithAgents starts sc115 on cfg with n Burgdorf agents (2000…)
// instead of the example's, each registered by a test phone that answers
// every offer at once with PCMA; everything stops when the benchmark ends.
func startWithAgents(b *testing.B, cfg Config, n int) *service {
	b.Helper()
	cfg.ACD.Agents = burgdorfAgents(n, 2000)
	s := startBench(b, cfg)
	for _, a := range cfg.ACD.Agents {
		ph, err := testphone.New(a.SIPUser, "127.0.0.1")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(ph.Close)
		ph.OnOffer(func(*sip.Request) (int, time.Duration, []string) { return 200, 0, []string{"8 PCMA/8000"} })
		go func() {
			for {
				if _, err := ph.NextIncoming(context.Background()); err != nil {
					return
				}
			}
		}()
		if res, err := ph.Register(context.Background(), s.sip.Addr().String(), a.Password, 3600); err != nil || res.StatusCode != 200 {
			b.Fatalf("register %s: %v %v", a.SIPUser, res, err)
		}
	}
	return s
}

// burgdorfAgents are n generated Burgdorf agents, SIP users first…, each
// with password "pw" + its user.
func burgdorfAgents(n, first int) []acd.Agent {
	out := make([]acd.Agent, 0, n)
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%d", first+i)
		out = append(out, acd.Agent{ID: id, SIPUser: id, Password: "pw" + id, Skills: map[string]int{"burgdorf": 5}})
	}
	return out
}
