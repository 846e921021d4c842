package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/internal/testphone"
)

// BenchmarkCallsWithWallboardViewers (issue 15): 100 calls/s, open loop,
// through greeting, queue, one of 200 agents and 1 s of talk, with 0 and
// with 50 wallboards watching the live stream (/api/wallboard/events).
// The call path's latency is the callers' wait for an agent (wait_ms of
// the CDR rows: arrival until an agent answered) and the INVITE's answer
// time; the wallboards must not change them measurably. One producer per
// instance reads the store once a second for all viewers, so 50 viewers
// cost 50 small writes a second, not 50 store reads.
func BenchmarkCallsWithWallboardViewers(b *testing.B) {
	for _, store := range []string{"embedded", "redis-server"} {
		for _, viewers := range []int{0, 50} {
			b.Run(fmt.Sprintf("store=%s/viewers=%d", store, viewers), func(b *testing.B) {
				url := ""
				if store == "redis-server" {
					url = interop.RedisServer(b)
				}
				benchViewers(b, url, viewers)
			})
		}
	}
}

func benchViewers(b *testing.B, redisURL string, viewers int) {
	const agents, rate, talk = 200, 100, time.Second
	cfg := testConfigB(b)
	cfg.Queue.Redis = redisURL
	cfg.ACD.Queue.Wrapup = 0
	s := startWithAgents(b, cfg, agents)
	target, base := s.sip.Addr().String(), "http://"+s.httpLn.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var pictures atomic.Int64
	for v := 0; v < viewers; v++ {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/wallboard/events", nil)
		req.Header.Set("Authorization", "Bearer demo-token")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 200 {
			b.Fatalf("viewer %d: %v %v", v, res, err)
		}
		go func() {
			defer res.Body.Close()
			r := bufio.NewReader(res.Body)
			for {
				line, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if strings.HasPrefix(line, "data: ") {
					pictures.Add(1)
				}
			}
		}()
	}
	callers := make([]*testphone.Phone, 10)
	for i := range callers {
		var err error
		if callers[i], err = testphone.New(fmt.Sprintf("+49513612%04d", i), "127.0.0.1"); err != nil {
			b.Fatal(err)
		}
		defer callers[i].Close()
	}
	var mu sync.Mutex
	var dials []time.Duration
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	tick := time.NewTicker(time.Second / rate)
	for i := 0; i < b.N; i++ {
		<-tick.C
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			t0 := time.Now()
			c, err := callers[i%len(callers)].Dial(ctx, target, "+495136115", []string{"8 PCMA/8000"})
			if err != nil {
				failed.Add(1)
				return
			}
			mu.Lock()
			dials = append(dials, time.Since(t0))
			mu.Unlock()
			time.Sleep(talk)
			if err := c.Bye(ctx); err != nil {
				failed.Add(1)
			}
		}(i)
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var waits []int
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		waits = waits[:0]
		rows := readCDRs(b, cfg.CDR.Dir)
		for _, r := range rows {
			if r["disposition"] == "answered" {
				w, _ := strconv.Atoi(r["wait_ms"])
				waits = append(waits, w)
			}
		}
		if len(rows)+int(failed.Load()) >= b.N {
			break
		}
	}
	sort.Ints(waits)
	sort.Slice(dials, func(i, j int) bool { return dials[i] < dials[j] })
	pct := func(n int, p float64) int { return min(n-1, int(float64(n)*p)) }
	if len(waits) > 0 {
		b.ReportMetric(float64(waits[pct(len(waits), 0.5)]), "wait_p50_ms")
		b.ReportMetric(float64(waits[pct(len(waits), 0.99)]), "wait_p99_ms")
	}
	if len(dials) > 0 {
		b.ReportMetric(float64(dials[pct(len(dials), 0.99)].Microseconds())/1000, "answer_p99_ms")
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(100*float64(len(waits))/float64(b.N), "%answered")
	b.ReportMetric(float64(failed.Load()), "failed")
	if viewers > 0 {
		b.ReportMetric(float64(pictures.Load())/float64(viewers)/elapsed.Seconds(), "pictures/s/viewer")
	}
}
