package acd

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/sc115/sc115/cdr"
	"github.com/sc115/sc115/internal/interop"
	"github.com/sc115/sc115/queue"
)

// BenchmarkRedisCommandsPerCall measures what one answered call costs the
// shared Redis (the sizing guide's "Redis cost per call"): commands
// from arrival through the agent's answer, talk, wrap-up and CDR, on a
// real redis-server, less what an idle instance sends meanwhile (lease,
// dispatcher, reconciliation): round trips (a script or a pipeline is
// one) and the commands Redis executes (inside scripts too).
func BenchmarkRedisCommandsPerCall(b *testing.B) {
	url := interop.RedisServer(b)
	st, err := queue.Open(context.Background(), queue.Config{Redis: url})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	opt, _ := redis.ParseURL(url)
	probe := redis.NewClient(opt)
	defer probe.Close()
	processed := func() int64 {
		info, err := probe.Info(context.Background(), "stats").Result()
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range strings.Split(info, "\r\n") {
			if v, ok := strings.CutPrefix(l, "total_commands_processed:"); ok {
				n, _ := strconv.ParseInt(v, 10, 64)
				return n
			}
		}
		return 0
	}
	cfg := multiConfig(4)
	cfg.Queue.Wrapup = time.Millisecond
	if err := cfg.Validate(); err != nil {
		b.Fatal(err)
	}
	d := &fakeDialer{decline: map[string]bool{}, legs: make(chan *fakeAgentLeg, 8)}
	sink := &collect{rows: map[string][]cdr.Record{}}
	e := NewEngine(cfg, Deps{Instance: "cost", Store: st, Dialer: d, CDRs: sink,
		Privacy: cdr.NewPrivacy(cdr.Config{CallerPolicy: "shorten"}), Log: zerolog.New(os.Stderr).Level(zerolog.Disabled)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Prepare(ctx)
	go e.Run(ctx)
	e.AgentRegistered("ag001") // burgdorf
	waitAgentState(&testing.T{}, e, "ag001", AgentAvailable)

	idle0, rt0, t0 := processed(), st.RoundTrips(), time.Now()
	time.Sleep(2 * time.Second)
	idle := time.Since(t0).Seconds()
	idlePerSec := float64(processed()-idle0-1) / idle
	idleTripsPerSec := float64(st.RoundTrips()-rt0) / idle

	b.ResetTimer()
	start, c0, r0 := time.Now(), processed(), st.RoundTrips()
	for i := 0; i < b.N; i++ {
		leg := newFakeLeg(fmt.Sprintf("cost-%d", i), "+495131115")
		done := make(chan struct{})
		go func() { e.HandleCall(leg); close(done) }()
		(<-d.legs).Hangup()
		<-done // after wrap-up, the release and the CDR: the agent is free again
	}
	b.StopTimer()
	if os.Getenv("COST_DEBUG") != "" {
		info, _ := probe.Info(context.Background(), "commandstats").Result()
		b.Log(info)
	}
	took := time.Since(start).Seconds()
	total := float64(processed()-c0) - idlePerSec*took
	trips := float64(st.RoundTrips()-r0) - idleTripsPerSec*took
	b.ReportMetric(trips/float64(b.N), "round-trips/call")
	b.ReportMetric(total/float64(b.N), "redis-cmds/call")
	b.ReportMetric(idleTripsPerSec, "idle-round-trips/s")
}
