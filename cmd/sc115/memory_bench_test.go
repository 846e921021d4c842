package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sc115/sc115/internal/interop"
)

// BenchmarkMemoryPerLiveCall (issue 18): what a live call costs sc115 in
// memory, measured as a user would — the real binary on the example
// config (always open, no wrap-up) with 1,000 generated Burgdorf agents,
// and `sc115 simulate` in a process of its own placing 25 calls a second
// of 30 s talk with RTP both ways (with the greeting about 850 calls live
// at once). Every 2 s it reads sc115's resident memory (/proc/PID/status
// VmRSS) and sc115_calls_active from /metrics; it reports the growth over
// the idle process per live call at the sample with the most live calls.
//
// It runs once per store: store=embedded (the in-process store `make run`
// uses, whose memory is sc115's) and store=redis (a real redis-server, as
// in production; its growth per live call is reported beside sc115's, and
// "KB/live-call-with-store" adds the two).
//
//	go test -run '^$' -bench MemoryPerLiveCall -benchtime 1x ./cmd/sc115/
func BenchmarkMemoryPerLiveCall(b *testing.B) {
	const agents, first = 1000, 3000
	bin := buildBinary(b)
	path := writeConfig(b, func(s string) string {
		var lines strings.Builder
		for u := first; u < first+agents; u++ {
			fmt.Fprintf(&lines, "    - {id: \"%d\", name: \"Agent %d\", sip_user: \"%d\", password: pw%d, skills: {burgdorf: 5}}\n", u, u, u, u)
		}
		s = regexp.MustCompile(`(?m)^(    - \{id: "1006".*\n)`).ReplaceAllString(s, "${1}"+lines.String())
		return strings.Replace(alwaysOpen(s), "wrapup: 30s", "wrapup: 0s", 1)
	})
	for _, store := range []string{"embedded", "redis"} {
		b.Run("store="+store, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				var redis *interop.Redis
				if store == "redis" {
					redis = interop.StartRedis(b)
				}
				measureLiveCallMemory(b, bin, path, first, agents, redis)
				if redis != nil {
					redis.Stop()
				}
			}
		})
	}
}

// measureLiveCallMemory is one run of BenchmarkMemoryPerLiveCall: sc115
// on the embedded store, or on redis when it is not nil.
func measureLiveCallMemory(b *testing.B, bin, path string, first, agents int, redis *interop.Redis) {
	sipAddr := fmt.Sprintf("127.0.0.1:%d", interop.FreeUDPTCPPort(b))
	httpAddr := fmt.Sprintf("127.0.0.1:%d", interop.FreePort(b, "tcp"))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var env []string
	if redis != nil {
		env = append(env, "SC115_REDIS="+redis.URL)
	}
	// Two legs a call: freeRTPRange's 200 ports are too few.
	serve, _ := serveBinary(ctx, b, bin, path, sipAddr, httpAddr, "20000-29999", b.TempDir(), "mem-bench", env...)
	idle := rssKB(b, serve.Process.Pid)
	storeRSS := func() int {
		if redis == nil {
			return 0
		}
		return rssKB(b, redis.Pid())
	}
	storeIdle := storeRSS()
	sim := exec.CommandContext(ctx, bin, "simulate", "--config", "", "--target", sipAddr, "--dial", "05136115",
		"--agent-range", fmt.Sprintf("%d-%d", first, first+agents-1), "--rate", "25", "--calls", "1500",
		"--talk", "30s", "--ring-delay", "0s", "--wrapup", "0s", "--quiet")
	var out bytes.Buffer
	sim.Stdout = &out
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- sim.Wait() }()
	var peakLive, rssAtPeak, storeAtPeak, peakRSS int
	tick := time.NewTicker(2 * time.Second)
sampling:
	for {
		select {
		case err := <-done:
			if err != nil {
				b.Fatalf("simulate: %v\n%s", err, out.String())
			}
			break sampling
		case <-tick.C:
			live, rss, store := activeCalls(httpAddr), rssKB(b, serve.Process.Pid), storeRSS()
			peakRSS = max(peakRSS, rss)
			if live > peakLive {
				peakLive, rssAtPeak, storeAtPeak = live, rss, store
			}
		}
	}
	tick.Stop()
	_ = serve.Process.Signal(os.Interrupt)
	_ = serve.Wait()
	if peakLive == 0 {
		b.Fatalf("no live calls seen\n%s", out.String())
	}
	b.Logf("idle %d MB, %d live calls at %d MB, peak %d MB; store %d → %d MB\n%s", idle>>10, peakLive, rssAtPeak>>10, peakRSS>>10,
		storeIdle>>10, storeAtPeak>>10, out.String())
	perCall := float64(rssAtPeak-idle) / float64(peakLive)
	b.ReportMetric(perCall, "KB/live-call")
	if redis != nil {
		perStore := float64(storeAtPeak-storeIdle) / float64(peakLive)
		b.ReportMetric(perStore, "store-KB/live-call")
		b.ReportMetric(perCall+perStore, "KB/live-call-with-store")
	}
	b.ReportMetric(float64(peakLive), "live-calls")
	b.ReportMetric(float64(peakRSS>>10), "peak-RSS-MB")
}

// rssKB is a process's resident memory in KB.
func rssKB(b *testing.B, pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	m := regexp.MustCompile(`VmRSS:\s+(\d+) kB`).FindSubmatch(data)
	if m == nil {
		b.Fatalf("no VmRSS in /proc/%d/status", pid)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// activeCalls reads sc115_calls_active from an instance's /metrics (0 if
// it cannot).
func activeCalls(httpAddr string) int { return int(scrapeMetric(httpAddr, "sc115_calls_active")) }

// scrapeMetric reads one series (name and labels as /metrics prints them)
// from an instance's /metrics, 0 if it cannot.
func scrapeMetric(httpAddr, series string) float64 {
	res, err := http.Get("http://" + httpAddr + "/metrics")
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return metricValue(string(body), series+" ")
}
